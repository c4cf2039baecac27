"""Shared fixtures: the trainer directory on sys.path, a synthetic dataset, the CSV bytes, and the world a training
run logs to (moto's S3 mock + a SQLite tracking store)."""

import os
import sys
from pathlib import Path

import boto3
import mlflow
import pytest
from mlflow import MlflowClient
from moto import mock_aws

TRAINER_DIR = Path(__file__).resolve().parents[2] / "images" / "trainer"
if str(TRAINER_DIR) not in sys.path:
    sys.path.insert(0, str(TRAINER_DIR))

from make_synthetic_data import make_frame  # noqa: E402


@pytest.fixture(scope="session")
def frame():
    return make_frame(rows=200, seed=11)


@pytest.fixture(scope="session")
def csv_bytes(frame) -> bytes:
    return frame.to_csv(index=False).encode()


EXPERIMENT = "california_housing_price"


@pytest.fixture(scope="module")
def world(tmp_path_factory, csv_bytes, frame):
    tmp = tmp_path_factory.mktemp("mlflow")
    saved = dict(os.environ)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    for var in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        os.environ.pop(var, None)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("data", "artifacts"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="data", Key="housing.csv", Body=csv_bytes)
        s3.put_object(Bucket="data", Key="no-target.csv", Body=frame.drop(columns=["MedHouseVal"]).to_csv(index=False).encode())
        s3.put_object(Bucket="data", Key="empty.csv", Body=b"")
        uri = f"sqlite:///{tmp}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(uri)
        client.create_experiment(EXPERIMENT, artifact_location="s3://artifacts/experiments")
        env = {
            "MLFLOW_TRACKING_URI": uri,
            "DATASET_S3_PATH": "s3://data/housing.csv",
            "MAX_DEPTH": "3",
            "LEARNING_RATE": "0.2",
            "MAX_ITER": "30",
            "RANDOM_STATE": "5",
            "TRAINING_PROFILE": "ci",
            "DVC_REMOTE": "s3://dvc/store",
        }
        yield {"client": client, "env": env, "s3": s3, "tmp": tmp}
    os.environ.clear()
    os.environ.update(saved)
