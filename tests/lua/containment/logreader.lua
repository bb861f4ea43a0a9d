-- A well-behaved script with log.read: answers questions about
-- Rumble.getLog(), one per line.
--   stats        -> "<lines> <longest line's length>"
--   mark X       -> prints "marker-X", then "found"/"missing" for it in getLog
--   find TEXT    -> "found <first line containing TEXT, hex>" or "missing"
--   dump         -> "<n>" then n lines, each a ring line in hex
local port = assert(tonumber(Rumble.readConfig("logreaderport")), "LogReaderPort missing")

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function find(text)
  for _, line in ipairs(Rumble.getLog()) do
    if line:find(text, 1, true) then return line end
  end
end

Rumble.createService(function(session)
  while true do
    local line, _, err = session:receive()
    if err then return end
    local cmd, rest = line:match("^(%a+) ?(.*)$")
    if cmd == "stats" then
      local lines, longest = Rumble.getLog(), 0
      for _, l in ipairs(lines) do
        if #l > longest then longest = #l end
      end
      session:send(#lines, " ", longest, "\r\n")
    elseif cmd == "mark" then
      print("marker-" .. rest)
      session:send(find("marker-" .. rest) and "found" or "missing", "\r\n")
    elseif cmd == "find" then
      local hit = find(rest)
      session:send(hit and ("found " .. hex(hit)) or "missing", "\r\n")
    elseif cmd == "dump" then
      local lines = Rumble.getLog()
      local out = { tostring(#lines) }
      for i, l in ipairs(lines) do out[i + 1] = hex(l) end
      session:send(table.concat(out, "\r\n"), "\r\n")
    else
      session:send("unknown\r\n")
    end
  end
end, port, 4)
