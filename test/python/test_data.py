import hashlib

import boto3
import pytest
from moto import mock_aws

from src.california_housing.data import DatasetError, dvc_md5, parse_dataset, parse_s3_uri, read_s3_bytes

SRC = "s3://b/k.csv"


@pytest.mark.parametrize(
    "uri,expected",
    [("s3://bucket/key.csv", ("bucket", "key.csv")), ("s3://my.bucket-1/a/b/c.csv", ("my.bucket-1", "a/b/c.csv"))],
)
def test_parse_s3_uri(uri, expected):
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["", "/data/x.csv", "s3://bucket", "s3://bucket/", "s3://bucket/dir/", "gs://b/k.csv", "s3://B/k"])
def test_parse_s3_uri_rejects(uri):
    with pytest.raises(DatasetError, match="DATASET_S3_PATH"):
        parse_s3_uri(uri)


def test_dvc_md5_is_md5_of_bytes():
    assert dvc_md5(b"") == "d41d8cd98f00b204e9800998ecf8427e"
    assert dvc_md5(b"a,b\n1,2\n") == hashlib.md5(b"a,b\n1,2\n").hexdigest()


def test_parse_dataset_ok(csv_bytes, frame):
    out = parse_dataset(csv_bytes, SRC)
    assert len(out) == len(frame) and list(out.columns) == list(frame.columns)
    assert (out.dtypes == "float64").all()


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda f: b"", "is empty"),
        (lambda f: b"  \n", "is empty"),
        (lambda f: f.head(0).to_csv(index=False).encode(), "no data rows"),
        (lambda f: f.drop(columns=["MedInc", "MedHouseVal"]).to_csv(index=False).encode(), "missing column\\(s\\) MedInc, MedHouseVal"),
        (lambda f: f.head(5).to_csv(index=False).encode(), "at least 10"),
        (lambda f: f.assign(Population="many").to_csv(index=False).encode(), "non-numeric values in column\\(s\\) Population"),
        (lambda f: f.assign(MedHouseVal=None).to_csv(index=False).encode(), "without MedHouseVal"),
        (lambda f: bytes(range(256)) * 4, "not a readable CSV"),
    ],
)
def test_parse_dataset_rejects(frame, mutate, message):
    with pytest.raises(DatasetError, match=message):
        parse_dataset(mutate(frame), SRC)


@mock_aws
def test_read_s3_bytes_and_missing_object(monkeypatch, csv_bytes):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="h.csv", Body=csv_bytes)
    assert read_s3_bytes("s3://data/h.csv") == csv_bytes
    with pytest.raises(DatasetError, match="cannot read s3://data/nope.csv: S3 error NoSuchKey"):
        read_s3_bytes("s3://data/nope.csv")
    with pytest.raises(DatasetError, match="NoSuchBucket"):
        read_s3_bytes("s3://other/h.csv")
