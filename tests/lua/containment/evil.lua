-- Copied next to rumble.conf by the tests (its port filled in; it has only a
-- listen grant). Each line names a way and a path; the answer is "READ ..."
-- with the first bytes when the read worked, else "fail <error>".
--   open P | raw P (the C io.open behind the wrapper) | lines P
--   dofile P | loadfile P | require MODULE
local port = assert(tonumber(("{{port}}"):match("^%d+$")), "evil.lua is copied with its port filled in")

local function raw_open()
  for i = 1, 50 do
    local name, value = debug.getupvalue(io.open, i)
    if name == nil then break end
    if name == "io_open" then return value end
  end
end

local function one_line(s)
  return (tostring(s):gsub("%c", " "))
end

local function read_with(open, path)
  local f, err = open(path, "rb")
  if not f then return "fail " .. one_line(err) end
  local data = f:read(64) or ""
  f:close()
  return "READ " .. one_line(data)
end

local ways = {
  open = function(p) return read_with(io.open, p) end,
  raw = function(p)
    local raw = raw_open()
    if not raw then return "fail no raw io.open" end
    return read_with(raw, p)
  end,
  lines = function(p)
    local ok, it = pcall(io.lines, p)
    if not ok then return "fail " .. one_line(it) end
    return "READ " .. one_line(it() or "")
  end,
  dofile = function(p)
    local ok, err = pcall(dofile, p)
    return ok and "READ (ran)" or "fail " .. one_line(err)
  end,
  loadfile = function(p)
    local f, err = loadfile(p)
    return f and "READ (compiled)" or "fail " .. one_line(err)
  end,
  require = function(m)
    local ok, v = pcall(require, m)
    return ok and ("READ " .. one_line(v)) or "fail " .. one_line(v)
  end,
}

Rumble.createService(function(session)
  while true do
    local line, _, err = session:receive()
    if err then return end
    local how, path = line:match("^(%a+) (.+)$")
    local way = ways[how]
    session:send(way and way(path) or "fail unknown way", "\r\n")
  end
end, port, 2)
