-- Globals between clients. A client sends its name: the answer is
-- "leaked <previous name>" if the global `user` is set, else "fresh"; then
-- `user` becomes the name.
--   gcstop -> stops the collector and leaves 25 MiB behind in a global
--   big    -> builds an 8 MiB string and answers with its length
local port = assert(tonumber(Rumble.readConfig("leakport")), "LeakPort missing")

Rumble.createService(function(session)
  local line = session:receive()
  if line == "gcstop" then
    collectgarbage("stop")
    hoard = {}
    for i = 1, 25 do hoard[i] = ("h"):rep(1 << 20) end
    session:send("stopped, holding ", #hoard, " MiB\r\n")
    return
  elseif line == "big" then
    local s = ("b"):rep(4 << 20) .. "!"
    session:send("built ", #s, "\r\n")
    return
  end
  if user ~= nil then
    session:send("leaked ", tostring(user), "\r\n")
  else
    session:send("fresh\r\n")
  end
  user = line
end, port, 4)
