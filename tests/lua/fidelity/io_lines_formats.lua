-- Fidelity: io.lines and file:lines pass their read formats on, with a
-- file name, with the default input (io.lines(nil, ...)) and on a handle.
-- Usage: io_lines_formats.lua FOLDER (a writable folder)
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

local dir = assert(arg[1], "usage: io_lines_formats.lua FOLDER")
local path = dir .. "/numbers.txt"
local f = assert(io.open(path, "w"))
f:write("1 2.5 0x10\nhello\nworld\n")
f:close()

-- default input with formats: numbers until one fails to read
io.input(path)
local got = {}
for a, b, c in io.lines(nil, "n", "n", "n") do
  got[#got + 1] = a .. "," .. b .. "," .. c
end
check("io.lines(nil, n, n, n) rounds", #got, 1)
check("io.lines(nil, n, n, n) values", got[1], "1,2.5,16")

io.input(path)
local it = io.lines(nil, 3)
check("io.lines(nil, 3) first", it(), "1 2")
check("io.lines(nil, 3) second", it(), ".5 ")

io.input(path)
local lines = {}
for l in io.lines(nil, "L") do lines[#lines + 1] = l end
check("io.lines(nil, L) count", #lines, 3)
check("io.lines(nil, L) keeps newline", lines[2], "hello\n")

io.input(path)
local plain = {}
for l in io.lines(nil) do plain[#plain + 1] = l end
check("io.lines(nil) is io.lines()", table.concat(plain, "|"), "1 2.5 0x10|hello|world")

io.input(path)
local none = {}
for l in io.lines() do none[#none + 1] = l end
check("io.lines() lines", table.concat(none, "|"), "1 2.5 0x10|hello|world")

-- a file name with formats
local pairs_read = {}
for n, rest in io.lines(path, "n", "l") do pairs_read[#pairs_read + 1] = n .. "[" .. rest .. "]" end
check("io.lines(path, n, l) stops at the first failure", #pairs_read, 1)
check("io.lines(path, n, l) values", pairs_read[1], "1[ 2.5 0x10]")

local all = {}
for chunk in io.lines(path, 4) do all[#all + 1] = chunk end
check("io.lines(path, 4) chunks", all[1] .. "/" .. all[2], "1 2./5 0x")
check("io.lines(path, 4) joined", table.concat(all), "1 2.5 0x10\nhello\nworld\n")

local whole = {}
for a in io.lines(path, "a") do
  whole[#whole + 1] = a
  if #whole == 2 then break end
end
check("io.lines(path, a) first is the file", whole[1], "1 2.5 0x10\nhello\nworld\n")
check("io.lines(path, a) then empty", whole[2], "")

-- file:lines with formats
local h = assert(io.open(path))
local nums = {}
for n in h:lines("n") do nums[#nums + 1] = n end
check("file:lines(n) count", #nums, 3)
check("file:lines(n) third", nums[3], 16)
check("file:lines(n) leaves the handle open", io.type(h), "file")
check("file:lines(n) stopped at hello", h:read("l"), "hello")
h:close()

local h2 = assert(io.open(path))
local got2 = {}
for a, b in h2:lines(1, "l") do got2[#got2 + 1] = a .. ":" .. b end
h2:close()
check("file:lines(1, l)", table.concat(got2, "|"), "1: 2.5 0x10|h:ello|w:orld")

print(string.format("ok io_lines_formats %d checks", N))
