#!/usr/bin/env bash
# The whole test suite: unit tests (cargo) and end-to-end tests (pytest,
# driving the real release binary). One release build serves both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
cargo test --release
python3 -m pytest -q tests "$@"
