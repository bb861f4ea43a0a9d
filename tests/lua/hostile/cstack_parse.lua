-- Hostile: a source text with 300000 levels of nesting. The parser is recursive
-- in C, so Lua must refuse it ("C stack overflow" / "too many ... levels")
-- instead of overflowing the real (WebAssembly) stack.
print("start")
local depth = 300000
local parens = string.rep("(", depth) .. "1" .. string.rep(")", depth)
local f, err = load("return " .. parens)
if f then error("load of deeply nested parentheses did not fail") end
print("parens: " .. tostring(err))
local braces = string.rep("{", depth) .. string.rep("}", depth)
local g, err2 = load("return " .. braces)
if g then error("load of deeply nested table constructors did not fail") end
print("braces: " .. tostring(err2))
