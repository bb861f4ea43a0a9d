//! Process-wide setup done once at start, before any thread exists.

/// Raise the soft descriptor limit to the hard one: a mail server holds a
/// socket per session plus files, and the default soft limit (1024) is
/// far below what the kernel would allow. Returns the limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// The soft RLIMIT_NOFILE now (0 if it cannot be read).
pub fn descriptor_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: a plain syscall on a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    lim.rlim_cur
}

/// Errors built on hot paths must not capture Rust backtraces. wasmtime
/// turns every Wasm throw (each Lua error, caught or not) into a host call
/// that builds an error value, and `anyhow` captures a backtrace for it
/// whenever RUST_BACKTRACE or RUST_LIB_BACKTRACE is set: 26 µs instead of
/// 1-5 µs per caught Lua error. RUST_LIB_BACKTRACE=0 switches that off for
/// library errors while panics still honour RUST_BACKTRACE.
pub fn quiet_library_backtraces() {
    // SAFETY: called at the top of main, before any other thread starts.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
}
