#!/bin/sh
# Install Dovecot's IMAP server (Debian package dovecot-imapd) for
# bench/imap.py. The package's own system instance is left as the package
# sets it up (it is not used); bench/imap.py runs a private instance from a
# temporary folder (`dovecot -F -c DIR/dovecot.conf`) and stops it at the end.
#
#   sh bench/dovecot_setup.sh        # as root (or: python3 bench/imap.py --install)
set -eu

if [ -x /usr/sbin/dovecot ] && [ -x /usr/bin/doveconf ] && [ -x /usr/lib/dovecot/imap ]; then
    echo "dovecot-imapd is already installed: $(/usr/sbin/dovecot --version)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "run as root: the install uses apt-get" >&2
    exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dovecot-imapd

test -x /usr/sbin/dovecot
test -x /usr/lib/dovecot/imap
echo "installed: dovecot $(/usr/sbin/dovecot --version)"
