# Sourced by the packaging tests: named checks and the final count line
# that scripts/count_tests.py reads.
passed=0
failed=0

# check NAME COMMAND...: runs COMMAND; a non-zero status fails NAME.
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $name" >&2
  fi
}

finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
