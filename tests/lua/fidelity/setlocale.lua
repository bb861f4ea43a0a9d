-- Fidelity: os.setlocale on a system with only the C locale (run native
-- lua5.4 with LC_ALL=C and no other locale installed): queries and "C",
-- "POSIX", "" answer "C"; other names fail and change nothing.
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

check("query", os.setlocale(), "C")
check("query nil", os.setlocale(nil), "C")
check("unknown locale fails", os.setlocale("pt_BR"), nil)
check("unknown with encoding fails", os.setlocale("pt_BR.ISO-8859-1"), nil)
check("still C after a failure", os.setlocale(), "C")
check("number is a name", os.setlocale(1), nil)
for _, cat in ipairs({"all", "collate", "ctype", "monetary", "numeric", "time"}) do
  check("query " .. cat, os.setlocale(nil, cat), "C")
  check("C " .. cat, os.setlocale("C", cat), "C")
  check("POSIX " .. cat, os.setlocale("POSIX", cat), "C")
  check("default " .. cat, os.setlocale("", cat), "C")
  check("unknown " .. cat, os.setlocale("xx_YY", cat), nil)
end
check("formatting still uses '.'", string.format("%.1f", 1.5), "1.5")
check("tonumber still uses '.'", tonumber("2.5"), 2.5)

local ok, err = pcall(os.setlocale, "C", "bogus")
check("bad category fails", ok, false)
check("bad category message", err:find("bad argument #2 to '[%w.]*setlocale' %(invalid option 'bogus'%)") ~= nil, true)
local ok2, err2 = pcall(os.setlocale, {})
check("bad locale type fails", ok2, false)
check("bad locale message", err2:find("bad argument #1 to '[%w.]*setlocale' %(string expected, got table%)") ~= nil, true)
local ok3, err3 = pcall(os.setlocale, nil, {})
check("bad category type fails", ok3, false)
check("bad category type message", err3:find("bad argument #2", 1, true) ~= nil, true)

print(string.format("ok setlocale %d checks", N))
