-- Conformance: string.format
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local fmt = string.format

-- integers
check("%d", fmt("%d", 42), "42")
check("%d neg", fmt("%d", -42), "-42")
check("%i", fmt("%i", 7), "7")
check("%5d", fmt("%5d", 42), "   42")
check("%-5d", fmt("%-5d", 42) .. "|", "42   |")
check("%05d", fmt("%05d", 42), "00042")
check("%+d", fmt("%+d", 42), "+42")
check("%d float integral", fmt("%d", 3.0), "3")
check("%d string numeral", fmt("%d", "10"), "10")
check("%d maxinteger", fmt("%d", math.maxinteger), "9223372036854775807")
check("%d mininteger", fmt("%d", math.mininteger), "-9223372036854775808")

-- hex / octal
check("%x", fmt("%x", 255), "ff")
check("%X", fmt("%X", 255), "FF")
check("%#x", fmt("%#x", 255), "0xff")
check("%08X", fmt("%08X", 0xBEEF), "0000BEEF")
check("%x negative", fmt("%x", -1), "ffffffffffffffff")
check("%o", fmt("%o", 8), "10")
check("%o 511", fmt("%o", 511), "777")

-- floats
check("%5.2f", fmt("%5.2f", 3.14159), " 3.14")
check("%.3f", fmt("%.3f", 2 / 3), "0.667")
check("%f", fmt("%f", 1.5), "1.500000")
check("%.0f", fmt("%.0f", 2.5), "2") -- round-half-even in C printf
check("%.0f 3.5", fmt("%.0f", 3.5), "4")
check("%10.3f", fmt("%10.3f", -1.5), "    -1.500")
check("%f from int", fmt("%.1f", 3), "3.0")
check("%e", fmt("%e", 12345.678), "1.234568e+04")
check("%.2e", fmt("%.2e", 0.000123), "1.23e-04")
check("%E", fmt("%.1E", 1e10), "1.0E+10")
check("%g", fmt("%g", 100000), "100000")
check("%g big", fmt("%g", 1e20), "1e+20")
check("%g small", fmt("%g", 0.0001), "0.0001")
check("%g smaller", fmt("%g", 0.00001), "1e-05")
check("%.3g", fmt("%.3g", 3.14159), "3.14")
check("%g inf", fmt("%g", math.huge), "inf")
check("%g -inf", fmt("%g", -math.huge), "-inf")
check("%.14g", fmt("%.14g", 0.1), "0.1")

-- strings
check("%s", fmt("%s", "hi"), "hi")
check("%-5s", fmt("%-5s|", "ab"), "ab   |")
check("%5s", fmt("%5s|", "ab"), "   ab|")
check("%.3s", fmt("%.3s", "abcdef"), "abc")
check("%5.1s", fmt("%5.1s", "xyz"), "    x")
check("%s number", fmt("%s", 12), "12")
check("%s float", fmt("%s", 1.0), "1.0")
check("%s nil", fmt("%s", nil), "nil")
check("%s bool", fmt("%s", true), "true")
check("%s __tostring", fmt("%s", setmetatable({}, {__tostring = function() return "OBJ" end})), "OBJ")
check("%s with NUL", fmt("%s", "a\0b"), "a\0b")
check("%s multiple", fmt("%s-%s-%d", "a", "b", 3), "a-b-3")

-- %c and %%
check("%c", fmt("%c", 65), "A")
check("%c multiple", fmt("%c%c%c", 76, 117, 97), "Lua")
check("%c zero", fmt("%c", 0), "\0")
check("%%", fmt("100%%"), "100%")
check("%% mixed", fmt("%d%%", 50), "50%")

-- %q
check("%q simple", fmt("%q", "hello"), '"hello"')
check("%q quotes", fmt("%q", 'say "hi"'), '"say \\"hi\\""')
check("%q backslash", fmt("%q", "a\\b"), '"a\\\\b"')
check("%q newline", fmt("%q", "a\nb"), '"a\\\nb"')
check("%q NUL", fmt("%q", "a\0b"), '"a\\0b"')
check("%q NUL before digit", fmt("%q", "\0" .. "1"), '"\\0001"')
check("%q control", fmt("%q", "\1\r\t"), '"\\1\\13\\9"')
check("%q DEL", fmt("%q", "\127"), '"\\127"')
check("%q integer", fmt("%q", 255), "255")
check("%q negative integer", fmt("%q", -7), "-7")
check("%q mininteger", fmt("%q", math.mininteger), "0x8000000000000000")
check("%q inf", fmt("%q", math.huge), "1e9999")
check("%q -inf", fmt("%q", -math.huge), "-1e9999")
check("%q nan", fmt("%q", 0 / 0), "(0/0)")
check("%q true", fmt("%q", true), "true")
check("%q nil", fmt("%q", nil), "nil")
do
  -- floats are written in a form that reads back exactly (hex float)
  for _, v in ipairs({1.5, 0.1, -2.75, 1e300, 3.0}) do
    local q = fmt("%q", v)
    local back = load("return " .. q)()
    check("%q float round trip " .. tostring(v), back, v)
    check("%q float stays float " .. tostring(v), math.type(back), "float")
  end
  -- strings round-trip through load
  local all = {}
  for i = 0, 255 do all[#all + 1] = string.char(i) end
  local bin = table.concat(all)
  check("%q all bytes round trip", load("return " .. fmt("%q", bin))(), bin)
  check("%q integer round trip", load("return " .. fmt("%q", math.mininteger))(), math.mininteger)
end

-- %a: only check that it round-trips through tonumber
for _, v in ipairs({1.0, 0.5, 3.14159, -1e-10, 2 ^ 60}) do
  local a = fmt("%a", v)
  check("%a prefix " .. tostring(v), a:match("^%-?0[xX]") ~= nil, true)
  check("%a round trip " .. tostring(v), tonumber(a), v)
end

-- errors via pcall
local function fails(name, ...)
  local ok, err = pcall(fmt, ...)
  N = N + 1
  if ok then error(name .. ": expected an error", 2) end
  if type(err) ~= "string" then error(name .. ": error is not a string", 2) end
  return err
end
fails("invalid conversion", "%y", 1)
fails("missing argument", "%d")
fails("%d non-integral float", "%d", 1.5)
fails("%d non-number string", "%d", "x")
fails("%q table", "%q", {})
fails("%q with modifiers", "%10q", "x")
fails("too long format", "%100d", 1)
fails("%c no arg", "%c")
fails("%x on float", "%x", 0.5)
fails("trailing %", "abc%")
check("error message mentions conversion", fails("message", "%y", 1):find("%y", 1, true) ~= nil, true)

print(string.format("ok format %d checks", N))
