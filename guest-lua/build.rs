//! lua-src (via mlua-sys "vendored") links `-lsetjmp -lwasi-emulated-signal`,
//! expecting a wasi-sdk sysroot we cannot install here. Provide both.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("wasm32-wasi") {
        cc::Build::new()
            .file("csrc/wasm_sjlj_rt.c")
            .flag("-mllvm")
            .flag("-wasm-enable-eh")
            .flag("-mllvm")
            .flag("-wasm-use-legacy-eh=false")
            .flag("-mllvm")
            .flag("-wasm-enable-sjlj")
            .opt_level(2)
            .compile("setjmp");
        cc::Build::new().file("csrc/empty.c").compile("wasi-emulated-signal");
    }
    println!("cargo:rerun-if-changed=csrc");
}
