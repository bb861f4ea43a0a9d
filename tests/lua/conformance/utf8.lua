-- Conformance: utf8 library
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function fails(name, f, ...)
  N = N + 1
  local ok, err = pcall(f, ...)
  if ok then error(name .. ": expected an error", 2) end
  return tostring(err)
end

local s = "Hä€𝄞"   -- 1 + 2 + 3 + 4 bytes
check("byte length", #s, 10)
check("escape equivalence", s, "H\xC3\xA4\xE2\x82\xAC\xF0\x9D\x84\x9E")
check("\\u escapes", "\u{48}\u{E4}\u{20AC}\u{1D11E}", s)

-- utf8.char
check("char ascii", utf8.char(72), "H")
check("char 2-byte", utf8.char(228), "ä")
check("char 3-byte", utf8.char(8364), "€")
check("char 4-byte", utf8.char(0x1D11E), "𝄞")
check("char multiple", utf8.char(72, 228, 8364, 0x1D11E), s)
check("char empty", utf8.char(), "")
check("char 0", utf8.char(0), "\0")
check("char max 0x10FFFF", utf8.char(0x10FFFF), "\xF4\x8F\xBF\xBF")
check("char extended 0x7FFFFFFF", #utf8.char(0x7FFFFFFF), 6)
fails("char negative", utf8.char, -1)

-- charpattern
check("charpattern", utf8.charpattern, "[\0-\x7F\xC2-\xFD][\x80-\xBF]*")
do
  local chars = {}
  for c in s:gmatch(utf8.charpattern) do chars[#chars + 1] = c end
  check("charpattern iteration count", #chars, 4)
  check("charpattern 4th", chars[4], "𝄞")
end

-- utf8.len
check("len", utf8.len(s), 4)
check("len ascii", utf8.len("hello"), 5)
check("len empty", utf8.len(""), 0)
check("len from i", utf8.len(s, 2), 3)
check("len negative i", utf8.len(s, -4), 1)
check("len range", utf8.len(s, 1, 3), 2)
check("len empty range", utf8.len(s, 3, 2), 0)
do
  local n, pos = utf8.len("a\xffb")
  check("len invalid returns nil", n, nil)
  check("len invalid position", pos, 2)
  n, pos = utf8.len("ab\xE2\x82")
  check("len truncated nil", n, nil)
  check("len truncated position", pos, 3)
  n, pos = utf8.len(s, 3)   -- starting at a continuation byte
  check("len at continuation nil", n, nil)
  check("len at continuation pos", pos, 3)
  n, pos = utf8.len("x\xC0\x80")   -- overlong encoding
  check("len overlong nil", n, nil)
  check("len overlong pos", pos, 2)
  check("len surrogate strict", (utf8.len("\xED\xA0\x80")), nil)
  check("len surrogate lax", utf8.len("\xED\xA0\x80", 1, -1, true), 1)
  check("len beyond 10FFFF strict", (utf8.len("\u{7FFFFFFF}")), nil)
  check("len beyond 10FFFF lax", utf8.len("\u{7FFFFFFF}", 1, -1, true), 1)
end

-- utf8.codepoint
do
  local cps = {utf8.codepoint(s, 1, -1)}
  check("codepoint count", #cps, 4)
  check("codepoint 1", cps[1], 72)
  check("codepoint 2", cps[2], 228)
  check("codepoint 3", cps[3], 8364)
  check("codepoint 4", cps[4], 0x1D11E)
  check("codepoint default i", utf8.codepoint(s), 72)
  check("codepoint at byte 2", utf8.codepoint(s, 2), 228)
  check("codepoint at byte 7", utf8.codepoint(s, 7), 0x1D11E)
  check("codepoint empty range", select("#", utf8.codepoint(s, 3, 2)), 0)
  fails("codepoint invalid", utf8.codepoint, "\xff")
  fails("codepoint at continuation", utf8.codepoint, s, 3)
  fails("codepoint out of bounds", utf8.codepoint, s, 20)
  check("codepoint lax surrogate", utf8.codepoint("\xED\xA0\x80", 1, 1, true), 0xD800)
end

-- utf8.codes
do
  local out = {}
  for p, c in utf8.codes(s) do out[#out + 1] = p .. ":" .. c end
  check("codes", table.concat(out, " "), "1:72 2:228 4:8364 7:119070")
  local cnt = 0
  for _ in utf8.codes("") do cnt = cnt + 1 end
  check("codes empty", cnt, 0)
  fails("codes invalid", function() for _ in utf8.codes("a\xffb") do end end)
  local rebuilt = {}
  for _, c in utf8.codes(s) do rebuilt[#rebuilt + 1] = utf8.char(c) end
  check("codes -> char round trip", table.concat(rebuilt), s)
end

-- utf8.offset
check("offset 1", utf8.offset(s, 1), 1)
check("offset 2", utf8.offset(s, 2), 2)
check("offset 3", utf8.offset(s, 3), 4)
check("offset 4", utf8.offset(s, 4), 7)
check("offset n+1", utf8.offset(s, 5), 11)
check("offset beyond", utf8.offset(s, 6), nil)
check("offset -1", utf8.offset(s, -1), 7)
check("offset -4", utf8.offset(s, -4), 1)
check("offset -5", utf8.offset(s, -5), nil)
check("offset 0 finds char start", utf8.offset(s, 0, 3), 2)
check("offset 0 at start", utf8.offset(s, 0, 9), 7)
check("offset relative", utf8.offset(s, 2, 4), 7)
fails("offset from continuation byte", utf8.offset, s, 1, 3)

-- reversing a UTF-8 string by code points
do
  local cps = {}
  for _, c in utf8.codes(s) do table.insert(cps, 1, c) end
  check("reverse by code points", utf8.char(table.unpack(cps)), "𝄞€äH")
end

print(string.format("ok utf8 %d checks", N))
