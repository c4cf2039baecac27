#!/usr/bin/env python3
"""fetch-backup.py: download one backup of the mlflow-db-backup CronJob (helper of restore-database.sh).

Usage: fetch-backup.py <s3://bucket/.../<stamp>.dump | latest> <destination file> [--prefix s3://bucket/backups/<db>]

"latest" is the newest <stamp>.dump directly under --prefix (the stamps, YYYYmmddTHHMMSSZ in UTC, sort by time).
On success prints the resolved s3:// URI (one line) and writes the object to the destination; when the object carries
the sha256 the backup recorded (metadata "sha256"), the download must match it. Credentials and endpoint come from the
usual AWS environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a web identity, a profile; AWS_ENDPOINT_URL_S3).

Exit codes: 0 fetched · 2 bad input · 4 no such dump (or no dump under the prefix) · 5 S3 unreachable or access
refused · 6 the download does not match its recorded sha256. Every error is one line on stderr, without a prefix
(restore-database.sh adds its own).
"""

import hashlib
import os
import re
import sys

STAMP_KEY = re.compile(r"\d{8}T\d{6}Z\.dump")


class Refusal(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def split_s3(uri, what):
    m = re.fullmatch(r"s3://([^/]+)/?(.*)", uri or "")
    if not m:
        raise Refusal(2, f"{what} must be an s3:// URI, got {uri!r}")
    return m.group(1), m.group(2)


def client():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)


def s3_error(err, uri):
    """A botocore error as a Refusal: 404 → 4 (missing), anything else → 5 (unreachable or refused)."""
    from botocore.exceptions import ClientError

    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("404", "NoSuchKey", "NotFound") or status == 404:
            return Refusal(4, f"dump {uri} not found")
        if code == "NoSuchBucket":
            return Refusal(4, f"dump {uri} not found: no such bucket")
        return Refusal(5, f"S3 refused access to {uri}: {code or status} {' '.join(str(err).split())}")
    return Refusal(5, f"S3 unreachable for {uri}: {type(err).__name__}: {' '.join(str(err).split())}")


def latest(s3, prefix):
    bucket, key = split_s3(prefix, "--prefix")
    key = key.rstrip("/") + "/" if key else ""
    where = f"s3://{bucket}/{key}"
    newest = None
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(key):]
                if STAMP_KEY.fullmatch(name) and (newest is None or name > newest):
                    newest = name
    except Exception as err:  # noqa: BLE001 - classified below
        raise s3_error(err, where) from None
    if newest is None:
        raise Refusal(4, f"no dump under {where} (expected <YYYYmmddTHHMMSSZ>.dump objects)")
    return f"s3://{bucket}/{key}{newest}"


def fetch(s3, uri, dest):
    bucket, key = split_s3(uri, "the dump")
    if not key:
        raise Refusal(2, f"the dump {uri!r} names a bucket, not an object")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        s3.download_file(bucket, key, dest)
    except Exception as err:  # noqa: BLE001 - classified below
        raise s3_error(err, uri) from None
    recorded = (head.get("Metadata") or {}).get("sha256")
    if recorded:
        h = hashlib.sha256()
        with open(dest, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != recorded:
            raise Refusal(6, f"dump {uri} is corrupt: its sha256 {h.hexdigest()} differs from the {recorded} recorded at backup time")


def main(argv):
    args = list(argv)
    prefix = None
    if "--prefix" in args:
        i = args.index("--prefix")
        if i + 1 >= len(args):
            raise Refusal(2, "--prefix needs a value")
        prefix = args[i + 1]
        del args[i : i + 2]
    if len(args) != 2:
        raise Refusal(2, "usage: fetch-backup.py <s3://…/<stamp>.dump | latest> <destination> [--prefix s3://bucket/backups/<db>]")
    source, dest = args
    s3 = client()
    if source == "latest":
        if not prefix:
            raise Refusal(2, "'latest' needs the prefix to look under (BACKUP_PREFIX=s3://<bucket>/backups/<db>)")
        source = latest(s3, prefix)
    else:
        split_s3(source, "the dump")
    fetch(s3, source, dest)
    print(source)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Refusal as r:
        print(str(r), file=sys.stderr)
        sys.exit(r.code)
    except Exception as err:  # noqa: BLE001 - one line whatever failed
        print(f"{type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(5)
