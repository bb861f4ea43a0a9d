#!/bin/sh
# Install Postfix (smtp-source and the comparison server) for bench/smtp.py,
# without configuring a system mail server: debconf's "No configuration"
# leaves /etc/postfix/main.cf absent and starts nothing. bench/smtp.py runs
# its own private instance from a temporary config directory.
#
#   sh bench/postfix_setup.sh        # as root (or: python3 bench/smtp.py --install)
set -eu

if [ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/postfix ]; then
    echo "postfix and smtp-source are already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "run as root: the install uses apt-get" >&2
    exit 1
fi

printf '%s\n' \
    'postfix postfix/main_mailer_type select No configuration' \
    'postfix postfix/mailname string bench.test' | debconf-set-selections
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix

test -x /usr/sbin/smtp-source
test -x /usr/sbin/postfix
echo "installed: $(/usr/sbin/postconf -d -h mail_version 2>/dev/null || echo postfix)"
