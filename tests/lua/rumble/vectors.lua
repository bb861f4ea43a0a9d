-- Rumble sandbox: string.SHA256 / string.encode64 / string.decode64 vectors.
-- Runs only inside the Rumble sandbox (these functions are not in stock Lua).
-- Expected values were computed with Python's hashlib and base64 modules.
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

assert(type(string.SHA256) == "function", "string.SHA256 missing")
assert(type(string.encode64) == "function", "string.encode64 missing")
assert(type(string.decode64) == "function", "string.decode64 missing")

local all256 do
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  all256 = table.concat(t)
end
check("all256 length", #all256, 256)

-- SHA-256 ----------------------------------------------------------------
local sha_vectors = {
  {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  {"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
  {"448-bit NIST", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  {"51-byte variant", "abcdbcdecdefdefgefghfghighijhijkijkljklmmnomnopnopq",
    "d17ddb2e3c6e7ee4ea00838f71742fb81c9a8bd785cdf422a4340ea0aa13ddce"},
  {"abc NUL", "abc\0", "dc1114cd074914bd872cc1f9a23ec910ea2203bc79779ab2e17da25782a624fc"},
  {"a x 1,000,000", string.rep("a", 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  {"single NUL", "\0", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
  {"a NUL b", "a\0b", "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138"},
  {"all 256 byte values", all256, "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880"},
  {"all 256 x 4", all256:rep(4), "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9"},
}
for _, v in ipairs(sha_vectors) do
  local h = string.SHA256(v[2])
  check("SHA256 " .. v[1], h, v[3])
  check("SHA256 format " .. v[1], #h == 64 and h:match("^[0-9a-f]+$") ~= nil, true)
end
check("SHA256 method syntax", ("abc"):SHA256(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
check("SHA256 binary-safe (NUL not a terminator)", string.SHA256("a\0b") ~= string.SHA256("a"), true)
check("SHA256 trailing NUL matters", string.SHA256("abc\0") ~= string.SHA256("abc"), true)

-- base64: RFC 4648 section 10 ---------------------------------------------
local rfc = {
  {"", ""},
  {"f", "Zg==\n"},
  {"fo", "Zm8=\n"},
  {"foo", "Zm9v\n"},
  {"foob", "Zm9vYg==\n"},
  {"fooba", "Zm9vYmE=\n"},
  {"foobar", "Zm9vYmFy\n"},
}
for _, v in ipairs(rfc) do
  check("encode64 " .. string.format("%q", v[1]), string.encode64(v[1]), v[2])
  check("decode64 " .. string.format("%q", v[2]), string.decode64(v[2]), v[1])
  check("decode64 without newline " .. v[1], string.decode64((v[2]:gsub("\n", ""))), v[1])
end
check("encode64 method syntax", ("foobar"):encode64(), "Zm9vYmFy\n")
check("decode64 method syntax", ("Zm9vYmFy"):decode64(), "foobar")

-- binary data with NULs
check("encode64 binary", string.encode64("\0\1\2\255\0"), "AAEC/wA=\n")
check("decode64 binary", string.decode64("AAEC/wA="), "\0\1\2\255\0")
check("encode64 single NUL", string.encode64("\0"), "AA==\n")
check("decode64 single NUL", string.decode64("AA=="), "\0")
check("encode64 NUL x3", string.encode64("\0\0\0"), "AAAA\n")

-- wrapping: 72 characters per line, always a final "\n"
local enc256 = table.concat({
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1\n",
  "Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWpr\n",
  "bG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6Ch\n",
  "oqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX\n",
  "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\n",
})
do
  local e = string.encode64(all256)
  check("encode64 all256", e, enc256)
  local lines, lens = 0, {}
  for line in e:gmatch("([^\n]*)\n") do lines = lines + 1; lens[#lens + 1] = #line end
  check("all256 line count", lines, 5)
  check("all256 full lines are 72", lens[1] == 72 and lens[2] == 72 and lens[3] == 72 and lens[4] == 72, true)
  check("all256 last line", lens[5], 56)
  check("all256 ends with newline", e:sub(-1), "\n")
  check("decode64 all256", string.decode64(e), all256)
  -- exactly 72 output characters: one line, no empty extra line
  check("encode64 exactly one line", string.encode64(string.rep("\255", 54)), string.rep("/", 72) .. "\n")
  check("encode64 73rd char wraps", string.encode64(string.rep("\255", 55)), string.rep("/", 72) .. "\n/w==\n")
end

-- whitespace is ignored when decoding
check("decode64 CRLF", string.decode64("Zm9v\r\nYmFy\r\n"), "foobar")
check("decode64 LF inside quantum", string.decode64("Zm\n9v\nYm\nFy"), "foobar")
check("decode64 spaces and tabs", string.decode64(" Zm9v\tYmFy "), "foobar")
check("decode64 CRLF wrapped all256", string.decode64((enc256:gsub("\n", "\r\n"))), all256)
check("decode64 empty", string.decode64(""), "")
check("decode64 whitespace only", string.decode64(" \r\n\t"), "")

-- round trips of pseudo-random binary strings (fixed LCG, no math.random)
local seed = 7
local function lcg_bytes(n)
  local t = {}
  for i = 1, n do
    seed = (seed * 1103515245 + 12345) % 2147483648
    t[i] = string.char((seed >> 16) & 255)
  end
  return table.concat(t)
end
do
  local first = lcg_bytes(100)   -- seed 7, cross-checked with Python
  check("LCG sample SHA256", string.SHA256(first), "5fce4e1f3e2603423e4cdd5373fbd2592e5b8a2a199a91ee6552c1b524431b14")
  check("LCG sample encode64", string.encode64(first),
    "bE50khMlIi4xoc0TvhLtQmlmziT8I9fajSCXYWoGlW7CitQDE2go1FcePF3ubl7ASpERX107\nUT7CU6QWrW7lOJQR0Ciao0z1wDR8WcrwhJXzYRsLUGjVmAT5LrcpmVVXeZm+eA==\n")
  local okall, badlen, badwrap = true, nil, nil
  for len = 0, 300 do
    local s = lcg_bytes(len)
    local e = string.encode64(s)
    if string.decode64(e) ~= s then okall = false; badlen = badlen or len end
    -- every line but the last is 72 chars; the output ends with "\n" unless empty
    if len > 0 then
      if e:sub(-1) ~= "\n" then badwrap = badwrap or len end
      for line in e:gmatch("([^\n]*)\n") do
        if #line > 72 or #line == 0 then badwrap = badwrap or len end
      end
      if #e:gsub("\n", "") ~= 4 * ((len + 2) // 3) then badwrap = badwrap or len end
    elseif e ~= "" then
      badwrap = 0
    end
  end
  check("round trip lengths 0..300", okall, true)
  check("round trip first bad length", badlen, nil)
  check("wrapping of lengths 0..300", badwrap, nil)
  local big = lcg_bytes(100000)
  check("round trip 100 KB", string.decode64(string.encode64(big)), big)
  check("SHA256 stable", string.SHA256(big), string.SHA256(big .. ""))
end

-- invalid input: nil plus a message naming the position (never raises)
local function invalid(name, input, pos)
  N = N + 1
  local ok, res, msg = pcall(string.decode64, input)
  if not ok then error(name .. ": decode64 raised " .. tostring(res), 2) end
  if res ~= nil then error(name .. ": expected nil, got " .. string.format("%q", res), 2) end
  if type(msg) ~= "string" or #msg == 0 then error(name .. ": expected a message, got " .. tostring(msg), 2) end
  if pos then
    N = N + 1
    if not msg:find("%f[%d]" .. pos .. "%f[%D]") then
      error(string.format("%s: message %q does not name position %d", name, msg, pos), 2)
    end
  end
end
invalid("bad character", "Zm9v!", 5)
invalid("bad character first", "*m9v", 1)
invalid("bad character after CRLF counts original position", "Zm9v\r\n!mFy", 7)
invalid("non-ASCII byte", "Zm9v\200mFy", 5)
invalid("NUL byte", "Zm\0v", 3)
invalid("URL-safe alphabet rejected", "Zm9-", 4)
invalid("missing padding", "Zm9")
invalid("length 5", "Zm9vY")
invalid("single char", "Z")
invalid("too much padding", "Z===")
invalid("padding in the middle", "Zg==Zm9v")
invalid("padding then data", "Zm=v")
invalid("lone padding", "====")

print(string.format("ok vectors %d checks", N))
