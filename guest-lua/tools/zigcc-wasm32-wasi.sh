#!/usr/bin/env bash
# C compiler for the guest when no clang >= 20 is installed: the pinned
# `ziglang` PyPI package. cc-rs passes clang-style --target=/--sysroot=
# arguments; zig cc wants -target wasm32-wasi.
ZIG="$(python3 -c 'import ziglang,os;print(os.path.dirname(ziglang.__file__))')/zig"
args=()
for a in "$@"; do
  case "$a" in
    --target=*|--sysroot=*) ;;
    *) args+=("$a") ;;
  esac
done
exec "$ZIG" cc -target wasm32-wasi -mexception-handling "${args[@]}"
