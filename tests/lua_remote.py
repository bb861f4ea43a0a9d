"""A script service that runs Lua sent to it, one chunk per line, and
answers with the results as JSON: the way the network/kv/control tests call
the API from inside a served script and read what it returned.

    remote_script(port)       -> Lua source for a script serving `port`
    Remote(port).call(code)   -> list of the chunk's results (nil -> None)
    Remote(port).error(code)  -> the Lua error message the chunk raised
"""

import json
import re

from conftest import LineClient

# Tables with keys 1..n only become lists; other tables become objects with
# string keys (an empty table is an empty list). Strings are sent as JSON
# strings (bytes >= 0x80 as \u00XX, enough for these tests).
LUA_JSON = r"""
local function esc(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function tojson(v)
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "boolean" or t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return tostring(v)
  elseif t == "string" then return esc(v)
  elseif t == "table" then
    local n = #v
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    local parts = {}
    if count == n then
      for i = 1, n do parts[i] = tojson(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, x in pairs(v) do parts[#parts + 1] = esc(tostring(k)) .. ":" .. tojson(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return esc(tostring(v))
end

local function run(line)
  local f, err = load(line, "=remote")
  if not f then return '{"error":' .. esc(err) .. '}' end
  local r = table.pack(pcall(f))
  if not r[1] then return '{"error":' .. esc(tostring(r[2])) .. '}' end
  local out = {}
  for i = 2, r.n do out[#out + 1] = tojson(r[i]) end
  return '{"values":[' .. table.concat(out, ",") .. ']}'
end
"""

LUA_REMOTE = LUA_JSON + r"""
Rumble.createService(function(s)
  while true do
    local line = s:receive()
    if line == "" then return end
    s:send(run(line) .. "\r\n")
  end
end, PORT, THREADS)
"""


def remote_script(port, threads=4, extra=""):
    return extra + LUA_REMOTE.replace("PORT", str(port)).replace("THREADS", str(threads))


class Remote(LineClient):
    def answer(self, code):
        reply = self.ask(code)
        assert reply, f"no answer to {code!r} (the session ended)"
        return json.loads(reply)

    def call(self, code):
        result = self.answer(code)
        assert "values" in result, f"{code!r} raised {result.get('error')!r}"
        return result["values"]

    def error(self, code):
        result = self.answer(code)
        assert "error" in result, f"{code!r} did not raise; it returned {result.get('values')!r}"
        return result["error"]

    def message(self, code):
        """The error without its position: the API's errors name a line that
        depends on how it was called (a tail call from the chunk or not)."""
        return re.sub(r"^[^\s:]+:\d+: ", "", self.error(code))


def call(port, code):
    with Remote(port) as r:
        return r.call(code)


def error(port, code):
    with Remote(port) as r:
        return r.error(code)
