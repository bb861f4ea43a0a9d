-- Fidelity: io.write and print reach stdout in program order, and what
-- io.write leaves unflushed at the end of the script is not lost.
-- (The test compares stdout with native lua5.4's byte for byte.)
io.write("a ")
print("b")
io.write("c\n", "d\n")
print("e")
io.stdout:write("f ", 1, " ", 2.5, "\n")
io.write(string.rep("x", 10000), "\n")  -- more than stdio's buffer
print("g")
io.write("h")
io.write(" i\n")
print("j")
io.write("no newline at the end")
