"""Reference training job: one invocation = one MLflow run = (at most) one registered model version.

Configuration comes from environment variables (set by the platform's training CronJobs); the
command-line flags of the same name override them (e.g. MAX_DEPTH -> --max-depth).

Exit codes: 0 success; 2 invalid configuration or dataset (nothing logged to MLflow);
1 failure after the run started (the run is marked FAILED; no model version is registered,
registration being the last step). Errors are one line on stderr, starting with "train.py: error:".
The last line on stdout of a successful run is a JSON summary (run_id, model_uri, version, metrics).
"""

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from src.california_housing import FEATURE_COLUMNS, TARGET_COLUMN
from src.california_housing.data import DatasetError, dvc_md5, parse_dataset, parse_s3_uri, read_s3_bytes

SRC_DIR = Path(__file__).resolve().parent / "src"


class ConfigError(ValueError):
    """A configuration value is missing or invalid."""


@dataclass(frozen=True)
class Config:
    tracking_uri: str
    experiment_name: str
    registered_model_name: str
    dataset_s3_path: str
    dvc_remote: str | None
    dvc_dataset_hash: str | None
    max_depth: int | None
    learning_rate: float
    max_iter: int
    random_state: int
    test_size: float
    training_profile: str | None


# env var -> (default, parser). Names are a contract with the platform's CronJob templates.
def _text(name: str, raw: str) -> str:
    return raw


def _int(minimum: int | None):
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name}={raw!r} must be >= {minimum}")
        return value

    return parse


def _max_depth(name: str, raw: str) -> int | None:
    if raw.strip().lower() in ("none", "null"):
        return None
    try:
        return _int(1)(name, raw)
    except ConfigError:
        raise ConfigError(f"{name}={raw!r} must be an integer >= 1 or 'none'") from None


def _open_float(low: float, high: float | None):
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if not (value > low and (high is None or value < high)) or value != value:
            bound = f"between {low} and {high} (exclusive)" if high is not None else f"> {low}"
            raise ConfigError(f"{name}={raw!r} must be {bound}")
        return value

    return parse


def _model_name(name: str, raw: str) -> str:
    value = raw.strip()
    if "/" in value or ":" in value:
        raise ConfigError(f"{name}={raw!r} is not a valid registered model name (no '/' or ':')")
    return value


