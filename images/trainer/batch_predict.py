"""Batch inference: one invocation = one batch run = the predictions of one registered model version for one CSV.

The suspended CronJobs `batch-<profile>` (manifests/batch.ts) run this with `command: python /app/batch_predict.py`
in the trainer image; one Job = one batch run. Steps:
  1. resolve models:/<REGISTERED_MODEL_NAME>@<BATCH_ALIAS> to a version with MlflowClient, and print one line
     naming that version;
  2. read the input CSV (BATCH_INPUT_S3_PATH) from S3;
  3. load exactly that version (models:/<name>/<version>) with mlflow.pyfunc and check the input's columns against
     the model's signature;
  4. write <BATCH_OUTPUT_S3_PREFIX>/<run id>/predictions.csv (the input's rows, every column as read, plus a
     `prediction` column), then metadata.json next to it (model name, alias, version, run id, source, storage
     URI, row count, input path, time). metadata.json is written last: a run's output is complete iff it exists.
Nothing is written to S3 before every check has passed.

Environment (a contract with manifests/batch.ts, batchEnv):
  MLFLOW_TRACKING_URI                       tracking server (required)
  REGISTERED_MODEL_NAME                     default CaliforniaHousingRegressor
  BATCH_ALIAS                               default production
  BATCH_INPUT_S3_PATH                       s3://<bucket>/<key>.csv (required)
  BATCH_OUTPUT_S3_PREFIX                    s3://<bucket>[/<prefix>] (required)
  BATCH_RUN_ID                              the run's directory under the prefix; the CronJob sets it to the Job's
                                            name (label batch.kubernetes.io/job-name, so a retried pod of the same
                                            Job rewrites the same directory); unset or empty: this host's name
                                            (in a pod: the pod's name)
  BATCH_PROFILE                             recorded in metadata.json (optional)
  MLFLOW_TRACKING_USERNAME / _PASSWORD      when the server has basic auth
  AWS_* , AWS_ENDPOINT_URL_S3, MLFLOW_S3_ENDPOINT_URL
                                            S3 access as boto3 resolves it (static keys, IRSA web identity, ...);
                                            MLFLOW_S3_ENDPOINT_URL first, like train.py, so data and model
                                            artifacts use the same endpoint

Exit codes (2-5 are permanent: the CronJob's podFailurePolicy fails the Job without a retry):
  0 success (the last stdout line is the metadata as JSON)
  1 any other failure (registry or S3 unreachable, prediction or write error): a retry may succeed
  2 invalid configuration
  3 the registered model or the alias does not exist
  4 the input object is missing, unreadable, not a CSV or has no rows
  5 the input's columns do not match the model's signature
Errors are one line on stderr, starting with "batch_predict.py: error:".
"""

import io
import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

PROG = "batch_predict.py"
PREDICTION_COLUMN = "prediction"
PREDICTIONS_FILE = "predictions.csv"
METADATA_FILE = "metadata.json"

