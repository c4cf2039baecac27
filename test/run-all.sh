#!/usr/bin/env bash
# `npm run test:all`: every suite. The quick ones first (type check, unit, the trainer's pytest); then the
# integration suite beside the engine suite (kwok's cluster mostly waits on the API server and the engine while
# the integration suite computes); then the node suite alone: its real node changes the host (cgroups, iptables,
# sysctls) and puts it back, which must not meet the integration suite's podman containers. Each suite's output
# is prefixed with its name and streamed as it comes; the exit code is the first failure's.
# SUITES=integration,engine,node (any subset) runs only those after the quick ones.
set -uo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n=== %s\n' "$*"; }

stage "typecheck, unit, python"
npm run -s typecheck || exit $?
npm test || exit $?
npm run -s test:python || exit $?

want="${SUITES:-integration,engine,node}"
has() { [[ ",$want," == *",$1,"* ]]; }
prefix() { sed -u "s/^/[$1] /"; }

pids=()
names=()
run_suite() { ( npm run -s "test:$1" 2>&1 | prefix "$1"; exit "${PIPESTATUS[0]}" ) & pids+=($!); names+=("$1"); }
stage "integration and engine, side by side"
has integration && run_suite integration
has engine && run_suite engine
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  r=$?
  printf '\n=== %s: exit %s\n' "${names[$i]}" "$r"
  [ "$rc" -ne 0 ] || rc=$r
done
if has node; then
  stage "node"
  npm run -s test:node 2>&1 | prefix node
  r=${PIPESTATUS[0]}
  printf '\n=== node: exit %s\n' "$r"
  [ "$rc" -ne 0 ] || rc=$r
fi
exit "$rc"
