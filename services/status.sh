#!/bin/sh
# status: a small status service: host, time, uptime, load and who asked.
set -u
echo "host:    $(uname -n)"
echo "time:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "uptime:  $(cut -d' ' -f1 /proc/uptime) s"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo "client:  ${TCPREMOTEIP:-?}:${TCPREMOTEPORT:-?}"
echo "service: ${YINETD_SERVICE:-?} on ${TCPLOCALIP:-?}:${TCPLOCALPORT:-?}"
