-- Hostile: burns CPU forever. The sandbox must stop it (fuel/epoch/time limit).
print("start")
while true do end
