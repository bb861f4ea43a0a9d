-- POP3 and IMAP hooks: a login guard, a suspended user refused after a
-- good password (the login is undone), per-user and per-mailbox refusals,
-- lines that do not parse, an accept refusal, and the tag of IMAP commands.
local function guard(session, cmd)
  if cmd.code >= 400 then
    local fails = (session:get("fails") or 0) + 1
    session:set("fails", fails)
    if fails >= 2 then return false end
  elseif session.user == "carol@hooks.test" then
    return 550, "carol is suspended"
  end
end
Rumble.setHook(guard, "pop3", "after", "pass")
Rumble.setHook(guard, "imap4", "after", "login")

Rumble.setHook(function(session, cmd)
  if session.user == "bob@hooks.test" then return 550, "no RETR for " .. session.user .. " " .. cmd.args end
end, "pop3", "command", "retr")

Rumble.setHook(function(session, cmd)
  return 500, "hook saw " .. cmd.verb .. " " .. cmd.args
end, "pop3", "command", "unknown")

Rumble.setHook(function(session, cmd)
  if cmd.mailbox == "Secret" then return 550, "no secrets for " .. session.user end
  if cmd.mailbox == "Later" then return 451 end
end, "imap4", "command", "select")

Rumble.setHook(function(session, cmd)
  session:send(cmd.tag .. " OK answered by a script for " .. cmd.args .. "\r\n")
  return "ignore"
end, "imap4", "command", "unknown")

Rumble.setHook(function(session, cmd)
  if cmd.args:match("^FETCH") then session:set("uids", (session:get("uids") or 0) + 1) end
end, "imap4", "command", "uid")

Rumble.setHook(function(session, cmd)
  return 200, "uid fetches " .. (session:get("uids") or 0)
end, "imap4", "command", "noop")

local function refuse(session)
  if session.address == "127.0.0.4" then return 554, "go away" end
end
Rumble.setHook(refuse, "imap4", "accept")
Rumble.setHook(function(session)
  if session.address == "127.0.0.4" then return "failure" end
end, "pop3", "accept")
