-- A RCPT hook that misbehaves on the sender's request: loops, bombs memory
-- or raises an error. The test loads it as hostile_c.lua (onerror continue)
-- and hostile_t.lua (onerror tempfail); each obeys senders tagged with its
-- letter ("c-loop@...", "t-error@...").
local tag = debug.getinfo(1, "S").short_src:match("hostile_(%a)%.lua$")
Rumble.setHook(function(session, cmd)
  local s = session.sender or ""
  if s:match("^" .. tag .. "%-loop@") then while true do end end
  if s:match("^" .. tag .. "%-bomb@") then
    local t = {}
    while true do t[#t + 1] = string.rep("x", 1000000) .. #t end
  end
  if s:match("^" .. tag .. "%-error@") then error("hostile hook error") end
end, "smtp", "command", "rcpt")
