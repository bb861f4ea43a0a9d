-- The hook matrix's failing hooks: loaded as matrix_c.lua (ScriptLimit
-- onerror continue) and matrix_t.lua (onerror tempfail), after matrix.lua.
-- Each raises a Lua error at the point the client picked with
-- "XMATRIX mode <point> error_<letter>" (matrix.lua passes these modes by),
-- at accept for the client address 127.0.2.1 (c) or 127.0.2.2 (t), and at
-- close when "XMATRIX mode closeerr error_<letter>" was set.

local tag = debug.getinfo(1, "S").short_src:match("matrix_(%a)%.lua$")
local MODE = "error_" .. tag
local ADDRESS = tag == "c" and "127.0.2.1" or "127.0.2.2"

local VERBS = {
  smtp = {command = "rcpt", after = "rcpt"},
  pop3 = {command = "dele", after = "pass"},
  imap4 = {command = "select", after = "login"},
}

local function fail(session, point, verb)
  session:set("log", (session:get("log") or "") .. point .. ":" .. verb .. ":" .. MODE .. ";")
  error("matrix hook error at " .. point)
end

local function at(point)
  return function(session, cmd)
    if cmd.verb == "unknown" then return end
    if point:match("^after") and cmd.code >= 400 then return end
    if session:get(point) == MODE then
      session:set(point, nil)
      fail(session, point, cmd.verb)
    end
  end
end

for service, verbs in pairs(VERBS) do
  Rumble.setHook(function(session)
    if session.address == ADDRESS then fail(session, "accept", "-") end
  end, service, "accept")
  Rumble.setHook(at("cmdstar"), service, "command", "*")
  Rumble.setHook(at("cmdverb"), service, "command", verbs.command)
  Rumble.setHook(at("afterstar"), service, "after", "*")
  Rumble.setHook(at("afterverb"), service, "after", verbs.after)
  Rumble.setHook(function(session)
    if session:get("closeerr") == MODE then
      print("close " .. session.service .. " " .. tostring(session:get("closeid")))
      error("matrix hook error at close")
    end
  end, service, "close")
end
