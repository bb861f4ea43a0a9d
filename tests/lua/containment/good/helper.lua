-- A module beside good.lua.
return {
  greeting = function() return "helper-ok" end,
}
