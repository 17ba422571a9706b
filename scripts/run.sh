#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs yinetd in the
# foreground on the shipped example config. Extra arguments go to yinetd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/src/yinetd -c config/yinetd.yaml "$@"
