#!/usr/bin/env bash
# Install what building and testing Rumble needs, on a fresh Debian 12 machine
# with rustup. Idempotent: skips what is already there.
#   - the wasm32-wasip2 Rust target (the Lua guest)
#   - a C compiler with LLVM >= 20 for Lua's sources: Debian's clang-22 with
#     wasi-libc headers, or else the pinned ziglang PyPI package
#   - lua5.4 (the native baseline in bench/) and pytest (the end-to-end tests)
#   - mail tools the tests drive: swaks, postfix (for smtp-source/smtp-sink;
#     preseeded, never started), openssl, dig, isync, fetchmail, getmail6, curl;
#     aiosmtpd (the outbound sink), imapclient (its live test suite)
#   - PostgreSQL's server binaries (postgresql; no system cluster is started:
#     the tests run a private server) and psycopg, for RUMBLE_TEST_STORE=postgresql
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

need_apt=()
command -v clang-22 >/dev/null || need_apt+=(clang-22)
[ -f /usr/include/wasm32-wasi/stdio.h ] || need_apt+=(wasi-libc)
command -v lua5.4 >/dev/null || need_apt+=(lua5.4)
command -v swaks >/dev/null || need_apt+=(swaks libnet-ssleay-perl libauthen-sasl-perl)
[ -x /usr/sbin/smtp-source ] || need_apt+=(postfix)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v dig >/dev/null || need_apt+=(dnsutils)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v mbsync >/dev/null || need_apt+=(isync)
command -v fetchmail >/dev/null || need_apt+=(fetchmail)
command -v getmail >/dev/null || need_apt+=(getmail6)
command -v curl >/dev/null || need_apt+=(curl)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  # postfix asks questions on install; it is only wanted for its tools.
  printf '%s\n' 'postfix postfix/main_mailer_type select No configuration' \
    'postfix postfix/mailname string localhost' | $SUDO debconf-set-selections
  # Packages with services (postfix, postgresql) are wanted for their
  # programs only: a policy-rc.d that says no keeps apt from starting them.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"; then
    echo "setup: apt could not install ${need_apt[*]}; falling back to the ziglang PyPI package"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends lua5.4 swaks \
      libnet-ssleay-perl libauthen-sasl-perl postfix openssl dnsutils sqlite3 isync fetchmail getmail6 curl \
      postgresql || true
  fi
fi
if ! command -v clang-22 >/dev/null && ! python3 -c 'import ziglang' 2>/dev/null; then
  python3 -m pip install -q ziglang==0.17.0
fi

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q 'pytest==9.2.0'
python3 -c 'import imapclient' 2>/dev/null || python3 -m pip install -q 'imapclient==4.1.0' \
  || python3 -m pip install -q --break-system-packages 'imapclient==4.1.0'
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install -q 'aiosmtpd==1.4.6' \
  || python3 -m pip install -q --break-system-packages 'aiosmtpd==1.4.6'
python3 -c 'import psycopg' 2>/dev/null || python3 -m pip install -q 'psycopg[binary]==3.3.9' \
  || python3 -m pip install -q --break-system-packages 'psycopg[binary]==3.3.9'
echo "setup: toolchain ready"
