#!/usr/bin/env bash
# Daemonless build of the project's images (images/mlflow, images/trainer, images/serving,
# images/oauth2-proxy, images/storage-initializer) and of stand-ins for the official images the local stack
# runs besides them (images/standins/: postgres, minio, mc) with buildah, each Dockerfile unchanged
# (`buildah bud --pull=never`), FROM stand-ins of the official base images made without a registry:
# python:3.11-slim-bookworm from Debian packages (images/base/), golang:<version>-bookworm = that base + the
# host's Go (GOROOT). See images/README.md.
#
#   images/build.sh [--ca auto|on|off] [--tag TAG] [--force] [--list] [NAME...]
#     NAME: mlflow trainer serving oauth2-proxy storage-initializer (project images),
#           postgres-standin minio-standin mc-standin, or standins (the three); none: all of them
#
# Each image is cached by a content hash of its inputs (its build context, its stand-ins, this script) as
# an OCI archive under ~/.cache/mlflow-platform/images/: an unchanged image is not rebuilt, only loaded
# into local containers storage when missing there. Output: docker.io/mlflow-platform/<name>:<TAG>
# (TAG default "local"; a stand-in: the official references its `refs` file names) in containers storage
# and $CACHE/<name>-<hash>.oci.tar, listed in $CACHE/images.json (for `kind load image-archive`,
# `k3d image import`, `ctr images import`).
#
# Runs as root; installs buildah, podman, runc, debootstrap (apt-get) when missing; a golang FROM needs the
# host's `go` of the same version (the stand-in copies its GOROOT). Package indexes, proxies and the Debian
# mirror are the machine's own (apt sources, pip's and Go's configuration). Env:
#   MLFLOW_PLATFORM_IMAGE_CACHE     cache dir (default ${XDG_CACHE_HOME:-~/.cache}/mlflow-platform/images)
#   MLFLOW_PLATFORM_BUILD_CA        auto|on|off: bind-mount the host CA bundle into RUN steps (--ca)
#   MLFLOW_PLATFORM_HOST_CA         the host CA bundle (default /etc/ssl/certs/ca-certificates.crt)
#   MLFLOW_PLATFORM_STORAGE_DRIVER  overlay|vfs (default: overlay when it works here, else vfs)
#   DEBIAN_MIRROR                   for the base (default: the machine's apt sources, images/base/build-base.sh)
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "$0")" && pwd)
# The project's images (images/<name>/) and the stand-ins (images/standins/<name without -standin>/).
ALL_IMAGES=(mlflow trainer serving oauth2-proxy storage-initializer)
ALL_STANDINS=(postgres-standin minio-standin mc-standin)
REPO=docker.io/mlflow-platform
LABEL_KEY=io.mlflow-platform.inputs
CACHE=${MLFLOW_PLATFORM_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-platform/images}
CA_MODE=${MLFLOW_PLATFORM_BUILD_CA:-auto}
HOST_CA=${MLFLOW_PLATFORM_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
TAG=local
FORCE=0
LIST=0
want=()

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --ca) CA_MODE=${2:?--ca needs auto, on or off}; shift 2 ;;
    --ca=*) CA_MODE=${1#--ca=}; shift ;;
    --tag) TAG=${2:?--tag needs a value}; shift 2 ;;
    --force) FORCE=1; shift ;;
    --list) LIST=1; shift ;;
    -h|--help) usage 0 ;;
    mlflow|trainer|serving|oauth2-proxy|storage-initializer) want+=("$1"); shift ;;
    postgres-standin|minio-standin|mc-standin) want+=("$1"); shift ;;
    standins) want+=("${ALL_STANDINS[@]}"); shift ;;
    *) echo "build.sh: unknown argument \"$1\"" >&2; usage 2 ;;
  esac
