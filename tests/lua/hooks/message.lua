-- A message hook: reads decoded headers and the body, adds a header, and
-- cannot inject one.
Rumble.setHook(function(session, msg)
  local subject = msg:header("subject")
  if subject == "café reject" then return 554, "5.7.1 subject refused" end
  msg:addHeader("X-Hooked", "yes size=" .. msg.size .. " rcpts=" .. #session.recipients)
  local ok = pcall(msg.addHeader, msg, "X-Bad", "a\r\nBcc: evil@example.net")
  if not ok then msg:addHeader("X-Injection", "refused") end
  if subject == "count headers" then
    local names = {}
    for _, h in ipairs(msg:headers()) do names[#names + 1] = h.name end
    return 250, "2.0.0 headers " .. table.concat(names, ",")
  end
  if subject == "body" then return 250, "2.0.0 body " .. #msg:body(10) .. " " .. #msg:body() end
end, "smtp", "message")