def _dvc_hash(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise ConfigError(f"{name}={raw!r} is not an md5 hex digest (32 hex characters)")
    return value


SETTINGS: dict[str, tuple[str, str | None, object]] = {
    # field: (ENV_NAME, default, parser)
    "tracking_uri": ("MLFLOW_TRACKING_URI", None, _text),
    "experiment_name": ("MLFLOW_EXPERIMENT_NAME", "california_housing_price", _text),
    "registered_model_name": ("REGISTERED_MODEL_NAME", "CaliforniaHousingRegressor", _model_name),
    "dataset_s3_path": ("DATASET_S3_PATH", None, _text),
    "dvc_remote": ("DVC_REMOTE", "", _text),
    "dvc_dataset_hash": ("DVC_DATASET_HASH", "", _dvc_hash),
    "max_depth": ("MAX_DEPTH", "6", _max_depth),
    "learning_rate": ("LEARNING_RATE", "0.1", _open_float(0.0, None)),
    "max_iter": ("MAX_ITER", "200", _int(1)),
    "random_state": ("RANDOM_STATE", "42", _int(0)),
    "test_size": ("TEST_SIZE", "0.2", _open_float(0.0, 1.0)),
    "training_profile": ("TRAINING_PROFILE", "", _text),
}
OPTIONAL = {"dvc_remote", "dvc_dataset_hash", "training_profile"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise ConfigError(message)


def parse_config(argv: list[str] | None, environ: dict[str, str]) -> Config:
    parser = _Parser(prog="train.py", description=__doc__.splitlines()[0])
    for field, (env, default, _) in SETTINGS.items():
        flag = "--" + env.lower().replace("_", "-").removeprefix("mlflow-")
        parser.add_argument(flag, dest=field, metavar=env, help=f"overrides ${env} (default: {default or 'unset'})")
    args = vars(parser.parse_args(argv))
    values: dict[str, object] = {}
    for field, (env, default, parse) in SETTINGS.items():
        raw = args[field] if args[field] is not None else environ.get(env, "")
        raw = raw if raw.strip() else (default or "")
        if not raw.strip():
            if field in OPTIONAL:
                values[field] = None
                continue
            raise ConfigError(f"{env} is not set")
        values[field] = parse(env, raw)  # type: ignore[operator]
    try:
        parse_s3_uri(str(values["dataset_s3_path"]))
    except DatasetError as err:
        raise ConfigError(str(err)) from None
    return Config(**values)  # type: ignore[arg-type]


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 600 else text[:597] + "..."


def _fail(message: str, code: int) -> int:
    print(f"train.py: error: {message}", file=sys.stderr, flush=True)
    return code


def split(frame: pd.DataFrame, cfg: Config):
    from sklearn.model_selection import train_test_split

    x, y = frame.loc[:, list(FEATURE_COLUMNS)], frame[TARGET_COLUMN]
    try:
        return train_test_split(x, y, test_size=cfg.test_size, random_state=cfg.random_state)
    except ValueError as err:
        raise DatasetError(f"cannot split {len(frame)} rows with TEST_SIZE={cfg.test_size}: {_one_line(err)}") from err


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    import mlflow

    # The image installs mlflow-skinny (there is no `mlflow` distribution to ask): the model records
    # mlflow==<the same version>, as before.
    return [f"mlflow=={mlflow.__version__}"] + [f"{pkg}=={version(pkg)}" for pkg in ("scikit-learn", "pandas", "numpy", "cloudpickle")]


def log_input(dataset, attempts: int = 3) -> None:
    """mlflow.log_input, again when a concurrent run registered the same dataset first.

    Two training Jobs started together both insert the experiment's dataset row; the server answers the loser with
    a unique violation on dataset_pk (found on the real node: train-baseline and train-deep launched at once). The
    row then exists, and the next call only links it to this run.
    """
    import mlflow

    for attempt in range(1, attempts + 1):
        try:
            mlflow.log_input(dataset, context="training")
            return
        except mlflow.exceptions.MlflowException as e:
            if "dataset_pk" not in str(e) or attempt == attempts:
                raise
            time.sleep(0.5 * attempt)


def train_and_register(cfg: Config, frame: pd.DataFrame, dvc_hash: str, hash_source: str) -> dict:
    import mlflow
    import numpy as np
    from mlflow.models import infer_signature

    from src.california_housing.model import CaliforniaHousingModel, fit, make_estimator, regression_metrics

    x_train, x_test, y_train, y_test = split(frame, cfg)
    mlflow.set_tracking_uri(cfg.tracking_uri)
    experiment = mlflow.set_experiment(cfg.experiment_name)
    run_name = f"{cfg.training_profile or 'train'}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    with mlflow.start_run(run_name=run_name) as run:  # an exception inside marks the run FAILED
        tags = {
            "dataset.s3_path": cfg.dataset_s3_path,
            "dataset.dvc_hash": dvc_hash,
            "dataset.dvc_hash_source": hash_source,
            "dataset.rows": str(len(frame)),
        }
        if cfg.dvc_remote:
            tags["dataset.dvc_remote"] = cfg.dvc_remote
        if cfg.training_profile:
            tags["training.profile"] = cfg.training_profile
        mlflow.set_tags(tags)
        mlflow.log_params(
            {
                "max_depth": "None" if cfg.max_depth is None else cfg.max_depth,
                "learning_rate": cfg.learning_rate,
                "max_iter": cfg.max_iter,
                "random_state": cfg.random_state,
                "test_size": cfg.test_size,
                "training_profile": cfg.training_profile or "",
                "estimator": "HistGradientBoostingRegressor",
                "train_rows": len(x_train),
                "test_rows": len(x_test),
            }
        )
        dataset = mlflow.data.from_pandas(
            frame, source=cfg.dataset_s3_path, targets=TARGET_COLUMN, name="california_housing"
        )
        log_input(dataset)

        estimator = fit(make_estimator(cfg.max_depth, cfg.learning_rate, cfg.max_iter, cfg.random_state), x_train, y_train)
        wrapper = CaliforniaHousingModel(estimator)
        train_pred = wrapper.predict(None, x_train)
        test_pred = wrapper.predict(None, x_test)
        metrics = {**regression_metrics(y_train, train_pred, "train"), **regression_metrics(y_test, test_pred, "test")}
        mlflow.log_metrics(metrics)

        example = x_test.head(5)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=wrapper,
            code_paths=[str(SRC_DIR)],
            signature=infer_signature(example, wrapper.predict(None, example)),
            input_example=example,
            pip_requirements=_pip_requirements(),
        )
        # Guard before registering: the stored artifact loads (with its bundled src/) and agrees.
        reloaded = mlflow.pyfunc.load_model(info.model_uri).predict(example)
        if not np.allclose(np.asarray(reloaded, dtype="float64"), wrapper.predict(None, example)):
            raise RuntimeError(f"logged model {info.model_uri} does not reproduce the trained model's predictions")
        version = mlflow.register_model(info.model_uri, cfg.registered_model_name)  # last step of the run
    return {
        "run_id": run.info.run_id,
        "experiment_id": experiment.experiment_id,
        "model_uri": info.model_uri,
        "model_id": info.model_id,
        "registered_model_name": cfg.registered_model_name,
        "version": int(version.version),
        "metrics": metrics,
    }


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    try:
        cfg = parse_config(argv, environ)
        content = read_s3_bytes(cfg.dataset_s3_path)
        frame = parse_dataset(content, cfg.dataset_s3_path)
        split(frame, cfg)  # fail on an unsplittable dataset before any run exists
    except (ConfigError, DatasetError) as err:
        return _fail(_one_line(err), 2)
    if cfg.dvc_dataset_hash:
        dvc_hash, hash_source = cfg.dvc_dataset_hash, "DVC_DATASET_HASH"
    else:
        dvc_hash, hash_source = dvc_md5(content), "md5 of the object bytes (DVC 3 single-file hash)"
    print(f"dataset {cfg.dataset_s3_path}: {len(frame)} rows, md5 {dvc_hash}", flush=True)
    print("config " + json.dumps({k: v for k, v in asdict(cfg).items() if k != "tracking_uri"}), flush=True)
    try:
        summary = train_and_register(cfg, frame, dvc_hash, hash_source)
    except Exception as err:  # noqa: BLE001 - any failure: one line, non-zero, run already FAILED
        return _fail(f"training run failed: {type(err).__name__}: {_one_line(err)}", 1)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
