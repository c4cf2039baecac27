"""The project's scoring server for MLflow pyfunc models on KServe (the mlflow-pyfunc ClusterServingRuntime).

MLflow's scoring protocol, answered by MLflow's own code: POST /invocations parses the request and encodes the
predictions with `mlflow.pyfunc.scoring_server.invocations` (the function `mlflow models serve` calls: the same
content types, input formats, schema enforcement, status codes and error bodies); GET /ping, /health and /version
answer as MLflow's server does. What differs is only the HTTP layer around that function (measured with
`npm run bench -- --part serving`; docs/serving-runtime.md):

- a plain ASGI app on uvicorn instead of FastAPI, with no per-request middleware task;
- each worker predicts on its event loop's own thread, one request after the other, instead of handing every
  request to a thread of its own: no thread switch and no contention for the interpreter lock per request (a
  /ping waits for at most the prediction under way and those queued before it);
- no access log line per request (SERVING_ACCESS_LOG=true turns uvicorn's on);
- the model is loaded by this process directly, not through the `mlflow` CLI re-executing uvicorn.

- no request timeout (MLflow's server answers 504 after MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT but lets the
  prediction run on in its thread): a prediction runs to its end; callers set their own timeouts.

Settings (env): MLFLOW_MODELS_WORKERS (uvicorn workers, each with its own model copy; default 1; the name of
`mlflow models serve --workers`' variable), SERVING_MODEL_CONFIG (MLflow's model_config JSON),
SERVING_ACCESS_LOG (true: a log line per request).

Usage: python scoring_server.py --model /mnt/models [--host 0.0.0.0] [--port 8080]
"""

import argparse
import json
import logging
import os
import sys

MODEL_PATH_ENV = "MLFLOW_PLATFORM_SERVING_MODEL_PATH"
_log = logging.getLogger("scoring_server")

_JSON = b"application/json"
_NOT_FOUND = (404, _JSON, b'{"detail":"Not Found"}')
_INTERNAL = (500, b"text/plain; charset=utf-8", b"Internal Server Error")


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SystemExit(f"scoring_server: {name}={raw!r} must be an integer of at least {minimum}")
    return value


def create_app():
    """The ASGI app for the model at $MLFLOW_PLATFORM_SERVING_MODEL_PATH (uvicorn's factory: one per worker)."""
    from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server
    from mlflow.version import VERSION

    path = os.environ.get(MODEL_PATH_ENV)
    if not path:
        raise SystemExit(f"scoring_server: {MODEL_PATH_ENV} is not set (run it as: scoring_server.py --model <dir>)")
    model = scoring_server.load_model_with_mlflow_config(path)
    schema = model.metadata.get_input_schema()
    os.environ[_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name] = "true"
    version = VERSION.encode()

    def predict(body: bytes, content_type: str):
        try:
            r = scoring_server.invocations(body, content_type, model, schema)
            # As Starlette's Response: a text type gets its charset.
            mimetype = r.mimetype + "; charset=utf-8" if r.mimetype.startswith("text/") else r.mimetype
            return r.status, mimetype.encode(), r.response.encode()
        except MlflowException as e:
            return e.get_http_status_code(), _JSON, e.serialize_as_json().encode()

    async def invocations(scope, receive) -> tuple[int, bytes, bytes]:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 499, b"text/plain", b""
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        content_type = None
        for k, v in scope["headers"]:
            if k == b"content-type":
                content_type = v.decode("latin-1")
                break
        if content_type is None:
            # MLflow's server fails on a missing content type with a 500; name what it accepts instead.
            return 415, b"text/plain; charset=utf-8", f"No Content-Type: this predictor supports {scoring_server.CONTENT_TYPES}".encode()
        return predict(b"".join(chunks), content_type)

    routes_get = {
        "/ping": (200, _JSON, b"\n"),
        "/health": (200, _JSON, b"\n"),
        "/version": (200, _JSON, version),
    }

    async def app(scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        allow = None
        if path == "/invocations":
            if method == "POST":
                try:
                    answer = await invocations(scope, receive)
                except Exception:  # noqa: BLE001 - as FastAPI: a 500, the traceback in the log
                    _log.exception("POST /invocations failed")
                    answer = _INTERNAL
                if answer[0] == 499:
                    return
            else:
                allow = b"POST"
        elif path in routes_get:
            if method == "GET":
                answer = routes_get[path]
            else:
                allow = b"GET"
        else:
            answer = _NOT_FOUND
        headers = []
        if allow is not None:
            answer = (405, _JSON, b'{"detail":"Method Not Allowed"}')
            headers.append((b"allow", allow))
        status, mimetype, body = answer
        headers += [(b"content-type", mimetype), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scoring_server.py", description="Serve an MLflow pyfunc model (MLflow's scoring protocol).")
    parser.add_argument("--model", required=True, help="the model's directory (KServe's /mnt/models)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.model, "MLmodel")):
        print(f"scoring_server: --model {args.model!r} has no MLmodel file (an MLflow model's directory is needed)", file=sys.stderr)
        return 2
    workers = _env_int("MLFLOW_MODELS_WORKERS", 1, 1)
    access_log = os.environ.get("SERVING_ACCESS_LOG", "false").lower() == "true"
    os.environ[MODEL_PATH_ENV] = os.path.abspath(args.model)
    import uvicorn

    # One worker runs in this process; more are uvicorn's spawned processes, each importing create_app.
    uvicorn.run(
        "scoring_server:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=workers if workers > 1 else None,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=20,
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
