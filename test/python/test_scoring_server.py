"""images/serving/scoring_server.py against MLflow's own scoring server (`mlflow models serve`), both real, both
serving the model train.main() logs: the same requests must get the same status, content type and body."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest

import train

SERVER = Path(__file__).resolve().parents[2] / "images" / "serving" / "scoring_server.py"
MODEL = "CaliforniaHousingRegressor"
COLUMNS = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
ROW = [8.3252, 41.0, 6.98, 1.02, 322.0, 2.55, 37.88, -122.23]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    # The venv's bin first: `mlflow models serve` runs `uvicorn` from PATH. A fixed hash seed: MLflow's messages
    # list sets, whose order would otherwise differ between the two processes.
    env.update({"PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"})
    env.update(extra)
    return env


class Server:
    def __init__(self, argv: list[str], port: int, env: dict[str, str], cwd: Path):
        self.port = port
        self.log = cwd / f"server-{port}.log"
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"{argv[1:3]} exited {self.proc.returncode}: {self.output()}")
            try:
                if self.call("GET", "/ping")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{argv[1:3]} not ready in 120 s: {self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def call(self, method: str, path: str, content_type: str | None = None, body: str | bytes | None = None):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method, data=data)
        if content_type is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers.get("content-type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("content-type"), e.read()

    def stop(self, grace: float = 30) -> int | None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return None
        return self.proc.returncode


@pytest.fixture(scope="module")
def model_dir(world, tmp_path_factory):
    assert train.main([], world["env"]) == 0
    [version] = world["client"].search_model_versions(f"name='{MODEL}'")
    uri = world["client"].get_model_version_download_uri(MODEL, version.version)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path_factory.mktemp("model"))))


@pytest.fixture(scope="module")
def servers(model_dir, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("servers")
    ours = Server([sys.executable, str(SERVER), "--model", str(model_dir), "--port", str(p := _free_port())], p, _env(), cwd)
    try:
        theirs = Server([sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir), "-h", "127.0.0.1", "-p", str(q := _free_port()), "--env-manager", "local"], q, _env(), cwd)
    except BaseException:
        ours.stop()
        raise
    yield ours, theirs
    theirs.stop()
    ours.stop()


def _split(rows):
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows}})


REQUESTS = {
    "dataframe_split, 100 rows": ("POST", "/invocations", "application/json", _split([[v + i * 0.01 for v in ROW] for i in range(100)])),
    "dataframe_records, charset": ("POST", "/invocations", "application/json; charset=utf-8", json.dumps({"dataframe_records": [dict(zip(COLUMNS, ROW))]})),
    "instances": ("POST", "/invocations", "application/json", json.dumps({"instances": [dict(zip(COLUMNS, ROW))]})),
    "inputs": ("POST", "/invocations", "application/json", json.dumps({"inputs": {c: [v] for c, v in zip(COLUMNS, ROW)}})),
    "csv": ("POST", "/invocations", "text/csv", ",".join(COLUMNS) + "\n" + ",".join(map(str, ROW)) + "\n"),
    "malformed JSON": ("POST", "/invocations", "application/json", "{not json"),
    "missing columns": ("POST", "/invocations", "application/json", json.dumps({"dataframe_split": {"columns": COLUMNS[:3], "data": [ROW[:3]]}})),
    "strings for doubles": ("POST", "/invocations", "application/json", _split([["a"] * 8])),
    "no input field": ("POST", "/invocations", "application/json", json.dumps({"wrong": 1})),
    "unsupported type": ("POST", "/invocations", "text/plain", "x"),
    "latin-1": ("POST", "/invocations", "application/json; charset=latin-1", "{}"),
    "unknown parameter": ("POST", "/invocations", "application/json; foo=bar", "{}"),
    "GET /invocations": ("GET", "/invocations", None, None),
    "ping": ("GET", "/ping", None, None),
    "health": ("GET", "/health", None, None),
    "version": ("GET", "/version", None, None),
    "POST /ping": ("POST", "/ping", "application/json", "{}"),
    "unknown path": ("GET", "/v2/models", None, None),
}


@pytest.mark.parametrize("case", list(REQUESTS))
def test_answers_as_mlflows_scoring_server(servers, case):
    ours, theirs = servers
    got, want = ours.call(*REQUESTS[case]), theirs.call(*REQUESTS[case])
    assert got == want, f"{case}: ours {got!r}\nMLflow's {want!r}"


def test_predictions_are_the_models(servers, model_dir):
    ours, _ = servers
    rows = [[v + i * 0.01 for v in ROW] for i in range(100)]
    status, _, body = ours.call("POST", "/invocations", "application/json", _split(rows))
    assert status == 200, body
    want = mlflow.pyfunc.load_model(str(model_dir)).predict(pd.DataFrame(rows, columns=COLUMNS))
    assert json.loads(body)["predictions"] == pytest.approx(list(want), rel=1e-12)


def test_no_content_type_is_a_415_naming_the_types(servers):
    ours, _ = servers
    status, content_type, body = ours.call("POST", "/invocations", None, b"{}")
    assert (status, content_type) == (415, "text/plain; charset=utf-8")
    assert b"application/json" in body and b"text/csv" in body


def test_two_workers_serve_and_stop_on_sigterm(model_dir, tmp_path):
    server = Server([sys.executable, str(SERVER), "--model", str(model_dir), "--port", str(p := _free_port())], p, _env(MLFLOW_MODELS_WORKERS="2"), tmp_path)
    try:
        for _ in range(4):
            assert server.call("POST", "/invocations", "application/json", _split([ROW]))[0] == 200
        # /ping answers once the first worker is up; the second may still be loading its model copy.
        deadline = time.monotonic() + 120
        while server.output().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        log = server.output()
        assert log.count("Started server process") == 2 and log.count("Application startup complete") == 2, log
    finally:
        code = server.stop(grace=30)
    assert code == 0, f"exit {code}: {server.output()}"


@pytest.mark.parametrize(
    "args,env,message",
    [
        (["--model", "/nonexistent"], {}, "--model '/nonexistent' has no MLmodel file"),
        (["--model", "{model}"], {"MLFLOW_MODELS_WORKERS": "0"}, "MLFLOW_MODELS_WORKERS='0' must be an integer of at least 1"),
        (["--model", "{model}"], {"MLFLOW_MODELS_WORKERS": "two"}, "MLFLOW_MODELS_WORKERS='two' must be an integer of at least 1"),
    ],
)
def test_bad_settings_exit_naming_them(model_dir, args, env, message):
    argv = [sys.executable, str(SERVER), *[a.replace("{model}", str(model_dir)) for a in args], "--port", str(_free_port())]
    proc = subprocess.run(argv, env=_env(**env), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
