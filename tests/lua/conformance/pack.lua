-- Conformance: string.pack / string.unpack / string.packsize
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local function fails(name, f, ...)
  N = N + 1
  local ok, err = pcall(f, ...)
  if ok then error(name .. ": expected an error", 2) end
  return err
end
local pack, unpack, packsize = string.pack, string.unpack, string.packsize

-- explicit endianness, fixed sizes
check("<i2", hex(pack("<i2", 0x0102)), "0201")
check(">i2", hex(pack(">i2", 0x0102)), "0102")
check("<i4", hex(pack("<i4", 1)), "01000000")
check(">I4", hex(pack(">I4", 0xDEADBEEF)), "deadbeef")
check("<i8 -1", hex(pack("<i8", -1)), "ffffffffffffffff")
check(">i8 min", hex(pack(">i8", math.mininteger)), "8000000000000000")
check("i1 -1", hex(pack("i1", -1)), "ff")
check(">I8", hex(pack(">I8", 0x0102030405060708)), "0102030405060708")
check("<I8 max", hex(pack("<I8", math.maxinteger)), "ffffffffffffff7f")
check("=i4 native order round trip", unpack("=i4", pack("=i4", -5)), -5)
check("Xi8 with !8", packsize("!8 b Xi8"), 8)
check("Xh pads to 2", hex(pack("!<b Xh b", 1, 2)), "010002")
check("I1 255", hex(pack("I1", 255)), "ff")
check("b", hex(pack("b", -128)), "80")
check("B", hex(pack("B", 200)), "c8")
check(">i3", hex(pack(">i3", -2)), "fffffe")
check("<I3", hex(pack("<I3", 0x010203)), "030201")
check(">I5", hex(pack(">I5", 0x0102030405)), "0102030405")
check(">i16 sign extension", hex(pack(">i16", -1)), string.rep("ff", 16))
check(">I16 zero extension", hex(pack(">I16", 1)), string.rep("00", 15) .. "01")

-- unpack round trips and next position
do
  local v, pos = unpack("<i2", "\2\1")
  check("unpack <i2", v, 0x0102); check("unpack next pos", pos, 3)
  check("unpack >I4", unpack(">I4", "\222\173\190\239"), 0xDEADBEEF)
  check("unpack b", unpack("b", "\255"), -1)
  check("unpack B", unpack("B", "\255"), 255)
  check("unpack h", unpack("<h", "\255\255"), -1)
  check("unpack H", unpack("<H", "\255\255"), 65535)
  check("unpack i3 neg", unpack(">i3", "\255\255\254"), -2)
  check("unpack with init", unpack("B", "\1\2\3", 2), 2)
  check("unpack neg init", unpack("B", "\1\2\3", -1), 3)
  local a, b, c, nxt = unpack("<i2 i2 i2", pack("<i2 i2 i2", 1, -2, 300))
  check("multi a", a, 1); check("multi b", b, -2); check("multi c", c, 300); check("multi next", nxt, 7)
  for _, fmtc in ipairs({"i1", "i2", "i4", "i8", "I1", "I2", "I4", "I8", "h", "H", "l", "j", "J", "T"}) do
    local v = (fmtc:sub(1, 1) == "I" or fmtc == "H" or fmtc == "T") and 100 or -100
    for _, e in ipairs({"<", ">", "="}) do
      local got = unpack(e .. fmtc, pack(e .. fmtc, v))
      check("round trip " .. e .. fmtc, got, v)
    end
  end
  check("j max", unpack("j", pack("j", math.maxinteger)), math.maxinteger)
  check("j min", unpack("j", pack("j", math.mininteger)), math.mininteger)
  check("J -1 wraps", unpack("J", pack("J", -1)), -1)
  check("i16 big round trip", unpack("<i16", pack("<i16", math.mininteger)), math.mininteger)
end

