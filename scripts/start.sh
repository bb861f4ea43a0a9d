#!/usr/bin/env bash
# Quick start: install the toolchain, build the guest and the server, and
# start it with rumble.conf.example (unprivileged ports, data in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
exec ./target/release/rumble serve --config rumble.conf.example "$@"