_BUCKET = r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"
_OBJECT_URI = re.compile(rf"^s3://(?P<bucket>{_BUCKET})/(?P<key>\S+)$")
_PREFIX_URI = re.compile(rf"^s3://(?P<bucket>{_BUCKET})(/(?P<key>\S*))?$")
_ALIAS = re.compile(r"^[A-Za-z_][\w-]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


class BatchError(Exception):
    """A failure with its exit code; the message is printed as one line."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _one_line(err: BaseException | str) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 600 else text[:597] + "..."


@dataclass(frozen=True)
class Config:
    tracking_uri: str
    model_name: str
    alias: str
    input_path: str
    input_bucket: str
    input_key: str
    output_bucket: str
    output_key_prefix: str  # "" or "a/b/" (always ends with "/" when not empty)
    run_id: str
    profile: str | None

    def output_key(self, file: str) -> str:
        return f"{self.output_key_prefix}{self.run_id}/{file}"

    def output_uri(self, file: str) -> str:
        return f"s3://{self.output_bucket}/{self.output_key(file)}"


def parse_config(environ: dict[str, str], hostname: str) -> Config:
    """The environment -> Config; BatchError(code 2) names the first bad variable."""

    def get(name: str, default: str | None = None) -> str:
        value = environ.get(name, "").strip() or (default or "")
        if not value:
            raise BatchError(f"{name} is not set", 2)
        return value

    tracking_uri = get("MLFLOW_TRACKING_URI")
    model_name = get("REGISTERED_MODEL_NAME", "CaliforniaHousingRegressor")
    if "/" in model_name or ":" in model_name or "@" in model_name:
        raise BatchError(f"REGISTERED_MODEL_NAME={model_name!r} is not a registered model name (no '/', ':' or '@')", 2)
    alias = get("BATCH_ALIAS", "production")
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"v\d+", alias, re.IGNORECASE):
        raise BatchError(f"BATCH_ALIAS={alias!r} is not an alias (letters, digits, '_' and '-'; not 'latest' or 'v<number>')", 2)
    input_path = get("BATCH_INPUT_S3_PATH")
    m = _OBJECT_URI.match(input_path)
    if not m or m.group("key").endswith("/"):
        raise BatchError(f"BATCH_INPUT_S3_PATH={input_path!r} is not an object URI of the form s3://<bucket>/<key>.csv", 2)
    input_bucket, input_key = m.group("bucket"), m.group("key")
    prefix = get("BATCH_OUTPUT_S3_PREFIX")
    p = _PREFIX_URI.match(prefix)
    if not p:
        raise BatchError(f"BATCH_OUTPUT_S3_PREFIX={prefix!r} is not of the form s3://<bucket>[/<prefix>]", 2)
    key_prefix = (p.group("key") or "").strip("/")
    run_id = environ.get("BATCH_RUN_ID", "").strip() or hostname
    if not _RUN_ID.match(run_id) or run_id in (".", ".."):
        source = "BATCH_RUN_ID" if environ.get("BATCH_RUN_ID", "").strip() else "the host name (BATCH_RUN_ID unset)"
        raise BatchError(f"run id {run_id!r} from {source} is not one path segment (letters, digits, '.', '_', '-')", 2)
    return Config(
        tracking_uri=tracking_uri,
        model_name=model_name,
        alias=alias,
        input_path=input_path,
        input_bucket=input_bucket,
        input_key=input_key,
        output_bucket=p.group("bucket"),
        output_key_prefix=f"{key_prefix}/" if key_prefix else "",
        run_id=run_id,
        profile=environ.get("BATCH_PROFILE", "").strip() or None,
    )


# ---- registry ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedVersion:
    version: str
    run_id: str | None
    source: str
    storage_uri: str | None


def resolve_alias(client, cfg: Config) -> ResolvedVersion:
    """models:/<name>@<alias> -> the version it points to now; BatchError 3 when the model or the alias is missing."""
    from mlflow.exceptions import MlflowException

    uri = f"models:/{cfg.model_name}@{cfg.alias}"
    try:
        mv = client.get_model_version_by_alias(cfg.model_name, cfg.alias)
    except MlflowException as err:
        # The server's code for an unset alias is not RESOURCE_DOES_NOT_EXIST (MLflow 3.17 answers 400
        # INVALID_PARAMETER_VALUE "Registered model alias ... not found"): the registered model itself says.
        try:
            aliases = client.get_registered_model(cfg.model_name).aliases or {}
        except MlflowException as missing:
            if missing.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise BatchError(f"registered model {cfg.model_name!r} does not exist on {cfg.tracking_uri} ({uri})", 3) from err
            raise BatchError(f"cannot resolve {uri} on {cfg.tracking_uri}: {_one_line(missing.message)}", 1) from err
        if cfg.alias not in aliases:
            raise BatchError(
                f"alias {cfg.alias!r} is not set on registered model {cfg.model_name!r} ({uri}); "
                "promote a version to it first (npm run promote, or the promote CronJob)",
                3,
            ) from err
        raise BatchError(f"cannot resolve {uri} on {cfg.tracking_uri}: {_one_line(err.message)}", 1) from err
    try:
        storage_uri = client.get_model_version_download_uri(cfg.model_name, mv.version)
    except MlflowException:
        storage_uri = None  # recorded as unknown; loading below fails loudly if the artifact is really unreachable
    return ResolvedVersion(version=str(mv.version), run_id=mv.run_id or None, source=mv.source, storage_uri=storage_uri)


# ---- S3 ---------------------------------------------------------------------------------------------------


def s3_client():
    import boto3

    # MLFLOW_S3_ENDPOINT_URL first (the endpoint MLflow downloads the model from); when unset, boto3 applies
    # AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself, and its default credential chain (keys, IRSA, ...).
    return boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)


_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def read_input(s3, cfg: Config):
    """The input CSV as a DataFrame; BatchError 4 when missing, unreadable, not a CSV or empty."""
    import pandas as pd
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = s3.get_object(Bucket=cfg.input_bucket, Key=cfg.input_key)["Body"].read()
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", "Unknown"))
        if code in _MISSING_CODES:
            raise BatchError(f"input {cfg.input_path} does not exist (S3 {code})", 4) from err
        if code in _DENIED_CODES:
            raise BatchError(f"input {cfg.input_path} is not readable with this pod's credentials (S3 {code})", 4) from err
        raise BatchError(f"cannot read input {cfg.input_path}: S3 error {code}", 1) from err
    except BotoCoreError as err:
        raise BatchError(f"cannot read input {cfg.input_path}: {_one_line(err)}", 1) from err
    if not body.strip():
        raise BatchError(f"input {cfg.input_path} is empty", 4)
    try:
        # pandas 3's default parser reads each float as the double its text denotes (float_precision is deprecated)
        frame = pd.read_csv(io.BytesIO(body))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise BatchError(f"input {cfg.input_path} is not a readable CSV: {_one_line(err)}", 4) from err
    if frame.empty:
        raise BatchError(f"input {cfg.input_path} has a header but no data rows", 4)
    if PREDICTION_COLUMN in frame.columns:
        raise BatchError(f"input {cfg.input_path} already has a column {PREDICTION_COLUMN!r}, the column this job writes", 5)
    return frame


def put(s3, cfg: Config, file: str, body: bytes, content_type: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.put_object(Bucket=cfg.output_bucket, Key=cfg.output_key(file), Body=body, ContentType=content_type)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "Unknown")
        raise BatchError(f"cannot write {cfg.output_uri(file)}: S3 error {code}", 1) from err
    except BotoCoreError as err:
        raise BatchError(f"cannot write {cfg.output_uri(file)}: {_one_line(err)}", 1) from err


# ---- model ------------------------------------------------------------------------------------------------

_NUMERIC_TYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def model_features(model, frame, cfg: Config, model_uri: str):
    """The frame the model predicts on: the signature's columns, in its order; float columns as its float type.

    BatchError 5 names the columns the input lacks, or the columns that are not numeric where the signature
    says they are. Columns the signature does not name are not passed to the model (they stay in the output).
    A model without a signature gets the whole frame (nothing to check against).
    """
    import pandas as pd

    schema = model.metadata.get_input_schema()
    if schema is None:
        return frame
    if not schema.has_input_names():
        raise BatchError(f"{model_uri} has a tensor signature without column names: a CSV cannot be matched to it", 5)
    names = schema.input_names()
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise BatchError(
            f"input {cfg.input_path} does not match the signature of {model_uri}: missing column(s) {', '.join(missing)}; "
            f"the model needs {', '.join(names)} (has: {', '.join(map(str, frame.columns))})",
            5,
        )
    features = frame.loc[:, names].copy()
    bad = []
    for spec in schema.inputs:
        dtype = _NUMERIC_TYPES.get(getattr(spec.type, "name", ""))
        if dtype is None:
            continue  # non-numeric types: MLflow's own schema enforcement decides
        column = features[spec.name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            bad.append(spec.name)
        elif dtype.startswith("float"):
            features[spec.name] = column.astype(dtype)
    if bad:
        raise BatchError(
            f"input {cfg.input_path} does not match the signature of {model_uri}: non-numeric values in column(s) {', '.join(bad)}",
            5,
        )
    return features


def predict(model, features, model_uri: str):
    import numpy as np
    import pandas as pd
    from mlflow.exceptions import MlflowException

    try:
        raw = model.predict(features)
    except MlflowException as err:  # MLflow's schema enforcement (types the checks above do not cover)
        raise BatchError(f"{model_uri} refused the input: {_one_line(err.message)}", 5) from err
    values = raw.iloc[:, 0] if isinstance(raw, pd.DataFrame) and raw.shape[1] == 1 else raw
    values = np.asarray(values)
    if values.ndim > 1 and values.shape[1:] == (1,) * (values.ndim - 1):
        values = values.reshape(-1)
    if values.ndim != 1 or len(values) != len(features):
        raise BatchError(f"{model_uri} returned {values.shape} predictions for {len(features)} rows; expected one value per row", 1)
    return values


# ---- the run ----------------------------------------------------------------------------------------------


def run(cfg: Config, client, s3) -> dict:
    import mlflow.pyfunc

    resolved = resolve_alias(client, cfg)
    # Load exactly the version the alias named a moment ago, by number, not models:/<name>@<alias> a second time:
    # an alias moved meanwhile (a promotion during this run) cannot make the logged version, the loaded model and
    # metadata.json disagree. MLflow would resolve the alias itself; resolving it once here is what keeps them one.
    model_uri = f"models:/{cfg.model_name}/{resolved.version}"
    print(
        f"model models:/{cfg.model_name}@{cfg.alias} -> version {resolved.version} "
        f"(run {resolved.run_id or 'none'}, source {resolved.source})",
        flush=True,
    )
    frame = read_input(s3, cfg)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as err:  # noqa: BLE001 - any load failure: one line, exit 1
        raise BatchError(f"cannot load {model_uri}: {type(err).__name__}: {_one_line(err)}", 1) from err
    features = model_features(model, frame, cfg, model_uri)
    try:
        predictions = predict(model, features, model_uri)
    except BatchError:
        raise
    except Exception as err:  # noqa: BLE001 - the model failed on this input
        raise BatchError(f"{model_uri} failed to predict {len(frame)} rows: {type(err).__name__}: {_one_line(err)}", 1) from err

    out = frame.copy()
    out[PREDICTION_COLUMN] = predictions
    metadata = {
        "registered_model": cfg.model_name,
        "alias": cfg.alias,
        "version": resolved.version,
        "model_uri": model_uri,
        "model_run_id": resolved.run_id,
        "model_source": resolved.source,
        "storage_uri": resolved.storage_uri,
        "rows": int(len(out)),
        "input": cfg.input_path,
        "output": cfg.output_uri(PREDICTIONS_FILE),
        "batch_run_id": cfg.run_id,
        "profile": cfg.profile,
        "prediction_column": PREDICTION_COLUMN,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # pandas writes floats as repr(): the shortest text that parses back to the same double
    put(s3, cfg, PREDICTIONS_FILE, out.to_csv(index=False).encode("utf-8"), "text/csv")
    put(s3, cfg, METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode("utf-8"), "application/json")
    return metadata


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return code


def main(environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    # No download progress bars in a Job's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        cfg = parse_config(environ, socket.gethostname())
        from mlflow import MlflowClient

        metadata = run(cfg, MlflowClient(tracking_uri=cfg.tracking_uri), s3_client())
    except BatchError as err:
        return _fail(_one_line(err), err.code)
    except Exception as err:  # noqa: BLE001 - anything unforeseen: one line, exit 1 (a retry may succeed)
        return _fail(f"batch run failed: {type(err).__name__}: {_one_line(err)}", 1)
    print(f"wrote {metadata['output']} ({metadata['rows']} rows, version {metadata['version']})", flush=True)
    print(json.dumps(metadata), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
