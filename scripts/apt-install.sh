#!/usr/bin/env bash
# Installs Debian packages without starting their services (the lab starts its own, per stack):
# apt-install.sh PACKAGE... The policy-rc.d that holds the services back goes on every way out,
# or a failed install would block every later service start on the machine.
set -euo pipefail
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
fi
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
