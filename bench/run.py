#!/usr/bin/env python3
"""Benchmarks: Lua CPU work inside the sandbox vs Debian's native lua5.4,
measured in one run (interleaved, best of N), plus the plugin runtime's own
figures from `rumble-bench`. Prints a table. Not a test: no pass/fail.

    python3 bench/run.py            # after `cargo build --release`
"""

import argparse
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUMBLE = ROOT / "target" / "release" / "rumble"
RUMBLE_BENCH = ROOT / "target" / "release" / "rumble-bench"

WORKLOADS = [
    ("fib(32)", "fib.lua", ["32"]),
    ("fib(27)", "fib.lua", ["27"]),
    ("string/table work", "strings.lua", []),
]


def best_ms(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"best_ms=([\d.]+)", out)
    if not m:
        sys.exit(f"no best_ms in output of {cmd}: {out!r}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per workload")
    args = ap.parse_args()
    lua = shutil.which("lua5.4")
    if not lua:
        sys.exit("lua5.4 not found: run scripts/setup.sh")
    for binary in (RUMBLE, RUMBLE_BENCH):
        if not binary.exists():
            sys.exit(f"{binary} missing: run `cargo build --release`")

    rows = []
    for label, script, extra in WORKLOADS:
        path = ROOT / "bench" / "lua" / script
        native, guest = [], []
        for _ in range(args.rounds):  # interleaved so machine noise hits both
            native.append(best_ms([lua, str(path), *extra]))
            guest.append(best_ms([str(RUMBLE), "script", "run", "--cpu-limit", "10min", str(path), *extra]))
        n, g = min(native), min(guest)
        rows.append((label, f"{n:.1f} ms", f"{g:.1f} ms", f"{g / n:.2f}x"))

    print("Lua CPU work: sandboxed guest vs native lua5.4 (best of each, same run)")
    print(f"{'workload':<20} {'native lua5.4':>14} {'rumble guest':>14} {'ratio':>7}")
    for r in rows:
        print(f"{r[0]:<20} {r[1]:>14} {r[2]:>14} {r[3]:>7}")

    out = subprocess.run([str(RUMBLE_BENCH)], capture_output=True, text=True, check=True).stdout
    labels = {
        "guest_compile_cold": "compile guest (no cache, JIT + write cache)",
        "guest_load_cached": "load compiled guest from cache",
        "instance_fresh": "fresh instance (instantiate + Lua init + top level)",
        "instance_pooled_call": "call on a pooled instance (eval 'return 1')",
        "host_call_roundtrip": "host call round trip (Rumble.readConfig)",
    }
    print()
    print("Plugin runtime")
    print(f"{'what':<54} {'value':>12}")
    for line in out.splitlines():
        name, value, unit = line.split()
        print(f"{labels.get(name, name):<54} {value + ' ' + unit:>12}")


if __name__ == "__main__":
    main()
