//! Process-wide setup done once at start, before any thread exists.

/// Raise the soft descriptor limit to the hard one: a mail server holds a
/// socket per session plus files, and the default soft limit (1024) is
/// far below what the kernel would allow. Returns the limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    let Some(lim) = nofile() else { return 0 };
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: a plain syscall on a local struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return lim.rlim_max;
        }
    }
    lim.rlim_cur
}

/// The soft RLIMIT_NOFILE now (0 if it cannot be read).
pub fn descriptor_limit() -> u64 {
    nofile().map_or(0, |lim| lim.rlim_cur)
}

fn nofile() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: a plain syscall on a local struct.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
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

/// Switch to `group` (or `user`'s own group) and `user`, as Rumble's
/// RunAsGroup/RunAs (group first, supplementary groups dropped). Returns
/// the new (uid, gid), or None when neither is set. An unknown name, or a
/// switch that did not take (not started as root), is an error.
pub fn switch_user(user: Option<&str>, group: Option<&str>) -> anyhow::Result<Option<(u32, u32)>> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let account = user.map(lookup_user).transpose()?;
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => account.map_or_else(|| unsafe { libc::getgid() }, |(_, gid)| gid),
    };
    // SAFETY: plain syscalls; glibc applies set*id to every thread.
    unsafe {
        if libc::setgroups(1, &gid) != 0 && libc::geteuid() == 0 {
            anyhow::bail!("RunAsGroup: setgroups failed: {}", std::io::Error::last_os_error());
        }
        if libc::setgid(gid) != 0 {
            anyhow::bail!("RunAsGroup: cannot switch to gid {gid}: {} (start rumble as root to switch)", std::io::Error::last_os_error());
        }
        if let Some((uid, _)) = account
            && libc::setuid(uid) != 0
        {
            anyhow::bail!("RunAs: cannot switch to uid {uid}: {} (start rumble as root to switch)", std::io::Error::last_os_error());
        }
        Ok(Some((libc::getuid(), libc::getgid())))
    }
}

/// "root" is uid 0, as in Rumble; otherwise the passwd entry.
fn lookup_user(name: &str) -> anyhow::Result<(u32, u32)> {
    let c = std::ffi::CString::new(name).map_err(|_| anyhow::anyhow!("RunAs: bad user name {name:?}"))?;
    // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
    let entry = unsafe { libc::getpwnam(c.as_ptr()) };
    if entry.is_null() {
        anyhow::bail!("RunAs: no such user {name:?}");
    }
    // SAFETY: non-null, just returned.
    unsafe { Ok(((*entry).pw_uid, (*entry).pw_gid)) }
}

fn lookup_group(name: &str) -> anyhow::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| anyhow::anyhow!("RunAsGroup: bad group name {name:?}"))?;
    // SAFETY: as in lookup_user.
    let entry = unsafe { libc::getgrnam(c.as_ptr()) };
    if entry.is_null() {
        anyhow::bail!("RunAsGroup: no such group {name:?}");
    }
    // SAFETY: non-null, just returned.
    unsafe { Ok((*entry).gr_gid) }
}

/// Can this process write `path` (a folder: create a file in it; a file:
/// open it for writing)?
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        let probe = path.join(format!(".rumble-write-check-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(probe)
    } else {
        std::fs::OpenOptions::new().append(true).open(path).map(drop)
    }
}
