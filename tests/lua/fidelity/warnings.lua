-- Fidelity: warn() as lua.c sets it up. Warnings are off until "@on",
-- "@off" turns them off; a message's pieces are joined; Lua's own
-- warnings (an error in a __gc metamethod) go the same way.
-- (The test compares the "Lua warning: " lines with native lua5.4's.)
warn("off: not shown")
warn("x", "@on")  -- the last piece, alone, is a control message: this turns them on
warn("after x@on")
warn("@off")
warn("hidden")
warn("@on")
warn("one piece")
warn("a", "b", "c")
warn("@on", "x")  -- more than one piece: not a control message
warn("@unknown")  -- an unknown control message is ignored
warn(42)          -- numbers are strings
print("bad arguments:", (pcall(warn)), (pcall(warn, "a", {})))
setmetatable({}, {__gc = function() error("in gc", 0) end})
collectgarbage()
warn("@off")
warn("end hidden")
print("ok warnings")
