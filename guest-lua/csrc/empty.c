/* Empty: lua-src links -lwasi-emulated-signal; Lua only needs sig_atomic_t. */
