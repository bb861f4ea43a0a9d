-- The hook matrix (test_lua_hooks_matrix.py): hooks at every point of SMTP,
-- POP3 and IMAP that answer with whatever the client asks for, so that one
-- server serves every case.
--
-- The client picks an answer with a line no protocol knows,
-- "XMATRIX mode <point> <mode>", which the `unknown` hook keeps as a session
-- value; the hook at <point> takes it (once) and answers as <mode> says.
-- Points: cmdverb/afterverb (a named verb, VERBS below), cmdstar/afterstar
-- ("*", whatever command comes next), close. Accept hooks read the mode from
-- the client's address: 127.0.1.N is MODES[N].
-- "XMATRIX state" answers with what the hooks took (the session value "log")
-- and what the session holds. A connection given "XMATRIX mode closeid <id>"
-- has its close hook write to kv, and "XMATRIX closed <id>" (from a later
-- connection) answers with what it wrote.
-- Modes error_c/error_t are matrix_err.lua's (loaded as matrix_c, matrix_t):
-- the hooks here pass them by.

local MODES = {"nil", "true", "okay", "one", "false", "failure", "two", "ignore", "three",
               "num5", "num4", "num2", "text5", "text4", "text2"}

local VERBS = {
  smtp = {command = "rcpt", after = "rcpt"},
  pop3 = {command = "dele", after = "pass"},
  imap4 = {command = "select", after = "login"},
}

local function log(session, entry)
  session:set("log", (session:get("log") or "") .. entry .. ";")
end

-- The line a script answering itself sends, in the protocol's words.
local function own_answer(session, cmd, point)
  local text = "matrix ignored " .. point
  if session.service == "smtp" then
    return (point == "accept" and "220 hooks.test " or "250 2.0.0 ") .. text .. "\r\n"
  elseif session.service == "pop3" then
    return "+OK " .. text .. "\r\n"
  end
  return (cmd and cmd.tag or "*") .. " OK " .. text .. "\r\n"
end

local function answer(session, cmd, point, mode)
  if mode == "nil" then return end
  if mode == "true" then return true end
  if mode == "okay" then return "okay" end
  if mode == "one" then return 1 end
  if mode == "false" then return false end
  if mode == "failure" then return "failure" end
  if mode == "two" then return 2 end
  if mode == "ignore" then
    session:send(own_answer(session, cmd, point))
    return "ignore"
  end
  if mode == "three" then
    session:send(own_answer(session, cmd, point))
    return 3
  end
  if mode == "num5" then return 550 end
  if mode == "num4" then return 451 end
  if mode == "num2" then return 250 end
  if mode == "text5" then return 554, "matrix says no at " .. point end
  if mode == "text4" then return 451, "matrix says later at " .. point end
  if mode == "text2" then return 250, "matrix says fine at " .. point end
  error("matrix: unknown mode " .. tostring(mode))
end

-- The mode the client set for `point`, taken once (nil: none, or another
-- script's).
local function take(session, cmd, point)
  local mode = session:get(point)
  if mode == nil or mode:match("^error_") then return nil end
  session:set(point, nil)
  log(session, point .. ":" .. (cmd and cmd.verb or "-") .. ":" .. mode)
  return mode
end

local function control(session, cmd)
  -- cmd.args is the text after "XMATRIX" (or the whole line: strip it)
  local args = cmd.args:gsub("^[Xx][Mm][Aa][Tt][Rr][Ii][Xx]%s*", "")
  local what, a, b = args:match("^(%S+)%s*(%S*)%s*(%S*)")
  if what == "mode" then
    session:set(a, b)
    return 250, "mode " .. a .. "=" .. b
  elseif what == "state" then
    return 250, string.format("log=[%s] user=%s sender=%s rcpts=[%s]", session:get("log") or "",
      tostring(session.user), tostring(session.sender), table.concat(session.recipients, ","))
  elseif what == "closed" then
    return 250, "closed " .. (kv.get("closed/" .. a) or "none")
  end
end

for service, verbs in pairs(VERBS) do
  -- first: XMATRIX lines end the chain before the "*" hooks see them
  Rumble.setHook(control, service, "command", "unknown")

  Rumble.setHook(function(session)
    local n = tonumber(session.address:match("^127%.0%.1%.(%d+)$") or "")
    local mode = n and MODES[n]
    if not mode then return end
    log(session, "accept:-:" .. mode)
    return answer(session, nil, "accept", mode)
  end, service, "accept")

  Rumble.setHook(function(session, cmd)
    if cmd.verb == "unknown" then return end
    local mode = take(session, cmd, "cmdstar")
    if mode then return answer(session, cmd, "cmdstar", mode) end
  end, service, "command", "*")

  Rumble.setHook(function(session, cmd)
    local mode = take(session, cmd, "cmdverb")
    if mode then return answer(session, cmd, "cmdverb", mode) end
  end, service, "command", verbs.command)

  -- After-hooks here turn a command that succeeded into the mode's answer
  -- (a failed one, e.g. a POP3 maildrop still locked, keeps the mode).
  Rumble.setHook(function(session, cmd)
    if cmd.verb == "unknown" or cmd.code >= 400 then return end
    local mode = take(session, cmd, "afterstar")
    if mode then return answer(session, cmd, "afterstar", mode) end
  end, service, "after", "*")

  Rumble.setHook(function(session, cmd)
    if cmd.code >= 400 then return end
    local mode = take(session, cmd, "afterverb")
    if mode then return answer(session, cmd, "afterverb", mode) end
  end, service, "after", verbs.after)

  -- Close: what the connection's hooks took goes to kv for a later
  -- connection to read; then the answer the client asked for (ignored).
  Rumble.setHook(function(session)
    local id = session:get("closeid")
    if not id then return end
    local mode = take(session, nil, "close")
    kv.set("closed/" .. id, string.format("%s log=[%s] user=%s", session.service, session:get("log") or "",
      tostring(session.user)), 600)
    if mode then return answer(session, nil, "close", mode) end
  end, service, "close")
end
