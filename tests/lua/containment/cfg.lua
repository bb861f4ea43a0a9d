-- Copied into the test's folder under the script name the test wants (its
-- port filled in). Each line is a config key; the answer is "ok <value>" or
-- "err <the error>".
local port = assert(tonumber(("{{port}}"):match("^%d+$")), "cfg.lua is copied with its port filled in")

Rumble.createService(function(session)
  while true do
    local key, _, err = session:receive()
    if err then return end
    local ok, value = pcall(Rumble.readConfig, key)
    local answer = ok and ("ok " .. tostring(value)) or ("err " .. tostring(value))
    session:send((answer:gsub("%c", " ")), "\r\n")
  end
end, port, 2)
