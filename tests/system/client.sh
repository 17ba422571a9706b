#!/bin/bash
# Installed in the test container as systest-client: a network client made
# of bash alone (the minbase root has no nc or curl).
#   systest-client PORT [TEXT]
# Connects to 127.0.0.1:PORT, sends TEXT (printf %b escapes) if given, and
# prints the first line of the answer. Exit 111: the connection was refused
# (or never made); 1: no answer within 10 seconds.
port=$1
exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || exit 111
if [[ $# -ge 2 ]]; then printf '%b' "$2" >&3; fi
timeout 10 head -n1 <&3 | tr -d '\r' | grep .