-- floats
check("<d 1.0", hex(pack("<d", 1.0)), "000000000000f03f")
check(">d 1.0", hex(pack(">d", 1.0)), "3ff0000000000000")
check(">f 1.0", hex(pack(">f", 1.0)), "3f800000")
check(">f -2.5", hex(pack(">f", -2.5)), "c0200000")
check("f round trip exact", unpack("<f", pack("<f", 0.5)), 0.5)
check("f rounds", unpack("<f", pack("<f", 0.1)) ~= 0.1, true)
check("d round trip", unpack(">d", pack(">d", 0.1)), 0.1)
check("n round trip", unpack("n", pack("n", math.pi)), math.pi)
check("d inf", unpack("<d", pack("<d", math.huge)), math.huge)
check("d float type", math.type((unpack("<d", pack("<d", 3)))), "float")
do
  local nan = unpack("<d", pack("<d", 0 / 0))
  check("d nan", nan ~= nan, true)
end

-- strings
check("s1", hex(pack("s1", "abc")), "03616263")
check(">s2", hex(pack(">s2", "ab")), "00026162")
check("<s4", hex(pack("<s4", "a")), "0100000061")
check("z", hex(pack("z", "ab")), "616200")
check("c3", hex(pack("c3", "ab")), "616200") -- padded with zeros
check("unpack s1", unpack("s1", "\3abcXX"), "abc")
check("unpack z", unpack("z", "hello\0world"), "hello")
check("unpack z next", select(2, unpack("z", "hello\0world")), 7)
check("unpack c2", unpack("c2", "abcd"), "ab")
check("s binary", unpack("s4", pack("s4", "a\0b\0")), "a\0b\0")
check("s default (size_t)", unpack("s", pack("s", "xyz")), "xyz")
do
  local s1, s2, n = unpack("z s1 B", pack("z s1 B", "hi", "there", 9))
  check("mixed z", s1, "hi"); check("mixed s1", s2, "there"); check("mixed B", n, 9)
end

-- padding and alignment
check("x padding", hex(pack("B x B", 1, 2)), "010002")
check("packsize i4", packsize("i4"), 4)
check("packsize multiple", packsize("<i1 i2 i4 i8"), 15)
check("packsize aligned !", packsize("!8 i1 i8"), 16)
check("packsize aligned !4", packsize("!4 i1 i8"), 12)
check("packsize ! i1 i2", packsize("! i1 i2"), 4)
check("aligned pack", hex(pack("<!4 i1 i4", 1, 2)), "0100000002000000")
check("aligned unpack", select(2, unpack("<!4 i1 i4", pack("<!4 i1 i4", 1, 2))), 2)
check("Xi4 alignment", hex(pack("<!4 B Xi4 B", 1, 2)), "0100000002")
check("packsize Xi4", packsize("!4 B Xi4"), 4)
check("packsize X no effect at boundary", packsize("!4 i4 Xi4"), 4)
check("packsize d", packsize("d"), 8)
check("packsize f", packsize("f"), 4)
check("packsize b h", packsize("b h"), 3)
check("packsize c10", packsize("c10"), 10)
check("packsize j", packsize("j"), 8)
check("packsize spaces ignored", packsize("i4 i4  i4"), 12)

-- error cases
fails("int overflow i1", pack, "i1", 128)
fails("int overflow I1", pack, "I1", 256)
fails("int overflow i2", pack, "i2", -32769)
fails("size out of limits i17", pack, "i17", 1)
fails("size zero i0", pack, "i0", 1)
fails("s1 string too long", pack, "s1", string.rep("x", 256))
fails("z with embedded zero", pack, "z", "a\0b")
fails("c too short arg", pack, "c2", "abc")
fails("packsize variable s", packsize, "s")
fails("packsize variable z", packsize, "z")
fails("unpack data too short", unpack, "i4", "\1\2")
fails("unpack z unfinished", unpack, "z", "abc")
fails("unpack init out of range", unpack, "B", "a", 5)
fails("invalid format option", pack, "y", 1)
fails("non-integer arg", pack, "i4", 1.5)
fails("non-number arg", pack, "i4", "x")
fails("alignment not power of 2", pack, "!3 i4", 1)
fails("X invalid next option", pack, "X", 1)
fails("unpack i16 does not fit", unpack, "<i16", string.rep("\255", 8) .. string.rep("\0", 8))

print(string.format("ok pack %d checks", N))
