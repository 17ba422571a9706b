#!/usr/bin/env bash
# Runs every test: installs what is missing, builds twice with warnings as
# errors (plain, and with AddressSanitizer + UndefinedBehaviorSanitizer),
# runs `meson test` in both,
# runs the libFuzzer targets for a bounded time, and ends with one line
# "N passed, M failed" counting test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --all --werror || { echo "0 passed, 1 failed"; exit 1; }

# Sanitizer reports fail the test that caused them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for dir in build build-asan; do
  echo "== meson test in $dir"
  meson test -C "$dir" --print-errorlogs || status=1
done

echo "== fuzzing (build-fuzz)"
meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs || status=1

python3 scripts/count_tests.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  build-fuzz/meson-logs/testlog.json || status=1
exit $status
