"""The platform's storage initializer: the init container KServe injects into a predictor pod.

KServe's pod webhook runs the image with `<source URI> <destination>` pairs as its arguments (the
ClusterStorageContainer the platform declares names this image), e.g. `s3://bucket/1/models/m-…/artifacts/
/mnt/models`. Each pair is downloaded with KServe's own downloader (kserve-storage, pinned), then made exact:

- an S3 URI that names no object is a directory: it gets a trailing slash, so `…/artifacts` never pulls the
  sibling prefix `…/artifacts-old/` (kserve-storage matches the key prefix as a string);
- kserve-storage skips empty objects: each one under the prefix is created as an empty file (a model's
  `code/…/__init__.py` is one);
- every object under the prefix must then be on disk with its size, and nothing else: else exit 1, naming it.

Exit 0 when every pair is complete; 1 on any failure (KServe reports the log's tail as the model's
`lastFailureInfo`); 2 on bad arguments.
"""
import os
import sys
from urllib.parse import urlparse

from kserve_storage import Storage
from kserve_storage.logging import configure_logging, logger


def directory_uri(uri: str, s3) -> str:
    """`uri` with a trailing slash, unless it names one object exactly."""
    if uri.endswith("/"):
        return uri
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if key == "":
        return uri + "/"
    try:
        s3.head_object(Bucket=parsed.netloc, Key=key)
        return uri
    except s3.exceptions.ClientError:
        return uri + "/"


def objects_under(uri: str, s3) -> dict:
    """Relative path -> size of every object under the directory `uri` (which ends with '/')."""
    parsed = urlparse(uri)
    prefix = parsed.path.lstrip("/")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=parsed.netloc, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            out[key[len(prefix):]] = obj["Size"]
    return out


def files_under(root: str) -> dict:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = os.path.getsize(path)
    return out


def make_exact(uri: str, dest: str, s3) -> None:
    """Creates the empty objects kserve-storage skipped; fails unless dest holds exactly the objects under uri."""
    wanted = objects_under(uri, s3)
    for rel, size in wanted.items():
        path = os.path.join(dest, rel)
        if size == 0 and not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "wb").close()
            logger.info("Created empty object %s", rel)
    have = files_under(dest)
    missing = sorted(r for r in wanted if have.get(r) != wanted[r])
    extra = sorted(r for r in have if r not in wanted)
    if missing or extra:
        raise RuntimeError(f"{dest} does not hold exactly {uri}: missing or wrong size {missing[:10]}, not in the source {extra[:10]}")
    logger.info("%s holds exactly the %d objects of %s", dest, len(wanted), uri)


def s3_client():
    import boto3

    return boto3.client("s3", **Storage._get_s3_client_kwargs())


def main(argv: list) -> int:
    configure_logging()
    if len(argv) < 2 or len(argv) % 2 != 0:
        print("usage: initialize.py <source URI> <destination> [<source URI> <destination> ...]", file=sys.stderr)
        return 2
    pairs = list(zip(argv[0::2], argv[1::2]))
    try:
        for src, dest in pairs:
            os.makedirs(dest, exist_ok=True)
            if src.startswith("s3://"):
                s3 = s3_client()
                src = directory_uri(src, s3)
                Storage.download(src, dest)
                if src.endswith("/"):
                    make_exact(src, dest, s3)
            else:
                Storage.download(src, dest)
    except Exception as e:  # noqa: BLE001 - every failure is the model's load failure, reported by its message
        logger.error("Storage initialization failed: %s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
