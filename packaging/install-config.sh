#!/bin/sh
# meson install script: installs the example config unless one is already
# there, so that reinstalling never overwrites an administrator's edits.
#   install-config.sh SOURCE CONFDIR
set -eu
source=$1
dir="${DESTDIR:-}$2"
mkdir -p "$dir/conf.d"
if [ -e "$dir/yinetd.yaml" ]; then
  echo "install-config: keeping the existing $dir/yinetd.yaml"
else
  install -m 0644 "$source" "$dir/yinetd.yaml"
fi
