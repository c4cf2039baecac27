#!/usr/bin/env bash
# The stand-in for the official python:3.11-slim-bookworm image, made from Debian packages only (no
# container registry needed): debootstrap --variant=minbase bookworm + packages.txt, setup.sh run in the
# rootfs, imported with buildah and given the official image's config (PATH, LANG, CMD).
#
#   images/base/build-base.sh <image-ref> [<extra-tag>...]
#
# Called by images/build.sh (which caches the result by a hash of this directory); runs as root with
# buildah's config (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF) already in the environment.
# Env: DEBIAN_MIRROR (default: the mirror of the machine's own apt sources for the suite, see debian_mirror),
# BASE_LABEL (key=value label to add).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 <image-ref> [<extra-tag>...]" >&2; exit 2; }
ref=$1; shift
suite=bookworm

# The Debian mirror this machine's apt uses for $suite: the first URI of a deb source listing the suite, in
# /etc/apt/sources.list.d/*.sources (deb822: Types/URIs/Suites stanzas), then the one-line format of
# /etc/apt/sources.list and /etc/apt/sources.list.d/*.list. No mirror is written in this file.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      function flush() { if (deb && has && !off && uri != "") { print uri; found = 1; exit } deb = 0; has = 0; off = 0; uri = "" }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
      tolower($1) == "enabled:" && tolower($2) == "no" { off = 1 }
      END { if (!found) flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI suite components…
    sed -E 's/#.*//; s/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
  done
}
mirror=${DEBIAN_MIRROR:-$(debian_mirror | head -n1)}
[ -n "$mirror" ] || { echo "[base] no apt source on this machine lists a deb repository for $suite: set DEBIAN_MIRROR to a Debian mirror" >&2; exit 2; }
packages=$(grep -v '^\s*#' "$here/packages.txt" | awk 'NF { print $1 }' | paste -sd, -)

work=$(mktemp -d "${TMPDIR:-/tmp}/mlflow-platform-base.XXXXXX")
ctr=
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  # debootstrap may leave /proc mounted in the rootfs when it fails half-way
  umount -R "$work/rootfs/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "[base] debootstrap --variant=minbase $suite ($packages) from $mirror"
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  echo "[base] debootstrap failed (full log above, last 30 lines)" >&2
  exit 1
fi

echo "[base] setup.sh in the rootfs"
install -m 0755 "$here/setup.sh" "$work/rootfs/tmp/setup.sh"
chroot "$work/rootfs" /bin/sh /tmp/setup.sh
rm -f "$work/rootfs/tmp/setup.sh"
chmod 1777 "$work/rootfs/tmp"

echo "[base] import the rootfs into containers storage as $ref"
# Not the host's: /dev, /proc, /sys are provided by the runtime; the apt/debootstrap leftovers go.
tar --numeric-owner --xattrs -C "$work/rootfs" \
  --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* --exclude=./run/* --exclude=./debootstrap \
  -cf "$work/rootfs.tar" .
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
# The official image's config (docker inspect python:3.11-slim-bookworm): PATH with /usr/local/bin first,
# LANG=C.UTF-8, CMD python3. PYTHON_VERSION tells the truth about this image (Debian's 3.11).
pyver=$(chroot "$work/rootfs" /usr/local/bin/python -c 'import platform; print(platform.python_version())')
label_args=()
[ -n "${BASE_LABEL:-}" ] && label_args=(--label "$BASE_LABEL")
buildah config \
  --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 \
  --env PYTHON_VERSION="$pyver" \
  --cmd '["python3"]' \
  --os linux --arch "$(buildah info --format '{{.host.arch}}' 2>/dev/null || echo amd64)" \
  --label org.opencontainers.image.description="stand-in for python:3.11-slim-bookworm: Debian $suite python3.11 $pyver (images/base)" \
  "${label_args[@]}" \
  "$ctr"
buildah commit --quiet --format oci --rm "$ctr" "$ref" >/dev/null
ctr=
for t in "$@"; do buildah tag "$ref" "$t"; done
echo "[base] $ref (python $pyver)${*:+, tagged $*}"