done
named=${#want[@]}
[ "$named" -gt 0 ] || want=("${ALL_IMAGES[@]}" "${ALL_STANDINS[@]}")
mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')
case $CA_MODE in auto|on|off) ;; *) echo "build.sh: --ca must be auto, on or off (got \"$CA_MODE\")" >&2; exit 2 ;; esac

t_start=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - t_start) / 1000000 )); printf '[build.sh +%d.%01ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2; }
die() { echo "build.sh: $*" >&2; exit 1; }
is_standin() { [[ $1 == *-standin ]]; }
# The build context: images/<name>, or images/standins/<name without -standin> for a stand-in.
dir_of() { if is_standin "$1"; then echo "$IMAGES_DIR/standins/${1%-standin}"; else echo "$IMAGES_DIR/$1"; fi; }
# A stand-in's references: its `refs` file (one a line, '#' comments), the official references it stands for.
refs_of() {
  if is_standin "$1"; then
    local f; f="$(dir_of "$1")/refs"
    [ -f "$f" ] || die "$f is missing: a stand-in names the references it is tagged as there"
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$f" | awk 'NF'
  else
    echo "$REPO/$1:$TAG"
  fi
}
ref_of() { refs_of "$1" | head -n1; }
# An image whose directory is not there (yet): skipped when it was not named, an error when it was.
present() { [ -f "$(dir_of "$1")/Dockerfile" ]; }

# ---- inputs and their hash (no container tool needed: --list works anywhere) ----------------------------

# Every file of a build context that a COPY could see, sorted: what each image's .dockerignore leaves
# out (Python's caches and *.md docs, at any depth) is left out here too, so a doc edit rebuilds nothing.
context_files() { (cd "$1" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path './.pytest_cache/*' ! -path './*.md' | LC_ALL=C sort); }
hash_dir() { (cd "$1" && context_files . | while read -r f; do printf '%s\n' "$f"; sha256sum "$f" | cut -d' ' -f1; done) | sha256sum | cut -c1-16; }
base_hash() { hash_dir "$IMAGES_DIR/base"; }
# FROM references of the Dockerfiles, fully qualified (python:x → docker.io/library/python:x).
qualify() {
  local r=$1 first=${1%%/*}
  if [[ $r != */* ]]; then echo "docker.io/library/$r"
  elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then echo "$r"
  else echo "docker.io/$r"; fi
}
# The images a Dockerfile builds FROM, qualified: not `scratch` (no image) and not an earlier stage's name
# (`FROM build`, after `FROM … AS build`).
from_refs_of() {
  awk 'toupper($1) == "FROM" {
         ref = ""; for (i = 2; i <= NF; i++) if ($i !~ /^--/) { ref = $i; break }
         if (ref != "" && ref != "scratch" && !(tolower(ref) in stage)) print ref
         for (j = i + 1; j < NF; j++) if (toupper($j) == "AS") stage[tolower($(j + 1))] = 1
       }' "$(dir_of "$1")/Dockerfile" | while read -r r; do qualify "$r"; done
}
from_refs() { local name; for name in "${ALL_IMAGES[@]}" "${ALL_STANDINS[@]}"; do if present "$name"; then from_refs_of "$name"; fi; done | LC_ALL=C sort -u; }
# Which stand-in a FROM reference resolves to: python (images/base) or golang (images/base + the host's
# Go); anything else has none and fails the build by name.
standin_of() {
  case $1 in
    docker.io/library/python:3.11*-slim-bookworm) echo python ;;
    docker.io/library/golang:*-bookworm) echo golang ;;
    *) echo none ;;
  esac
}
# The Go version the golang FROM references name (golang:1.26.8-bookworm → 1.26.8); one for all, as the
# stand-in is the host's Go.
golang_version() {
  local vs
  vs=$(from_refs | while read -r r; do if [ "$(standin_of "$r")" = golang ]; then r=${r##*:}; echo "${r%-bookworm}"; fi; done | LC_ALL=C sort -u)
  [ "$(wc -l <<<"$vs")" -le 1 ] || die "the Dockerfiles name more than one golang version ($(echo $vs)); the golang stand-in is the host's one Go"
  echo "$vs"
}
# The golang stand-in's key: the python base it is made from, the Go version and its recipe (the function
# that makes it, below).
golang_hash() { { echo "base $(base_hash)"; echo "go $(golang_version)"; declare -f build_golang_standin; } | sha256sum | cut -c1-16; }
standin_hash() { case $1 in python) base_hash ;; golang) golang_hash ;; esac; }
# The golang stand-in: the python stand-in (Debian bookworm, ca-certificates) + the host's GOROOT at
# /usr/local/go, with the official golang image's config (PATH, GOPATH=/go, GOLANG_VERSION, GOTOOLCHAIN).
# Defined here because its text is part of golang_hash; run below with buildah's config in the env.
build_golang_standin() { # <ref> <hash> <version>
  local ref=$1 hash=$2 ver=$3 goroot ctr
  goroot=$(go env GOROOT)
  ctr=$(buildah from --pull=never --quiet "$base_ref")
  buildah copy --quiet "$ctr" "$goroot" /usr/local/go >/dev/null
  # As the official image: an empty GOPATH everyone may write to; go itself must run in the image.
  buildah run --network none --isolation oci --runtime runc "$ctr" -- \
    sh -c 'mkdir -p /go/src /go/bin && chmod -R 1777 /go && /usr/local/go/bin/go version' >&2
  buildah config \
    --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env GOLANG_VERSION="$ver" --env GOTOOLCHAIN=local --env GOPATH=/go \
    --env PYTHON_VERSION- --env LANG- \
    --workingdir /go --cmd '["bash"]' \
    --label org.opencontainers.image.description="stand-in for golang:$ver-bookworm: the host's Go $ver over the python stand-in (images/build.sh)" \
    --label "$LABEL_KEY=$hash" \
    "$ctr"
  buildah commit --quiet --format oci --rm "$ctr" "$ref" >/dev/null
}
# The stand-ins an image's Dockerfile needs (python, golang), one a line.
standins_of() { from_refs_of "$1" | while read -r r; do standin_of "$r"; done | LC_ALL=C sort -u; }
image_hash() {
  local s
  { echo "context $(hash_dir "$(dir_of "$1")")"
    for s in $(standins_of "$1"); do echo "$s $(standin_hash "$s")"; done
    echo "build.sh $(sha256sum "$IMAGES_DIR/build.sh" | cut -d' ' -f1)"
    # A stand-in's references are in its context (refs); --tag names only the project's images.
    is_standin "$1" || echo "tag $TAG"; } | sha256sum | cut -c1-16
}

