-- Fidelity: a handle that reached end of file sees data appended later
-- (Lua's reads start with clearerr), through file:read, file:lines and
-- io.read on the default input.
-- Usage: read_after_eof.lua FOLDER (a writable folder)
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

local dir = assert(arg[1], "usage: read_after_eof.lua FOLDER")
local path = dir .. "/growing.txt"

local function append(text)
  local a = assert(io.open(path, "a"))
  a:write(text)
  a:close()
end

local w = assert(io.open(path, "w"))
w:write("first\n")
w:close()

local r = assert(io.open(path, "r"))
check("first line", r:read("l"), "first")
check("at end of file", r:read("l"), nil)
check("still at end", r:read("a"), "")
append("second\n")
check("appended line seen", r:read("l"), "second")
check("end again", r:read("l"), nil)
append("third\nfourth")
check("read a after append", r:read("a"), "third\nfourth")
check("read a at end", r:read("a"), "")
append("\n5 6\n")
check("number after append", r:read("n"), 5)
check("and the next", r:read("n"), 6)
append("seventh\n")
local rest = {}
for line in r:lines() do rest[#rest + 1] = line end
check("lines after append", table.concat(rest, "|"), "|seventh")
append("eighth\n")
local more = {}
for line in r:lines() do more[#more + 1] = line end
check("lines again after another append", table.concat(more, "|"), "eighth")
check("position is the size", r:seek("cur"), #"first\nsecond\nthird\nfourth\n5 6\nseventh\neighth\n")
r:close()

-- the default input
io.input(path)
check("io.read a", io.read("a"), "first\nsecond\nthird\nfourth\n5 6\nseventh\neighth\n")
check("io.read at end", io.read("l"), nil)
append("ninth\n")
check("io.read after append", io.read("l"), "ninth")
io.input():close()

-- a fresh handle is not affected, and reads at end of file stay cheap and nil
local r2 = assert(io.open(path))
r2:seek("end")
for _ = 1, 3 do check("repeated read at end", r2:read(1), nil) end
append("x")
check("one byte after repeated ends", r2:read(1), "x")
r2:close()

print(string.format("ok read_after_eof %d checks", N))
