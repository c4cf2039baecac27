#!/bin/sh
# Entrypoint of the MinIO stand-in (images/standins/minio), as the official image's: the arguments are a
# minio command line with or without the leading "minio" (the platform's StatefulSet passes only
# `server /data --address :9000 --console-address :9001`). No arguments: the image's CMD, `minio`.
set -eu
if [ "$#" -gt 0 ] && [ "$1" != minio ]; then set -- minio "$@"; fi
exec "$@"
