-- Deliver hooks: file by subject, flag, discard, bounce and retry.
Rumble.setHook(function(session, msg)
  local subject = msg:header("subject") or ""
  if subject:match("^junk") then
    msg:addFlag("$Junk")
    msg:addFlag("\\Flagged")
    return "folder", "Junk"
  end
  if subject:match("^discard") then return "discard" end
  if subject:match("^bounce") then return 550, "5.2.2 mailbox full for " .. msg.recipient end
  if subject:match("^later") then return 451 end
  if subject:match("^facts") then
    print("deliver " .. msg.recipient .. " uid=" .. math.type(msg.uid) .. " from=" .. session.sender ..
          " service=" .. session.service .. " rcpts=" .. #session.recipients)
  end
end, "mailman", "deliver")