# Not there (yet): an image someone is still writing is skipped unless named.
kept=()
for name in "${want[@]}"; do
  if present "$name"; then kept+=("$name")
  elif [ "$named" -gt 0 ]; then die "$(dir_of "$name")/Dockerfile does not exist"
  else log "skipping $name: $(dir_of "$name")/Dockerfile does not exist (yet)"; fi
done
want=("${kept[@]}")

if [ "$LIST" = 1 ]; then
  for name in "${want[@]}"; do h=$(image_hash "$name"); echo "$name $(ref_of "$name") $h $CACHE/$name-$h.oci.tar"; done
  exit 0
fi

# ---- the machine's package index and Go proxy (never a host written in this file) ---------------------

# The index pip uses on this machine: its configured index-url (PIP_INDEX_URL, or a pip configuration
# file), else pip's own default, asked from pip. Empty when there is no pip here.
pip_index_url() {
  local u
  u=$(pip_configured_index)
  [ -n "$u" ] || u=$(python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)' 2>/dev/null || true)
  echo "$u"
}
# pip's configured index-url only (empty when pip would use its default), by pip's precedence: the
# environment (PIP_INDEX_URL), then the site, user and global configuration files.
pip_configured_index() {
  python3 -m pip config list 2>/dev/null | awk -F"'" '
    $1 ~ /\.index-url=$/ { split($1, k, "."); r = k[1] == ":env:" ? 0 : k[1] == "site" ? 1 : k[1] == "user" ? 2 : 3
                           if (!(r in u)) u[r] = $2 }
    END { for (r = 0; r <= 3; r++) if (r in u) { print u[r]; exit } }' || true
}
# The first module proxy of `go env GOPROXY` that is a URL (not direct/off). Empty without Go or a proxy.
go_proxy_url() {
  command -v go >/dev/null 2>&1 || return 0
  go env GOPROXY 2>/dev/null | tr ',|' '\n\n' | awk '$0 != "direct" && $0 != "off" && NF { print; exit }'
}
# --build-arg for each of the machine's settings a Dockerfile declares (ARG NAME) and the machine has:
# pip's configured index, Go's proxy, checksum database and flags. Only declared ARGs are passed, so the
# project's Dockerfiles (which declare none) build as before; a stand-in's build stage declares them.
build_args_for() {
  local dockerfile=$1 n v
  for n in PIP_INDEX_URL GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOFLAGS; do
    grep -Eq "^ARG[[:space:]]+$n([[:space:]=]|$)" "$dockerfile" || continue
    case $n in
      PIP_INDEX_URL) v=$(pip_configured_index) ;;
      *) v=$(command -v go >/dev/null 2>&1 && go env "$n" 2>/dev/null || true) ;;
    esac
    [ -z "$v" ] || printf '%s\n' "--build-arg" "$n=$v"
  done
}

