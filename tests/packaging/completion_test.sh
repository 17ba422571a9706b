#!/usr/bin/env bash
# packaging/yinetd.bash-completion: what it offers after each kind of word.
#   completion_test.sh SOURCE_DIR
set -uo pipefail
source "$(dirname "$0")/check.sh"
source "$1/packaging/yinetd.bash-completion"

# complete WORD...: the candidates bash would offer for the last word.
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _yinetd
  printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' '
}
offers() {
  local want=$1
  shift
  local got
  got=$(complete_words "$@")
  [[ $got == "$want" ]] || { echo "  '$*': got '$got', want '$want'" >&2; return 1; }
}

check "it registers for yinetd" bash -c 'source "$0"; complete -p yinetd | grep -q -- "-F _yinetd"' \
  "$1/packaging/yinetd.bash-completion"
check "the commands" offers "ctl import" yinetd ""
check "the options" offers "--check --config" yinetd --c
check "--log-level values" offers "warn" yinetd --log-level w
check "ctl's commands" offers "--help --socket check connections dump reload status" yinetd ctl ""
check "ctl's commands after --socket PATH" offers "reload" yinetd ctl --socket /run/yinetd/control rel
check "--json after status" offers "--json" yinetd ctl status ""
check "--json after connections" offers "--json" yinetd ctl connections --j
check "nothing after reload" offers "" yinetd ctl reload ""
check "ctl after -c FILE" offers "check connections" yinetd -c /etc/yinetd/yinetd.yaml ctl c
dir=$(mktemp -d /tmp/yinetd-completion-XXXXXX)
trap 'rm -rf "$dir"' EXIT
touch "$dir/xinetd.conf"
check "import completes files" offers "$dir/xinetd.conf" yinetd import "$dir/xin"
check "--config completes files" offers "$dir/xinetd.conf" yinetd --config "$dir/x"
finish
