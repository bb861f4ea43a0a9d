#!/usr/bin/env bash
# The whole test suite: unit tests (cargo) and end-to-end tests (pytest,
# driving the real release binary). One release build serves both. The
# end-to-end suite runs twice: on the SQLite store, then on PostgreSQL (a
# private server the tests start and remove; see tests/pg.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
# The store's unit tests check each operation on SQLite and on a private
# PostgreSQL (tests/pg.py starts it and names it in RUMBLE_TEST_PG).
python3 tests/pg.py run cargo test --release
# Both runs go, so one report shows every store's failures; either failing fails.
status=0
RUMBLE_TEST_STORE=sqlite python3 -m pytest -q tests "$@" || status=$?
RUMBLE_TEST_STORE=postgresql python3 -m pytest -q tests "$@" || status=$?
exit "$status"
