"""train.main() end to end in-process: moto's S3 mock + a SQLite tracking store (no servers)."""

import json
import os
import subprocess
import sys

import mlflow
import pytest

import train

MODEL = "CaliforniaHousingRegressor"
EXPERIMENT = "california_housing_price"


def _versions(client):
    return client.search_model_versions(f"name='{MODEL}'")


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"DATASET_S3_PATH": "s3://data/no-target.csv"}, "missing column(s) MedHouseVal"),
        ({"DATASET_S3_PATH": "s3://data/empty.csv"}, "is empty"),
        ({"DATASET_S3_PATH": "s3://data/absent.csv"}, "S3 error NoSuchKey"),
        ({"MAX_ITER": "many"}, "MAX_ITER='many' is not an integer"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_logs_nothing(world, capsys, overrides, message):
    code = train.main([], {**world["env"], **overrides})
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("train.py: error: ") and message in err[0]
    exp = world["client"].get_experiment_by_name(EXPERIMENT)
    assert world["client"].search_runs([exp.experiment_id]) == []
    assert _versions(world["client"]) == []


def test_failure_inside_run_marks_it_failed_and_registers_nothing(world, capsys, monkeypatch):
    class WrongModel:
        def predict(self, frame):
            return [0.0] * len(frame)

    import mlflow.pyfunc  # noqa: F401 - mlflow.pyfunc is a lazy proxy; patch the real module

    monkeypatch.setattr(sys.modules["mlflow.pyfunc"], "load_model", lambda uri: WrongModel())
    code = train.main([], {**world["env"], "TRAINING_PROFILE": "broken"})
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "does not reproduce" in err[-1]
    runs = world["client"].search_runs(
        [world["client"].get_experiment_by_name(EXPERIMENT).experiment_id], "tags.`training.profile` = 'broken'"
    )
    assert [r.info.status for r in runs] == ["FAILED"]
    assert _versions(world["client"]) == []


def test_successful_run_logs_everything_and_registers_a_version(world, capsys, csv_bytes, tmp_path):
    code = train.main([], world["env"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    summary = json.loads(out[-1])
    client = world["client"]
    run = client.get_run(summary["run_id"])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert {k: params[k] for k in ("max_depth", "learning_rate", "max_iter", "random_state", "test_size")} == {
        "max_depth": "3", "learning_rate": "0.2", "max_iter": "30", "random_state": "5", "test_size": "0.2"
    }
    assert set(run.data.metrics) >= {"train_rmse", "train_r2", "test_rmse", "test_r2"}
    assert run.data.metrics["test_r2"] > 0.5  # the synthetic target is learnable
    tags = run.data.tags
    assert tags["dataset.s3_path"] == "s3://data/housing.csv"
    assert tags["dataset.dvc_hash"] == train.dvc_md5(csv_bytes)
    assert tags["dataset.dvc_remote"] == "s3://dvc/store"
    [dataset_input] = run.inputs.dataset_inputs
    assert json.loads(dataset_input.dataset.source) == {"uri": "s3://data/housing.csv"}
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"

    [version] = _versions(client)
    assert str(version.version) == str(summary["version"]) == "1" and version.run_id == run.info.run_id
    download = client.get_model_version_download_uri(MODEL, version.version)
    assert download.startswith("s3://artifacts/experiments/")
    bucket, prefix = download[len("s3://"):].split("/", 1)
    keys = {o["Key"][len(prefix) + 1:] for o in world["s3"].list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert {"MLmodel", "python_model.pkl", "code/src/california_housing/features.py", "input_example.json"} <= keys

    # The artifact is self-contained: a fresh interpreter without the trainer on sys.path loads and predicts.
    local = mlflow.artifacts.download_artifacts(artifact_uri=download, dst_path=str(tmp_path))
    script = (
        "import sys, json, pandas as pd, mlflow.pyfunc;"
        "m = mlflow.pyfunc.load_model(sys.argv[1]);"
        "d = json.load(open(sys.argv[1] + '/serving_input_example.json'))['dataframe_split'];"
        "print(json.dumps(list(map(float, m.predict(pd.DataFrame(d['data'], columns=d['columns']))))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script, local], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    predictions = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(predictions) == 5 and all(0.0 < p < 6.0 for p in predictions)


def test_log_input_again_after_a_concurrent_runs_dataset_insert(monkeypatch):
    """Two Jobs started together: the loser's first log_input meets dataset_pk; the next call links the row."""
    calls = []

    def flaky(dataset, context):
        calls.append(context)
        if len(calls) == 1:
            raise mlflow.exceptions.MlflowException('BAD_REQUEST: duplicate key value violates unique constraint "dataset_pk"')

    monkeypatch.setattr(mlflow, "log_input", flaky)
    monkeypatch.setattr(train.time, "sleep", lambda s: None)
    train.log_input(object())
    assert calls == ["training", "training"]


def test_log_input_other_errors_and_the_last_attempt_raise(monkeypatch):
    def broken(dataset, context):
        raise mlflow.exceptions.MlflowException("INTERNAL_ERROR: something else")

    monkeypatch.setattr(mlflow, "log_input", broken)
    with pytest.raises(mlflow.exceptions.MlflowException, match="something else"):
        train.log_input(object())

    calls = []

    def always_pk(dataset, context):
        calls.append(1)
        raise mlflow.exceptions.MlflowException('duplicate key value violates unique constraint "dataset_pk"')

    monkeypatch.setattr(mlflow, "log_input", always_pk)
    monkeypatch.setattr(train.time, "sleep", lambda s: None)
    with pytest.raises(mlflow.exceptions.MlflowException, match="dataset_pk"):
        train.log_input(object(), attempts=3)
    assert len(calls) == 3
