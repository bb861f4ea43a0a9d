-- Conformance: string library (patterns, basic functions, binary strings)
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function checkt(name, got, expected)
  -- compare two sequences
  N = N + 1
  local ok = #got == #expected
  if ok then
    for i = 1, #expected do if got[i] ~= expected[i] then ok = false break end end
  end
  if not ok then
    local g, e = {}, {}
    for i = 1, #got do g[i] = tostring(got[i]) end
    for i = 1, #expected do e[i] = tostring(expected[i]) end
    error(string.format("%s: expected {%s}, got {%s}", name, table.concat(e, ","), table.concat(g, ",")), 2)
  end
end

-- find
check("find plain", select(1, string.find("hello world", "wor")), 7)
check("find end", select(2, string.find("hello world", "wor")), 9)
check("find none", string.find("hello", "xyz"), nil)
check("find init", select(1, string.find("abcabc", "b", 3)), 5)
check("find neg init", select(1, string.find("abcabc", "a", -3)), 4)
check("find plain special", select(1, string.find("a.b*c", ".b*", 1, true)), 2)
check("find pattern special", select(1, string.find("xxa.b*c", "%.b%*")), 4)
check("find empty", select(1, string.find("abc", "")), 1)
check("find empty past end", select(1, string.find("abc", "", 4)), 4)
check("find empty beyond", string.find("abc", "", 5), nil)
checkt("find captures", {string.find("key = value", "(%w+)%s*=%s*(%w+)")}, {1, 11, "key", "value"})

-- character classes
check("%a", string.match("123abc456", "%a+"), "abc")
check("%d", string.match("abc123def", "%d+"), "123")
check("%s", string.match("a \t\nb", "%s+"), " \t\n")
check("%w", string.match("!!ab12__", "%w+"), "ab12")
check("%p", string.match("abc!?.def", "%p+"), "!?.")
check("%x", string.match("zz0xDEADbeefq", "%x+", 3), "0")
check("%x2", string.match("zzDEADbeefq", "%x+"), "DEADbeef")
check("%u %l", string.match("abcDEFghi", "%u+"), "DEF")
check("%l", string.match("ABCdefGHI", "%l+"), "def")
check("%c", string.match("ab\1\2cd", "%c+"), "\1\2")
check("complement %A", string.match("abc123", "%A+"), "123")
check("set", string.match("hello-world_x", "[%w_]+", 7), "world_x")
check("neg set", string.match("abc;def", "[^;]+$"), "def")
check("range", string.match("xyz09ab", "[0-9a-b]+"), "09ab")
check("%b()", string.match("f(a(b)c) d", "%b()"), "(a(b)c)")
check("%b{}", string.gsub("x{1{2}3}y{4}", "%b{}", "#"), "x#y#")
check("%f word", string.gsub("THE (quick) fox", "%f[%a]%a+", "W"), "W (W) W")
check("%f[%w] count", select(2, string.gsub("one two  three", "%f[%w]%w+", "")), 3)
check("%f end of subject", select(1, string.find("hello", "o%f[%W]")), 5)
check("%f not at start", string.find("hello", "%f[%W]l"), nil)

-- anchors
check("anchor ^", string.match("abc", "^b"), nil)
check("anchor ^ ok", string.match("abc", "^ab"), "ab")
check("anchor $", string.match("abc", "bc$"), "bc")
check("anchor $ no", string.match("abcx", "bc$"), nil)
check("literal ^ in middle", string.match("a^b", "a^b"), "a^b")

-- quantifiers
check("* greedy", string.match("<a><b>", "<.*>"), "<a><b>")
check("- lazy", string.match("<a><b>", "<.->"), "<a>")
check("+", string.match("aaab", "a+"), "aaa")
check("?", string.match("color", "colou?r"), "color")
check("? 2", string.match("colour", "colou?r"), "colour")

