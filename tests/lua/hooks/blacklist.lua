-- The blacklist.lua example from the original Rumble's Lua examples page
-- (reference section 4.3), in its shape: an SMTP accept hook that looks the
-- client up in a DNS blacklist and refuses it on a hit.
function checkBlacklist(session)
    local a,b,c,d = string.match(session.address, "(%d+)%.(%d+)%.(%d+)%.(%d+)")
    local lookup = string.format("%s.%s.%s.%s.bl.example.org", d, c, b, a)
    local result = network.getHostByName(lookup)
    if result then
        session:send("You're blacklisted!\r\n")
        return "failure"
    end
    return "okay"
end

if Rumble.setHook(checkBlacklist, "smtp", "accept") then
    print("Blacklist hook installed")
end