# ---- tools and engine config ---------------------------------------------------------------------------

[ "$(id -u)" = 0 ] || die "run as root (buildah/podman as root; rootless needs subuid setup this script does not do). With Docker: see images/README.md"
apt_updated=0
need_pkgs=()
for tool in buildah:buildah podman:podman runc:runc debootstrap:debootstrap fuse-overlayfs:fuse-overlayfs slirp4netns:slirp4netns newuidmap:uidmap; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs+=("${tool#*:}")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "[build.sh] installing ${need_pkgs[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  [ $apt_updated = 1 ] || { apt-get update -qq; apt_updated=1; }
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

mkdir -p "$CACHE/containers"
exec 9>"$CACHE/.lock"
flock 9   # one build at a time per cache (CI and a test may both call this script)

# runc, not crun (crun fails on this machine's hybrid cgroup v1 hierarchy); cgroupfs (no systemd here).
# Written every run: the file is what makes a fresh machine behave, not a hand-edited /etc.
# Root here lacks CAP_SYS_RESOURCE: podman's default rlimits for root (nofile/nproc 1048576) cannot be
# set ("error setting rlimit type 7: operation not permitted"), so containers get the host's hard nofile
# and at most 32768 processes (what runc could set here).
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat >"$CACHE/containers/containers.conf" <<EOF
# written by images/build.sh (podman/buildah read it through CONTAINERS_CONF)
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$CACHE/containers/containers.conf
# Short names (FROM python:3.11…) resolve to docker.io only, and only locally: --pull=never.
cat >"$CACHE/containers/registries.conf" <<'EOF'
# written by images/build.sh
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
export CONTAINERS_REGISTRIES_CONF=$CACHE/containers/registries.conf

write_storage_conf() {
  cat >"$CACHE/containers/storage.conf" <<EOF
# written by images/build.sh: the storage driver that works on this machine (podman/buildah read it
# through CONTAINERS_STORAGE_CONF; the integration tests use the same file)
[storage]
driver = "$1"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
}
export CONTAINERS_STORAGE_CONF=$CACHE/containers/storage.conf
storage_works() {
  local c
  c=$(buildah from scratch 2>/dev/null) || return 1
  if buildah mount "$c" >/dev/null 2>&1; then buildah rm "$c" >/dev/null 2>&1; return 0; fi
  buildah rm "$c" >/dev/null 2>&1 || true
  return 1
}
if [ -n "${MLFLOW_PLATFORM_STORAGE_DRIVER:-}" ]; then
  write_storage_conf "$MLFLOW_PLATFORM_STORAGE_DRIVER"
