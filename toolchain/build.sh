#!/usr/bin/env bash
# The engine toolchain: builds every binary of toolchain/binaries.tsv and fetches the data files of
# toolchain/files.tsv from the Go module proxy into ~/.cache/mlflow-platform/engine/, one cache entry per
# line, keyed by a hash of what goes into it (the line, the wrapper module's go.mod and go.sum, the Go
# version, RECIPE). An entry that exists is never rebuilt: a warm run only hashes. A module dir is
# relative to toolchain/ (oauth2-proxy's is the image's build context, ../images/oauth2-proxy).
#
# Usage: toolchain/build.sh [--env] [--only NAME]...
#   (no flag)  build what is missing, then print the bin directory
#   --env      build what is missing, then print KEY=VALUE lines for the test harness:
#              ENGINE_BIN (pulumi, the provider, etcd, kube-*, kwok), <NAME>_CRDS (a directory per CRD set of files.tsv),
#              PULUMI_KUBERNETES_VERSION (the plugin version the provider is installed as)
#   --only N   build only the named entries (repeatable), e.g. --only pulumi
#   --check    build nothing: exit 0 when every entry is in the cache, 3 when one is missing
# Logs go to stderr; stdout carries only the result. Cold on 2 cores: see docs/testing.md ("The toolchain", "CI time").
set -euo pipefail

# Bump when the build steps below change in a way that changes the binaries.
RECIPE=1

here="$(cd "$(dirname "$0")" && pwd)"
cache="${MLFLOW_PLATFORM_CACHE:-$HOME/.cache/mlflow-platform}/engine"
mkdir -p "$cache"
mode=bin
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) mode=env ;;
    --check) mode=check ;;
    --only) only+=("${2:?--only needs a name from toolchain/binaries.tsv or toolchain/files.tsv}"); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "toolchain/build.sh: unknown argument '$1' (valid: --env, --check, --only NAME)" >&2; exit 2 ;;
  esac
  shift
done

