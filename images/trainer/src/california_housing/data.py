"""Dataset access: S3 object -> validated DataFrame, plus the DVC-compatible content hash."""

import hashlib
import io
import os
import re

import pandas as pd

from src.california_housing import FEATURE_COLUMNS, TARGET_COLUMN

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>[^\s].*)$")
MIN_ROWS = 10


class DatasetError(ValueError):
    """The dataset is missing, unreadable or does not have the expected shape."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key.csv`` -> (bucket, key); DatasetError names the value otherwise."""
    match = _S3_URI.match(uri or "")
    if not match or match.group("key").endswith("/"):
        raise DatasetError(f"DATASET_S3_PATH={uri!r} is not an object URI of the form s3://<bucket>/<key>.csv")
    return match.group("bucket"), match.group("key")


def s3_endpoint_url() -> str | None:
    """MLflow's MLFLOW_S3_ENDPOINT_URL first, so data and artifacts use the same S3 endpoint.

    When it is unset, boto3 itself honours AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    """
    return os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None


def read_s3_bytes(uri: str, s3_client=None) -> bytes:
    """Download the whole object (credentials from boto3's default chain)."""
    bucket, key = parse_s3_uri(uri)
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        client = s3_client or boto3.client("s3", endpoint_url=s3_endpoint_url())
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "Unknown")
        raise DatasetError(f"cannot read {uri}: S3 error {code}") from err
    except BotoCoreError as err:
        raise DatasetError(f"cannot read {uri}: {err}") from err


def dvc_md5(content: bytes) -> str:
    """MD5 of the file bytes: what DVC 3.x records as ``md5`` in a single-file ``.dvc`` entry.

    (DVC 2.x's legacy ``md5-dos2unix`` hash differs only for text files with CRLF line endings.)
    """
    return hashlib.md5(content).hexdigest()


def parse_dataset(content: bytes, source: str) -> pd.DataFrame:
    """CSV bytes -> DataFrame with the 8 feature columns (float64) and the target; DatasetError otherwise."""
    if not content.strip():
        raise DatasetError(f"dataset {source} is empty")
    try:
        frame = pd.read_csv(io.BytesIO(content))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"dataset {source} is not a readable CSV: {first}") from err
    required = [*FEATURE_COLUMNS, TARGET_COLUMN]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"dataset {source} is missing column(s) {', '.join(missing)}; required: {', '.join(required)}"
        )
    frame = frame.loc[:, required]
    if frame.empty:
        raise DatasetError(f"dataset {source} has a header but no data rows")
    bad = [c for c in required if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DatasetError(f"dataset {source} has non-numeric values in column(s) {', '.join(bad)}")
    frame = frame.astype("float64")
    if frame[TARGET_COLUMN].isna().any():
        raise DatasetError(f"dataset {source} has {int(frame[TARGET_COLUMN].isna().sum())} row(s) without {TARGET_COLUMN}")
    if len(frame) < MIN_ROWS:
        raise DatasetError(f"dataset {source} has {len(frame)} row(s); at least {MIN_ROWS} are needed to train and test")
    return frame
