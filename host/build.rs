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

    let target_dir = guest.join("target");
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
    for (k, v) in wasm_c_toolchain(&guest) {
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
    let mut vars = vec![("AR_wasm32_wasip2", "ar".to_string())];
    if let Ok(cc) = env::var("RUMBLE_WASM_CC") {
        vars.push(("CC_wasm32_wasip2", cc.clone()));
        if !cc.contains("zig") {
            vars.extend(debian_wasi_flags(guest));
        }
        return vars;
    }
    if let Some(clang) = ["clang-22", "clang-21", "clang-20"].into_iter().find(|c| on_path(c)) {
        if Path::new("/usr/include/wasm32-wasi/stdio.h").exists() {
            vars.push(("CC_wasm32_wasip2", clang.to_string()));
            vars.extend(debian_wasi_flags(guest));
            return vars;
        }
    }
    let zig_ok = Command::new("python3")
        .args(["-c", "import ziglang"])
        .status()
        .is_ok_and(|s| s.success());
    if zig_ok {
        let wrapper = guest.join("tools/zigcc-wasm32-wasi.sh");
        vars.push(("CC_wasm32_wasip2", wrapper.display().to_string()));
        return vars;
    }
    panic!(
        "no C compiler for wasm32-wasip2: run scripts/setup.sh (installs Debian's clang-22 and \
         wasi-libc, or the pinned ziglang PyPI package), or set RUMBLE_WASM_CC"
    );
}

fn debian_wasi_flags(guest: &Path) -> Vec<(&'static str, String)> {
    vec![
        // Holds only the setjmp.h Debian's 2022 wasi-libc lacks.
        ("WASI_SYSROOT", guest.join("wasi-sysroot").display().to_string()),
        ("CFLAGS_wasm32_wasip2", format!("-isystem /usr/include/wasm32-wasi {}", env::var("RUMBLE_GUEST_CFLAGS").unwrap_or_default())),
    ]
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