elif [ ! -f "$CONTAINERS_STORAGE_CONF" ]; then
  driver=overlay
  write_storage_conf overlay
  if ! storage_works; then
    log "overlay storage does not work here; using vfs (slower, every layer a full copy)"
    driver=vfs
    write_storage_conf vfs
    storage_works || die "neither overlay nor vfs containers storage works (see buildah from scratch)"
  fi
fi
driver=$(sed -n 's/^driver = "\(.*\)"/\1/p' "$CONTAINERS_STORAGE_CONF")
# The tests (testbed/podman.ts) source this for the same engine settings.
cat >"$CACHE/containers/env" <<EOF
CONTAINERS_CONF=$CONTAINERS_CONF
CONTAINERS_REGISTRIES_CONF=$CONTAINERS_REGISTRIES_CONF
CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF
EOF
log "buildah $(buildah --version | awk '{print $3}'), runtime runc, storage driver $driver, cache $CACHE"

label_of() { buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null || true; }
id_of() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
# Loads an OCI archive into containers storage unless the image there is the archived one: same image ID
# (recorded at build time beside the archive; the config digest, so a re-tag of another image under the
# same name is caught) and the inputs label.
# Removes the image a new build or load replaced under the same name (no dangling images pile up).
drop_replaced() {
  local ref=$1 old_id=$2
  [ -n "$old_id" ] && [ "$old_id" != "$(id_of "$ref")" ] && buildah rmi "$old_id" >/dev/null 2>&1 || true
}
ensure_loaded() {
  local ref=$1 hash=$2 archive=$3 want_id
  want_id=$(cat "${archive%.oci.tar}.id" 2>/dev/null || true)
  if [ "$(label_of "$ref")" = "$hash" ] && { [ -z "$want_id" ] || [ "$(id_of "$ref")" = "$want_id" ]; }; then return 0; fi
  log "loading $archive"
  local old_id; old_id=$(id_of "$ref")
  buildah pull --quiet "oci-archive:$archive:$ref" >/dev/null
  drop_replaced "$ref" "$old_id"
  [ "$(label_of "$ref")" = "$hash" ] || die "$archive did not load as $ref with $LABEL_KEY=$hash"
  [ -z "$want_id" ] || [ "$(id_of "$ref")" = "$want_id" ] || die "$archive loaded as $ref with image ID $(id_of "$ref"), not the recorded $want_id"
}

# ---- the base ------------------------------------------------------------------------------------------

bhash=$(base_hash)
base_ref=localhost/mlflow-platform/python-standin:$bhash
python_tags=(); golang_tags=()
while read -r r; do
  case $(standin_of "$r") in python) python_tags+=("$r") ;; golang) golang_tags+=("$r") ;; esac
done < <(from_refs)

# A stand-in cached as $CACHE/<kind>-<hash>.oci.tar: loaded from its archive, or built by the rest of the
# arguments (a command that commits <ref>), archived, its image ID recorded and older archives removed.
cached_standin() {
  local kind=$1 ref=$2 hash=$3; shift 3
  local archive=$CACHE/$kind-$hash.oci.tar
  if [ -f "$archive" ] && [ "$FORCE" = 0 ]; then ensure_loaded "$ref" "$hash" "$archive"; return 0; fi
  local t0; t0=$(date +%s)
  "$@"
  buildah push --quiet "$ref" "oci-archive:$archive.tmp:$ref" && mv "$archive.tmp" "$archive"
  id_of "$ref" >"$CACHE/$kind-$hash.id"
  find "$CACHE" -maxdepth 1 -name "$kind-*" ! -name "$kind-$hash.*" -delete
  log "$kind stand-in built in $(( $(date +%s) - t0 )) s"
}