-- captures
checkt("match captures", {string.match("2024-01-15", "(%d+)-(%d+)-(%d+)")}, {"2024", "01", "15"})
checkt("position captures", {string.match("hello", "()ll()")}, {3, 5})
checkt("empty capture pos", {string.match("abc", "()")}, {1})
checkt("nested captures", {string.match("abcd", "((a)(b))")}, {"ab", "a", "b"})
check("backref %1", string.match('say "hi" now', '(["\'])(.-)%1', 1), '"')
check("backref content", select(2, string.match("x='quoted' y", "(['\"])(.-)%1")), "quoted")
check("match init", string.match("abc123", "%d", 5), "2")
local ok = pcall(string.match, "abc", "(")
check("unfinished capture errors", ok, false)
ok = pcall(string.match, "abc", "%")
check("malformed pattern errors", ok, false)
ok = pcall(string.match, "abc", "[a")
check("missing ] errors", ok, false)

-- gmatch
do
  local words = {}
  for w in string.gmatch("one two  three", "%a+") do words[#words + 1] = w end
  checkt("gmatch words", words, {"one", "two", "three"})
  local keys, vals = {}, {}
  for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do keys[#keys + 1] = k; vals[#vals + 1] = v end
  checkt("gmatch pairs keys", keys, {"a", "b", "c"})
  checkt("gmatch pairs vals", vals, {"1", "2", "3"})
  local pos = {}
  for p in string.gmatch("abab", "()b") do pos[#pos + 1] = p end
  checkt("gmatch positions", pos, {2, 4})
  local empties = 0
  for _ in string.gmatch("abc", "x*") do empties = empties + 1 end
  check("gmatch empty matches", empties, 4)
  local fromInit = {}
  for w in string.gmatch("one two three", "%a+", 5) do fromInit[#fromInit + 1] = w end
  checkt("gmatch init (5.4)", fromInit, {"two", "three"})
end

-- gsub
do
  local r, n = string.gsub("hello world", "o", "0")
  check("gsub string", r, "hell0 w0rld"); check("gsub count", n, 2)
  r, n = string.gsub("hello world", "o", "0", 1)
  check("gsub max n", r, "hell0 world"); check("gsub max n count", n, 1)
  check("gsub %0", (string.gsub("abc", "%w", "<%0>")), "<a><b><c>")
  check("gsub %1 swap", (string.gsub("hello world", "(%w+) (%w+)", "%2 %1")), "world hello")
  check("gsub %%", (string.gsub("50", "%d+", "%0%%")), "50%")
  check("gsub table", (string.gsub("$name is $age", "%$(%w+)", {name = "Bob", age = 42})), "Bob is 42")
  check("gsub table missing keeps", (string.gsub("$a $b", "%$(%w+)", {a = "x"})), "x $b")
  check("gsub table false keeps", (string.gsub("$a", "%$(%w+)", {a = false})), "$a")
  check("gsub function", (string.gsub("1 2 3", "%d", function(d) return tostring(d * 2) end)), "2 4 6")
  check("gsub function nil keeps", (string.gsub("abc", "%w", function(c) if c == "b" then return "B" end end)), "aBc")
  check("gsub function positions", (string.gsub("abc", "()", function(p) return p end)), "1a2b3c4")
  check("gsub anchored", (string.gsub("aaa", "^a", "b")), "baa")
  check("gsub empty pattern", (string.gsub("abc", "", "-")), "-a-b-c-")
  check("gsub n=0", (string.gsub("abc", "%w", "x", 0)), "abc")
  local bad = pcall(string.gsub, "abc", "(a)", "%2")
  check("gsub invalid capture idx errors", bad, false)
  local bad2 = pcall(string.gsub, "abc", "a", function() return {} end)
  check("gsub invalid replacement value errors", bad2, false)
  check("gsub number repl", (string.gsub("abc", "b", 5)), "a5c")
end

-- sub / rep / reverse / upper / lower / len / byte / char
check("sub", string.sub("hello", 2, 4), "ell")
check("sub neg", string.sub("hello", -3), "llo")
check("sub neg both", string.sub("hello", -3, -2), "ll")
check("sub out of range", string.sub("hello", 10), "")
check("sub zero start", string.sub("hello", 0, 2), "he")
check("sub reversed", string.sub("hello", 4, 2), "")
check("sub huge end", string.sub("hello", 2, 100), "ello")
check("rep", string.rep("ab", 3), "ababab")
check("rep sep", string.rep("ab", 3, ","), "ab,ab,ab")
check("rep zero", string.rep("ab", 0), "")
check("rep neg", string.rep("ab", -1), "")
check("rep one sep", string.rep("x", 1, ","), "x")
check("reverse", string.reverse("abc"), "cba")
check("reverse empty", string.reverse(""), "")
check("upper", string.upper("aBc1!"), "ABC1!")
check("lower", string.lower("AbC1!"), "abc1!")
check("len", string.len("hello"), 5)
check("# op", #"hello", 5)
check("byte", string.byte("A"), 65)
checkt("byte range", {string.byte("abc", 1, 3)}, {97, 98, 99})
checkt("byte neg", {string.byte("abc", -1)}, {99})
checkt("byte empty range", {string.byte("abc", 5)}, {})
check("char", string.char(72, 105), "Hi")
check("char empty", string.char(), "")
check("char err", pcall(string.char, 256), false)

-- method syntax on literals and values
check("method rep", ("x"):rep(3), "xxx")
check("method upper", ("abc"):upper(), "ABC")
check("method len", ("abcd"):len(), 4)
local s = "Hello"
check("method on var", s:lower(), "hello")
check("method chained", s:sub(1, 3):upper():rep(2, "-"), "HEL-HEL")
check("string metatable __index", getmetatable("").__index, string)

-- binary strings with NUL
do
  local b = "ab\0cd\0"
  check("bin len", #b, 6)
  check("bin byte", b:byte(3), 0)
  check("bin sub", b:sub(3, 4), "\0c")
  check("bin find plain", select(1, b:find("\0c", 1, true)), 3)
  check("bin find pattern set", select(1, b:find("[\0]c")), 3)
  check("bin find nul via pattern", select(1, b:find("\0", 1)), 3)
  check("bin find 2nd nul", select(1, b:find("\0", 4, true)), 6)
  local c = b .. "\0" .. b
  check("bin concat len", #c, 13)
  check("bin concat byte", c:byte(7), 0)
  check("bin equality", "a\0b" == "a\0b", true)
  check("bin inequality", "a\0b" == "a\0c", false)
  check("bin lt", "a\0b" < "a\0c", true)
  check("bin lt prefix", "a" < "a\0", true)
  check("bin lt nul vs char", "a\0" < "a\1", true)
  check("bin rep", #string.rep("\0", 10), 10)
  check("bin upper keeps nul", ("a\0b"):upper(), "A\0B")
  check("bin reverse", ("a\0b"):reverse(), "b\0a")
  check("bin gsub", (("a\0b\0"):gsub("\0", "0")), "a0b0")
  check("bin match %c", ("x\0y"):match("%c"), "\0")
  check("bin char 0", string.char(0, 65, 0), "\0A\0")
  check("bin \\x escape", "\x00\x41", "\0A")
  check("bin \\ddd escape", "\065\066", "AB")
  check("bin \\u escape", "\u{48}\u{49}", "HI")
  check("bin \\z", "a\z
          b", "ab")
end

-- comparison and coercion
check("compare lexical", "abc" < "abd", true)
check("compare prefix", "ab" < "abc", true)
check("concat number", "x" .. 1 .. 2, "x12")
check("concat float", "x" .. 1.5, "x1.5")
check("long string", [[a
b]], "a\nb")
check("long string level", [==[a]]b]==], "a]]b")

print(string.format("ok strings %d checks", N))
