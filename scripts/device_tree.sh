#!/usr/bin/env bash
# Keep a device call's working tree under its 64 MiB (../shared/device/README.md, Limits).
#
#   bash scripts/device_tree.sh lean   # before `run`: leave the bench records out of the checkout
#   bash scripts/device_tree.sh full   # after it: every tracked file back
#
# The committed bench records (datasets/<host>/coexec/session*/) grow with each session, and
# a call sends the tracked files plus the carried wheels. `lean` is a git sparse checkout that
# leaves out every session's records but the H100's sessions 7 and 9 and sessions 27, 28 and
# 32's run 1, and the H200's session 29 run 1, which hold the never-seen networks' oracle grids
# that the benches start from (REUSE_GRID=1 in device_coexec.sh; session 31's run 1, 5.7 MiB,
# would leave too little room: `git sparse-checkout add` it when needed); nothing is
# untracked or deleted from git, and `full` restores the files. A call that reads the
# records themselves (`coexec calibrate --grid datasets/h100/coexec`, REFIT_OVERHEADS=1 in
# device_coexec.sh, the analysis scripts) needs `full`. Prints the size of what would
# travel, as a tar of the checked-out tracked files and the folders named in CARRY (default
# ".whl .dev").
set -eu
cd "$(git rev-parse --show-toplevel)"
case "${1:-}" in
  lean) git sparse-checkout set --no-cone '/*' '!/datasets/*/coexec/session*/' \
          '/datasets/h100/coexec/session7/' '/datasets/h100/coexec/session9/' \
          '/datasets/h100/coexec/session27/run1/' '/datasets/h100/coexec/session28/run1/' \
          '/datasets/h100/coexec/session32/run1/' \
          '/datasets/h200/coexec/session29/run1/' ;;
  full) git sparse-checkout disable ;;
  *) echo "usage: device_tree.sh lean|full" >&2; exit 2 ;;
esac
carry=""; for c in ${CARRY:-.whl .dev}; do [ -e "$c" ] && carry="$carry $c"; done
bytes=$( { git ls-files -t | sed -n 's/^H //p'; [ -z "$carry" ] || find $carry -type f; } \
         | tar cf - -T - | wc -c)
echo "$1: $(git ls-files -t | grep -c '^H ') tracked files checked out; with${carry:- nothing carried}: $((bytes / 1048576)) MiB of 64"