build_python_standin() {
  log "building the base stand-in (debootstrap; images/base)"
  BASE_LABEL="$LABEL_KEY=$bhash" bash "$IMAGES_DIR/base/build-base.sh" "$base_ref"
}
ensure_base() {
  cached_standin base "$base_ref" "$bhash" build_python_standin
  # The Dockerfiles' python FROM references, unchanged, resolve to the stand-in (re-tagged each run: cheap).
  local t
  for t in "${python_tags[@]}"; do buildah tag "$base_ref" "$t"; done
}

# The golang stand-in for golang:<version>-bookworm (images/oauth2-proxy's build stage): the host's Go,
# which must be the version the FROM names.
build_host_golang_standin() {
  local gref=$1 ghash=$2 ver=$3 host
  command -v go >/dev/null 2>&1 || die "go is not on PATH: the stand-in for ${golang_tags[*]} is the host's Go $ver (install Go $ver, e.g. to /usr/local/go)"
  host=$(go env GOVERSION)
  [ "$host" = "go$ver" ] || die "the host's Go is $host but the Dockerfiles build FROM ${golang_tags[*]}: the stand-in copies the host's GOROOT, so install Go $ver (or change the FROM to the host's version)"
  log "building the golang stand-in (the host's $host, $(go env GOROOT), over the python stand-in)"
  build_golang_standin "$gref" "$ghash" "$ver"
}
ensure_golang() {
  local ver ghash gref
  ver=$(golang_version); ghash=$(golang_hash)
  gref=localhost/mlflow-platform/golang-standin:$ghash
  cached_standin golang "$gref" "$ghash" build_host_golang_standin "$gref" "$ghash" "$ver"
  local t
  for t in "${golang_tags[@]}"; do buildah tag "$gref" "$t"; done
}

# ---- the host CA bundle for RUN steps only -------------------------------------------------------------

