-- Tries to forge log lines: a newline followed by a line in the ring's own
-- format, an ANSI escape, other control characters, through print,
-- Rumble.dprint and io.write.
local port = assert(tonumber(Rumble.readConfig("forgerport")), "ForgerPort missing")

Rumble.createService(function(session)
  session:receive()
  print("x\n2026/01/01 00:00:00 [smtp]: \tforged by print")
  print("\27[31mred by print\27[0m")
  print("cr\rbell\7 nul\0 tab\tend")
  Rumble.dprint("y\r\n2026/01/01 00:00:00 [smtp]: \tforged by dprint")
  io.write("z\n2026/01/01 00:00:00 [smtp]: \tforged by io.write\n")
  io.stdout:flush()
  session:send("forged\r\n")
end, port, 2)
