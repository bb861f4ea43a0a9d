//! Builds the Lua guest (`guest-lua/`, wasm32-wasip2) and hands its path to
//! the host crate, so a change to the guest or the WIT can never leave a stale
//! `.wasm` behind: cargo reruns this script whenever one of them changes.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().expect("host/ lives in the workspace").to_path_buf();
    let guest = root.join("guest-lua");
    for p in ["src", "csrc", "wasi-sysroot", "build.rs", "Cargo.toml", "Cargo.lock", "tools"] {
        println!("cargo:rerun-if-changed={}", guest.join(p).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=RUMBLE_WASM_CC");
    println!("cargo:rerun-if-env-changed=RUMBLE_GUEST_CFLAGS");

    // Cargo does not rebuild Lua's C sources when the C compiler or flags
    // change (mlua-sys tracks neither), so each toolchain setting gets its
    // own target folder.
    let toolchain = wasm_c_toolchain(&guest);
    let headers: Vec<u8> = FORCE_INCLUDED
        .iter()
        .flat_map(|h| std::fs::read(guest.join(h)).unwrap_or_default())
        .collect();
    let target_dir = guest.join("target").join(format!("cc-{:016x}", fingerprint(&toolchain, &headers)));
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&guest)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    // Nothing of the outer (host) build may leak into the guest build.
    for (key, _) in env::vars() {
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key.starts_with("RUSTC_") || key == "RUSTFLAGS" {
            cmd.env_remove(key);
        }
    }
    for (k, v) in &toolchain {
        cmd.env(k, v);
    }
    let status = cmd.status().expect("could not run cargo for the guest");
    if !status.success() {
        panic!("building the Lua guest (guest-lua/) failed; see the errors above");
    }
    let wasm = target_dir.join("wasm32-wasip2/release/rumble_guest.wasm");
    println!("cargo:rustc-env=RUMBLE_GUEST_WASM={}", wasm.display());
}

/// The C compiler for Lua's sources: LLVM >= 20 is needed for the standard
/// Wasm exception encoding Lua's setjmp/longjmp is lowered to. Debian's
/// clang-22 with wasi-libc headers, else the pinned `ziglang` PyPI package.
fn wasm_c_toolchain(guest: &Path) -> Vec<(&'static str, String)> {
    let debian = |cc: String| {
        vec![
            ("CC_wasm32_wasip2", cc),
            // Holds only the setjmp.h Debian's 2022 wasi-libc lacks.
            ("WASI_SYSROOT", guest.join("wasi-sysroot").display().to_string()),
            ("CFLAGS_wasm32_wasip2", c_flags(guest, Some("/usr/include/wasm32-wasi"))),
        ]
    };
    let mut vars = vec![("AR_wasm32_wasip2", "ar".to_string())];
    if let Ok(cc) = env::var("RUMBLE_WASM_CC") {
        if cc.contains("zig") {
            vars.push(("CC_wasm32_wasip2", cc));
            vars.push(("CFLAGS_wasm32_wasip2", c_flags(guest, None)));
        } else {
            vars.extend(debian(cc));
        }
        return vars;
    }
    if let Some(clang) = ["clang-22", "clang-21", "clang-20"].into_iter().find(|c| on_path(c))
        && Path::new("/usr/include/wasm32-wasi/stdio.h").exists()
    {
        vars.extend(debian(clang.to_string()));
        return vars;
    }
    let zig_ok = Command::new("python3")
        .args(["-c", "import ziglang"])
        .status()
        .is_ok_and(|s| s.success());
    if zig_ok {
        let wrapper = guest.join("tools/zigcc-wasm32-wasi.sh");
        vars.push(("CC_wasm32_wasip2", wrapper.display().to_string()));
        vars.push(("CFLAGS_wasm32_wasip2", c_flags(guest, None)));
        return vars;
    }
    panic!(
        "no C compiler for wasm32-wasip2: run scripts/setup.sh (installs Debian's clang-22 and \
         wasi-libc, or the pinned ziglang PyPI package), or set RUMBLE_WASM_CC"
    );
}

/// Headers included at the top of each of Lua's C sources: the inline ASCII
/// ctype functions, and the stdio fix that lets a read after end of file see
/// appended data.
const FORCE_INCLUDED: [&str; 2] = ["csrc/fast_ctype.h", "csrc/wasi_stdio.h"];

/// C flags for Lua's sources: libc headers (Debian route), the force-included
/// headers, and `$RUMBLE_GUEST_CFLAGS` for experiments.
fn c_flags(guest: &Path, libc_headers: Option<&str>) -> String {
    let mut flags = Vec::new();
    if let Some(dir) = libc_headers {
        flags.push(format!("-isystem {dir}"));
    }
    for header in FORCE_INCLUDED {
        flags.push(format!("-include {}", guest.join(header).display()));
    }
    flags.push(env::var("RUMBLE_GUEST_CFLAGS").unwrap_or_default());
    flags.join(" ")
}

/// What Lua's compiled C depends on beyond its sources: compiler, flags, and
/// the force-included headers.
fn fingerprint(vars: &[(&str, String)], header: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    vars.hash(&mut h);
    header.hash(&mut h);
    h.finish()
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