command -v go >/dev/null || { echo "toolchain/build.sh: go is not on PATH (the toolchain builds from the Go module proxy)" >&2; exit 2; }
gover="$(go env GOVERSION)"
log() { printf '[toolchain] %s\n' "$*" >&2; }
wanted() { [ ${#only[@]} -eq 0 ] && return 0; local n; for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
hash_of() { sha256sum | cut -c1-16; }
# One lock per cache entry: two runs starting at once build each entry once, and a run waits only for the
# entries it needs (the build .ci/run starts in the background makes the engine suite's --env wait for
# each entry in turn, and a test that needs two binaries, --only, waits for those two). --check builds
# nothing and does not wait: an entry still building is reported as missing.
# The lock of the cache entry `$1`, on fd 9 (one entry is built at a time).
lock_entry() { exec 9>"$1.lock"; flock 9; }
unlock_entry() { exec 9>&-; }

# Every data line of a TSV file (comments and blank lines skipped).
rows() { grep -v '^[[:space:]]*#' "$1" | grep -v '^[[:space:]]*$'; }

declare -A entry=()
missing_any=0
versions=()

build_binary() { # name dir package version ldflags generated
  local name="$1" dir="$2" pkg="$3" version="$4" ldflags="$5" generated="$6"
  local key out work
  [ -f "$here/$dir/go.mod" ] && [ -f "$here/$dir/go.sum" ] || { log "$name: no go.mod/go.sum in $here/$dir (module-dir of toolchain/binaries.tsv is relative to toolchain/)"; exit 1; }
  # A module dir may hold the main package itself (package "."): its *.go files are inputs too.
  local sources=()
  [ "$pkg" = "." ] && [ "$generated" = "-" ] && mapfile -t sources < <(cd "$here/$dir" && ls ./*.go 2>/dev/null | LC_ALL=C sort)
  key="$( { printf '%s\n' "$RECIPE" "$gover" "$*"; cat "$here/$dir/go.mod" "$here/$dir/go.sum"; for f in "${sources[@]}"; do printf '%s\n' "$f"; cat "$here/$dir/$f"; done; } | hash_of)"
  out="$cache/$name-$version-$key"
  entry[$name]="$out"
  versions+=("$name=$version")
  [ -x "$out/$name" ] && return 0
  [ "$mode" = check ] && { log "not built: $name"; missing_any=1; return 0; }
  wanted "$name" || return 0
  lock_entry "$out"
  if [ -x "$out/$name" ]; then unlock_entry; return 0; fi
  log "building $name $version (cache entry $(basename "$out"))"
  local t0=$SECONDS
  work="$out.work"
  rm -rf "$work" && mkdir -p "$work"
  cp "$here/$dir/go.mod" "$here/$dir/go.sum" "$work/"
  for f in "${sources[@]}"; do cp "$here/$dir/$f" "$work/"; done
  if [ "$generated" != "-" ]; then
    # The main package embeds files generated from its schema, which the module zip does not carry: copy
    # the package's sources from the module cache next to the wrapper go.mod and generate them.
    local module="${generated%%:*}" sub="${generated#*:}" src
    src="$(cd "$work" && go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$src/$sub" ] || { log "$module has no $sub in the module cache ($src)"; exit 1; }
    cp "$src/$sub"/*.go "$src/$sub"/*.json "$work/"
    chmod u+w "$work"/*
    (cd "$work" && VERSION="$version" go run generate.go)
    rm -f "$work/generate.go"
  fi
  local flags="-s -w ${ldflags//\$\{VERSION\}/$version}"
  [ "$ldflags" = "-" ] && flags="-s -w"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$work/bin/$name" "$pkg")
  mkdir -p "$out.tmp" && mv "$work/bin/$name" "$out.tmp/$name"
  rm -rf "$work" "$out" && mv "$out.tmp" "$out"
  unlock_entry
  log "built $name in $((SECONDS - t0)) s"
}

fetch_files() { # name module version pattern
  local name="$1" module="$2" version="$3" pattern="$4" key out src
  key="$(printf '%s\n' "$RECIPE" "$*" | hash_of)"
  out="$cache/$name-$version-$key"
  entry[$name]="$out"
  [ -f "$out/.complete" ] && return 0
  [ "$mode" = check ] && { log "not fetched: $name"; missing_any=1; return 0; }
  wanted "$name" || return 0
  lock_entry "$out"
  if [ -f "$out/.complete" ]; then unlock_entry; return 0; fi
  log "fetching $pattern from $module@$version"
  local tmp
  tmp="$(mktemp -d)"
  src="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  rm -rf "$tmp" "$out" && mkdir -p "$out"
  # The pattern is one or more globs inside the module, separated by spaces; every file lands in one directory.
  local glob
  for glob in $pattern; do
    # shellcheck disable=SC2086 # a glob inside the module
    cp $src/$glob "$out/"
  done
  chmod -R u+w "$out"
  touch "$out/.complete"
  unlock_entry
}

while IFS=$'\t' read -r name dir pkg version ldflags generated; do
  build_binary "$name" "$dir" "$pkg" "$version" "$ldflags" "$generated"
done < <(rows "$here/binaries.tsv")
while IFS=$'\t' read -r name module version pattern; do
  fetch_files "$name" "$module" "$version" "$pattern"
done < <(rows "$here/files.tsv")

if [ "$mode" = check ]; then exit $((missing_any ? 3 : 0)); fi

# One directory of links per combination of entries, so checkouts with other pins never flip each other's.
bin="$cache/bin-$(for n in "${!entry[@]}"; do echo "$n ${entry[$n]}"; done | sort | hash_of)"
mkdir -p "$bin"
missing=()
while IFS=$'\t' read -r name _; do
  if [ -x "${entry[$name]}/$name" ]; then ln -sfn "${entry[$name]}/$name" "$bin/$name"; else missing+=("$name"); fi
done < <(rows "$here/binaries.tsv")
if [ ${#missing[@]} -gt 0 ] && [ ${#only[@]} -eq 0 ]; then log "not built: ${missing[*]}"; exit 1; fi

if [ "$mode" = env ]; then
  echo "ENGINE_BIN=$bin"
  # One line per data file set: kserve-crds -> KSERVE_CRDS=<dir>.
  while IFS=$'\t' read -r name _; do
    var="${name^^}"
    echo "${var//-/_}=${entry[$name]}"
  done < <(rows "$here/files.tsv")
  for v in "${versions[@]}"; do
    case "$v" in pulumi-resource-kubernetes=*) echo "PULUMI_KUBERNETES_VERSION=${v#*=}" ;; pulumi=*) echo "PULUMI_VERSION=${v#*=}" ;; esac
  done
else
  echo "$bin"
fi
