-- The hook limits, end to end (test_lua_hooks_matrix.py; loaded with
-- ScriptLimit onerror tempfail, so a hook that breaks one shows as 451 4.3.0).
--   SMTP "HELP send N": session:send of N bytes in one call (214- lines),
--     then 214; "HELP psend N" the same under pcall, answering with the error.
--   SMTP "HELP set KEY N" / "HELP pset KEY N": session:set(KEY, N bytes, or
--     nil for N "nil"), bare or under pcall; "HELP get KEY" its length.
--   message hook, Subject "limit headers N" / "limit rawheaders N": N
--     msg:addHeader calls, under pcall (the answer counts them) or bare.
--   deliver hook, Subject "limit flags N": N msg:addFlag calls under pcall,
--     the result printed to the log.

-- Exactly n bytes (n >= 6) of "214-xxx...\r\n" lines.
local function flood(n)
  local parts, left = {}, n
  while left > 0 do
    local size = left > 1006 and 1000 or left
    parts[#parts + 1] = "214-" .. string.rep("x", size - 6) .. "\r\n"
    left = left - size
  end
  return table.concat(parts)
end

local function value(n)
  if n == "nil" then return nil end
  return string.rep("v", tonumber(n))
end

Rumble.setHook(function(session, cmd)
  local what, a, b = cmd.args:match("^(%S+)%s*(%S*)%s*(%S*)")
  if what == "send" then
    session:send(flood(tonumber(a)))
    return 214, "end of flood"
  elseif what == "psend" then
    local ok, err = pcall(session.send, session, flood(tonumber(a)))
    return 214, "psend " .. tostring(ok) .. " " .. tostring(err)
  elseif what == "set" then
    session:set(a, value(b))
    return 214, "set " .. a .. " done"
  elseif what == "pset" then
    local ok, err = pcall(session.set, session, a, value(b))
    return 214, "pset " .. a .. " " .. tostring(ok) .. " " .. tostring(err)
  elseif what == "get" then
    local v = session:get(a)
    return 214, "get " .. a .. " " .. (v and #v or "nil")
  end
end, "smtp", "command", "help")

Rumble.setHook(function(session, msg)
  local subject = msg:header("subject") or ""
  local how, n = subject:match("^limit (%a+) (%d+)$")
  if how == "rawheaders" then
    for i = 1, tonumber(n) do msg:addHeader("X-Limit-" .. i, "yes") end
    return 250, "2.0.0 added " .. n
  elseif how == "headers" then
    local added, err = 0, nil
    for i = 1, tonumber(n) do
      local ok, e = pcall(msg.addHeader, msg, "X-Limit-" .. i, "yes")
      if ok then added = added + 1 elseif not err then err = e end
    end
    return 250, "2.0.0 added " .. added .. " first error: " .. tostring(err)
  end
end, "smtp", "message")

Rumble.setHook(function(session, msg)
  local subject = msg:header("subject") or ""
  local n = subject:match("^limit flags (%d+)$")
  if not n then return end
  local added, err = 0, nil
  for i = 1, tonumber(n) do
    local ok, e = pcall(msg.addFlag, msg, "$K" .. i)
    if ok then added = added + 1 elseif not err then err = e end
  end
  print("flags for " .. msg.recipient .. ": added " .. added .. " first error: " .. tostring(err))
end, "mailman", "deliver")
