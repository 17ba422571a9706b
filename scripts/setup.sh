#!/usr/bin/env bash
# Shared set-up for scripts/run.sh and scripts/test.sh: installs what is
# missing from Debian's packages, then configures and builds.
#   scripts/setup.sh            the normal build, in build/
#   scripts/setup.sh --all      also the sanitizer build (build-asan/) and the
#                               libFuzzer targets, built with clang (build-fuzz/)
#   --werror (with either)      warnings are errors in every build dir, as the
#                               test command wants; meson.build leaves it off so
#                               that other compilers' new warnings don't break a build
set -euo pipefail

cd "$(dirname "$0")/.."

# Build and test dependencies, all from Debian.
packages=(
  gcc g++ meson ninja-build pkg-config cmake
  libyaml-cpp-dev libyaml-dev libspdlog-dev libcli11-dev doctest-dev
  libsystemd-dev systemd scdoc man-db dpkg-dev debhelper git
  clang libclang-rt-14-dev
  netcat-openbsd curl
  libssl-dev libseccomp-dev openssl python3
  haproxy stunnel4 socat
  debootstrap systemd-container
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  # Another apt run (a second checkout being set up) holds the lock: wait.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

all=false
werror=false
for arg in "$@"; do
  case $arg in
    --all) all=true ;;
    --werror) werror=true ;;
    *) echo "setup: unknown option $arg (use --all, --werror)" >&2; exit 2 ;;
  esac
done

# configure DIR [meson options]: a new dir is set up; an existing one keeps
# its options, except that --werror turns werror on (never off: flipping it
# would rebuild everything each time the two commands alternate).
configure() {
  local dir=$1
  shift
  if [[ ! -f $dir/build.ninja ]]; then
    meson setup "$dir" "$@" -Dwerror=$werror >/dev/null
  elif $werror && [[ $(meson introspect "$dir" --buildoptions | python3 -c \
      'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "werror"][0])') != True ]]; then
    meson configure "$dir" -Dwerror=true >/dev/null
  fi
}

# build DIR [targets]: quiet when it works; when it fails, the compiler's
# words are what the reader needs, so the end of ninja's output is shown.
build() {
  local dir=$1
  if ! ninja -C "$@" >"$dir/setup-ninja.log" 2>&1; then
    echo "setup: building in $dir failed; the end of $dir/setup-ninja.log:" >&2
    grep -E -B2 -A8 'error|FAILED' "$dir/setup-ninja.log" | tail -60 >&2
    return 1
  fi
}

configure build
build build
if $all; then
  configure build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
  build build-asan
  CC=clang CXX=clang++ configure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
  build build-fuzz tests/fuzz/config_fuzzer tests/fuzz/address_fuzzer tests/fuzz/control_fuzzer \
    tests/fuzz/import_fuzzer tests/fuzz/proxy_header_fuzzer tests/fuzz/yaml_tree_fuzzer
fi