ca_args=()
resolve_ca() {
  local mode=$CA_MODE
  if [ "$mode" = auto ]; then
    [ -f "$HOST_CA" ] || { mode=off; log "CA auto: no host bundle at $HOST_CA: off"; }
  fi
  if [ "$mode" = auto ]; then
    # Does the base image's own trust store reach the package indexes the RUN steps use (the machine's
    # pip index; its Go module proxy when a golang stand-in builds)? If TLS is intercepted it does not. The
    # golang stand-in is this base with Go added: Go reads the same /etc/ssl/certs/ca-certificates.crt.
    local out urls=() name s u
    u=$(pip_index_url); [ -z "$u" ] || urls+=("$u")
    for name in "${want[@]}"; do
      for s in $(standins_of "$name"); do
        if [ "$s" = golang ]; then u=$(go_proxy_url); [ -z "$u" ] || urls+=("${u%/}/"); fi
      done
    done
    mapfile -t urls < <(printf '%s\n' "${urls[@]}" | awk 'NF && !seen[$0]++')
    [ ${#urls[@]} -gt 0 ] || { CA_RESOLVED=off; log "CA auto: no package index or module proxy configured here: off"; return 0; }
    local c; c=$(buildah from --pull=never --quiet "$base_ref")
    # An HTTP error status is an answer over verified TLS: ok.
    out=$(buildah run --network host --isolation oci --runtime runc "$c" -- python3 -c "
import sys, urllib.error, urllib.request
for u in sys.argv[1:]:
    try:
        urllib.request.urlopen(u, timeout=30); print('ok', u)
    except urllib.error.HTTPError:
        print('ok', u)
    except Exception as e:
        print('verify' if 'CERTIFICATE_VERIFY_FAILED' in str(e) else 'error', u, str(e).replace(chr(10), ' '))
" "${urls[@]}" 2>&1 || true)
    buildah rm "$c" >/dev/null 2>&1 || true
    if grep -q '^verify ' <<<"$out"; then mode=on; log "CA auto: the image's trust store fails on $(awk '$1 == "verify" { printf "%s ", $2 }' <<<"$out")(TLS intercepted): host CA bundle mounted for RUN steps"
    elif ! grep -qv '^ok ' <<<"$out"; then mode=off; log "CA auto: ${urls[*]} verify with the image's own trust store: no host CA needed"
    else mode=off; log "CA auto: could not reach every index from the build ($(grep -v '^ok ' <<<"$out" | tail -n1)): off"; fi
  fi
  if [ "$mode" = on ]; then
    [ -f "$HOST_CA" ] || die "--ca on but $HOST_CA does not exist"
    # Over the system bundle (Debian's pip, requests via certifi-system) and over pip's vendored certifi
    # bundle when the base has one elsewhere (the official image's pip): read-only bind mounts exist only
    # while a RUN step runs and are never committed into a layer.
    local targets=(/etc/ssl/certs/ca-certificates.crt) where c
    c=$(buildah from --pull=never --quiet "$base_ref")
    where=$(buildah run --network none --runtime runc "$c" -- \
      python3 -c "import pip._vendor.certifi as c; print(c.where())" 2>/dev/null | tail -n1 || true)
    buildah rm "$c" >/dev/null 2>&1 || true
    [ -n "$where" ] && [ "$where" != /etc/ssl/certs/ca-certificates.crt ] && targets+=("$where")
    local t; for t in "${targets[@]}"; do ca_args+=(-v "$HOST_CA:$t:ro"); done
  fi
  CA_RESOLVED=$mode
}

# Fails when the built image carries the host CA bundle or a CA env var (a CA must be build-only).
check_no_host_ca() {
  local ref=$1 ctr mnt host_sum bad=0 envs
  envs=$(buildah inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$ref")
  if grep -E '^(PIP_CERT|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|AWS_CA_BUNDLE)=' <<<"$envs"; then bad=1; fi
  if buildah inspect --type image --format '{{range .History}}{{println .CreatedBy}}{{end}}' "$ref" | grep -F -e "$HOST_CA:" -e PIP_CERT; then bad=1; fi
  ctr=$(buildah from --pull=never --quiet "$ref"); mnt=$(buildah mount "$ctr")
  host_sum=$(sha256sum "$HOST_CA" | cut -d' ' -f1)
  if [ -f "$mnt/etc/ssl/certs/ca-certificates.crt" ] && [ "$(sha256sum "$mnt/etc/ssl/certs/ca-certificates.crt" | cut -d' ' -f1)" = "$host_sum" ]; then
    echo "$ref: /etc/ssl/certs/ca-certificates.crt is the host's bundle" >&2; bad=1
  fi
  buildah umount "$ctr" >/dev/null; buildah rm "$ctr" >/dev/null
  [ $bad = 0 ] || die "$ref carries the host CA (see above)"
}

# ---- the images ----------------------------------------------------------------------------------------

summary=()
base_ready=0
golang_ready=0
CA_RESOLVED=
for name in "${want[@]}"; do
  while read -r r; do
    [ "$(standin_of "$r")" != none ] || die "$(dir_of "$name")/Dockerfile builds FROM $r, which has no stand-in here (python:3.11*-slim-bookworm and golang:<version>-bookworm have)"
  done < <(from_refs_of "$name")
done
# Writes <ref>'s image as an OCI archive naming every reference in refs (one: buildah push; more: an OCI
# layout holding each name, tarred: what oci-archive: is).
archive_image() { # <archive> <ref>...
  local archive=$1; shift
  if [ $# -eq 1 ]; then buildah push --quiet "$1" "oci-archive:$archive.tmp:$1" >/dev/null
  else
    local layout r; layout=$(mktemp -d "$CACHE/.layout.XXXXXX")
    for r in "$@"; do buildah push --quiet "$1" "oci:$layout:$r" >/dev/null; done
    tar -C "$layout" -cf "$archive.tmp" . && rm -rf "$layout"
  fi
  mv "$archive.tmp" "$archive"
}
golang_version >/dev/null   # dies when the Dockerfiles name two Go versions
for name in "${want[@]}"; do
  mapfile -t refs < <(refs_of "$name")
  [ ${#refs[@]} -gt 0 ] || die "$(dir_of "$name")/refs names no reference"
  ref=${refs[0]}; hash=$(image_hash "$name"); archive=$CACHE/$name-$hash.oci.tar; dir=$(dir_of "$name")
  if [ -f "$archive" ] && [ "$FORCE" = 0 ]; then
    ensure_loaded "$ref" "$hash" "$archive"
    for r in "${refs[@]:1}"; do buildah tag "$ref" "$r"; done
    how=cached; secs=$(sed -n 's/.*"buildSeconds":\([0-9]*\).*/\1/p' "$CACHE/$name-$hash.json" 2>/dev/null || true)
  else
    [ $base_ready = 1 ] || { ensure_base; base_ready=1; }
    if [ $golang_ready = 0 ] && standins_of "$name" | grep -qx golang; then ensure_golang; golang_ready=1; fi
    [ -n "$CA_RESOLVED" ] || resolve_ca
    log "building $ref ($name, inputs $hash, CA $CA_RESOLVED)"
    t0=$(date +%s)
    old_id=$(id_of "$ref")
    mapfile -t bargs < <(build_args_for "$dir/Dockerfile")
    tag_args=(); for r in "${refs[@]}"; do tag_args+=(-t "$r"); done
    buildah bud --pull=never --layers=false --format oci --runtime runc --isolation oci --network host \
      --label "$LABEL_KEY=$hash" "${ca_args[@]}" "${bargs[@]}" \
      -f "$dir/Dockerfile" "${tag_args[@]}" "$dir" >"$CACHE/$name.build.log" 2>&1 || {
        tail -n 40 "$CACHE/$name.build.log" >&2; die "buildah bud of ${dir#"$IMAGES_DIR/"} failed (log: $CACHE/$name.build.log)"; }
    drop_replaced "$ref" "$old_id"
    [ "$CA_RESOLVED" = on ] && check_no_host_ca "$ref"
    archive_image "$archive" "${refs[@]}"
    id_of "$ref" >"$CACHE/$name-$hash.id"
    secs=$(( $(date +%s) - t0 ))
    printf '{"name":"%s","ref":"%s","inputs":"%s","buildSeconds":%s,"ca":"%s","storageDriver":"%s","builtAt":"%s"}\n' \
      "$name" "$ref" "$hash" "$secs" "$CA_RESOLVED" "$driver" "$(date -u +%FT%TZ)" >"$CACHE/$name-$hash.json"
    find "$CACHE" -maxdepth 1 \( -name "$name-*.oci.tar" -o -name "$name-*.json" -o -name "$name-*.id" \) ! -name "$name-$hash.*" -delete
    how=built
  fi
  size=$(podman image inspect --format '{{.Size}}' "$ref")
  summary+=("$(printf '%-19s %-48s %-7s %6s MB image %6s MB archive %s' "$name" "$ref" "$how" "$(( size / 1000000 ))" "$(( $(stat -c %s "$archive") / 1000000 ))" "${secs:+(built in ${secs} s)}")")
done

{
  echo "{"
  first=1
  for name in "${ALL_IMAGES[@]}" "${ALL_STANDINS[@]}"; do
    present "$name" || continue
    hash=$(image_hash "$name")
    [ $first = 1 ] || echo ","
    first=0
    printf '  "%s": {"ref": "%s", "refs": [%s], "inputs": "%s", "archive": "%s"}' "$name" "$(ref_of "$name")" \
      "$(refs_of "$name" | sed 's/.*/"&"/' | paste -sd, - | sed 's/,/, /g')" "$hash" "$CACHE/$name-$hash.oci.tar"
  done
  echo; echo "}"
} >"$CACHE/images.json"
printf '%s\n' "${summary[@]}"
log "done (images.json: $CACHE/images.json)"
