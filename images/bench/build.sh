#!/usr/bin/env bash
# Builds the images only `npm run bench` runs (images/bench/<name>/: contenders the platform does not ship,
# such as KServe's stock MLServer runtime), which images/build.sh does not build: every image build.sh builds
# is keyed on build.sh's own text, so these live beside it, with the same engine config and base.
#
#   images/bench/build.sh [--check] [NAME...]      NAME: mlserver (default: all of images/bench/*/)
#     --check   build nothing: exit 0 when each image is built from its current inputs, else 1 naming it
#
# Run images/build.sh first: it writes the engine config (runc, storage driver) and tags the python stand-in
# the Dockerfiles build FROM (--pull=never; no registry). Output: docker.io/mlflow-platform/bench-<name>:local
# in containers storage, labelled with its input hash (the build context, the FROM image's ID, this script);
# an unchanged image is not rebuilt. No archive: nothing but the bench's podman runs it.
# Env: MLFLOW_PLATFORM_IMAGE_CACHE (as images/build.sh), MLFLOW_PLATFORM_BUILD_CA auto|on|off (auto: what
# images/build.sh resolved for its last build, from its cache's build records), MLFLOW_PLATFORM_HOST_CA.
set -euo pipefail

DIR=$(cd "$(dirname "$0")" && pwd)
CACHE=${MLFLOW_PLATFORM_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-platform/images}
HOST_CA=${MLFLOW_PLATFORM_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
CA_MODE=${MLFLOW_PLATFORM_BUILD_CA:-auto}
LABEL_KEY=io.mlflow-platform.inputs
CHECK=0
want=()
die() { echo "images/bench/build.sh: $*" >&2; exit "${2:-1}"; }
for a in "$@"; do
  case $a in
    --check) CHECK=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option \"$a\" (valid: --check)" 2 ;;
    *) [ -f "$DIR/$a/Dockerfile" ] || die "no image \"$a\": valid names are $(cd "$DIR" && ls -d */ | tr -d / | tr '\n' ' ')" 2; want+=("$a") ;;
  esac
done
[ ${#want[@]} -gt 0 ] || mapfile -t want < <(cd "$DIR" && for d in */; do [ -f "$d/Dockerfile" ] && echo "${d%/}"; done)
case $CA_MODE in auto|on|off) ;; *) die "MLFLOW_PLATFORM_BUILD_CA must be auto, on or off (got \"$CA_MODE\")" 2 ;; esac

[ -f "$CACHE/containers/env" ] || die "$CACHE/containers/env is missing: run images/build.sh first (it writes the engine config)"
set -a; . "$CACHE/containers/env"; set +a

ref_of() { echo "docker.io/mlflow-platform/bench-$1:local"; }
from_of() { awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }' "$DIR/$1/Dockerfile"; }
qualify() { if [[ $1 != */* ]]; then echo "docker.io/library/$1"; else echo "$1"; fi; }
id_of() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
label_of() { podman image inspect --format "{{index .Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null || true; }
input_hash() {
  local from_id=$1
  { (cd "$DIR/$2" && find . -type f ! -name '*.md' | LC_ALL=C sort | while read -r f; do echo "$f"; sha256sum "$f" | cut -d' ' -f1; done)
    echo "from $from_id"; sha256sum "$0" | cut -d' ' -f1; } | sha256sum | cut -c1-16
}
# pip's configured index-url only (empty: pip's default), by pip's precedence, as images/build.sh reads it.
pip_configured_index() {
  python3 -m pip config list 2>/dev/null | awk -F"'" '
    $1 ~ /\.index-url=$/ { split($1, k, "."); r = k[1] == ":env:" ? 0 : k[1] == "site" ? 1 : k[1] == "user" ? 2 : 3
                           if (!(r in u)) u[r] = $2 }
    END { for (r = 0; r <= 3; r++) if (r in u) { print u[r]; exit } }' || true
}
ca_args() { # <from ref>: read-only bind mounts of the host CA over the base's bundles, for RUN steps only
  local mode=$CA_MODE where c
  if [ "$mode" = auto ]; then
    mode=$(ls -t "$CACHE"/*.json 2>/dev/null | xargs -r grep -ho '"ca":"[a-z]*"' 2>/dev/null | head -n1 | sed 's/.*:"\(.*\)"/\1/')
    [ -n "$mode" ] || mode=off
  fi
  [ "$mode" = on ] || return 0
  [ -f "$HOST_CA" ] || die "the host CA $HOST_CA does not exist (MLFLOW_PLATFORM_BUILD_CA=on)"
  echo "-v"; echo "$HOST_CA:/etc/ssl/certs/ca-certificates.crt:ro"
  c=$(buildah from --pull=never --quiet "$1")
  where=$(buildah run --network none --runtime runc "$c" -- python3 -c "import pip._vendor.certifi as c; print(c.where())" 2>/dev/null | tail -n1 || true)
  buildah rm "$c" >/dev/null 2>&1 || true
  if [ -n "$where" ] && [ "$where" != /etc/ssl/certs/ca-certificates.crt ]; then echo "-v"; echo "$HOST_CA:$where:ro"; fi
}

stale=()
for name in "${want[@]}"; do
  ref=$(ref_of "$name"); from=$(qualify "$(from_of "$name")")
  from_id=$(id_of "$from")
  [ -n "$from_id" ] || die "$from (FROM of images/bench/$name) is not in containers storage: run images/build.sh first"
  hash=$(input_hash "$from_id" "$name")
  if [ "$(label_of "$ref")" = "$hash" ]; then echo "$name $ref $hash cached"; continue; fi
  if [ "$CHECK" = 1 ]; then stale+=("$name"); echo "$name $ref $hash missing"; continue; fi
  [ "$(id -u)" = 0 ] || die "run as root (as images/build.sh)"
  mapfile -t cargs < <(ca_args "$from")
  bargs=(); idx=$(pip_configured_index); [ -z "$idx" ] || bargs=(--build-arg "PIP_INDEX_URL=$idx")
  echo "[bench/build.sh] building $ref (inputs $hash, log $CACHE/bench-$name.build.log)" >&2
  t0=$(date +%s); old_id=$(id_of "$ref")
  buildah bud --pull=never --layers=false --format oci --runtime runc --isolation oci --network host \
    --label "$LABEL_KEY=$hash" "${cargs[@]}" "${bargs[@]}" -f "$DIR/$name/Dockerfile" -t "$ref" "$DIR/$name" \
    >"$CACHE/bench-$name.build.log" 2>&1 || { tail -n 40 "$CACHE/bench-$name.build.log" >&2; die "buildah bud of images/bench/$name failed"; }
  [ -z "$old_id" ] || [ "$old_id" = "$(id_of "$ref")" ] || buildah rmi "$old_id" >/dev/null 2>&1 || true
  echo "$name $ref $hash built in $(( $(date +%s) - t0 )) s"
done
[ ${#stale[@]} -eq 0 ] || exit 1
