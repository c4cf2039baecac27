#!/usr/bin/env python3
"""Resolve a registered MLflow model to the s3:// location KServe loads, with MLflow's own client.

Usage:
    python scripts/resolve_model_artifact_uri.py [--tracking-uri URL] [--json]
        [--artifacts-destination s3://BUCKET/PATH] [--allow-prefix s3://BUCKET[/PATH]]...
        models:/<name>@<alias> | models:/<name>/<version>

The resolution is exactly

    mv = MlflowClient().get_model_version_by_alias(name, alias)      # or get_model_version(name, version)
    uri = MlflowClient().get_model_version_download_uri(name, mv.version)

and the printed line is that URI without a trailing slash, e.g. s3://bucket/1/models/m-<id>/artifacts.
It is the Python twin of `npm run resolve-model` (cli/resolve-model.ts): same arguments (without --verify and
--s3-endpoint), same stdout, same exit codes, and error lines that name the same things.

Options:
    --tracking-uri URL            MLflow tracking server, http(s)://host:port[/prefix] (default $MLFLOW_TRACKING_URI)
    --json                        print {"name","version","alias","runId","source","storageUri"} on one line
                                  (absent values are null), exactly as the TypeScript CLI does
    --artifacts-destination URI   the server's --artifacts-destination (s3://…): a proxied server answers
                                  mlflow-artifacts:/<path>, which is mapped to <URI>/<path>
    --allow-prefix URI            s3:// prefix the result must lie inside (repeatable; default: any s3://)
    --help                        show this text
A pinned s3://<bucket>/<path> instead of a models:/ URI is checked and printed without a registry lookup.

Environment:
    MLFLOW_TRACKING_URI                        default of --tracking-uri
    MLFLOW_TRACKING_USERNAME / _PASSWORD       basic auth (wins over the token), read by MLflow's client
    MLFLOW_TRACKING_TOKEN                      bearer token, read by MLflow's client
    MLFLOW_HTTP_REQUEST_MAX_RETRIES (3), MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (0),
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER (0.5), MLFLOW_HTTP_REQUEST_TIMEOUT (10 s)
                                               MLflow's HTTP retry policy; this script sets the values in
                                               brackets unless the caller set them, so an unreachable
                                               registry fails within seconds instead of MLflow's minutes

Exit status: 0 success; 2 bad arguments (usage, model URI, tracking URI, prefixes); 1 the registry lookup
failed (missing alias, version or model, unreachable server, HTTP error) or the result is not an allowed
s3:// location. Every error is one line on stderr, naming the model, alias/version and the registry's
host:port; never a traceback.

Standard library and mlflow only (Python 3.11).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, NoReturn, TypeVar
from urllib.parse import urlsplit

PROG = "resolve_model_artifact_uri"

# MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) take minutes to give up on a registry that is
# not there. These are close to the TypeScript client's (3 retries, ~1.75 s of backoff, 10 s per attempt).
# BACKOFF_FACTOR is parsed as an int by MLflow, so a sub-second factor is not possible; the jitter spreads the
# retries over at most 1.5 s instead.
FAST_FAIL_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}

PORT_FORWARD_HINT = "kubectl port-forward svc/mlflow -n mlflow 5000:5000 and use http://localhost:5000"
MODEL_URI_FORMS = "expected models:/<name>@<alias>, models:/<name>/<version> or s3://<bucket>/<path>"

# Exactly the characters JavaScript's String.prototype.trim() and /\s/ treat as white space (str.strip() and
# Python's \s differ: they include \x1c-\x1f and \x85 but not \ufeff).
_JS_WS = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_WS_RUN = re.compile(f"[{_JS_WS}]+")
_POSITIVE_INT = re.compile(r"[1-9][0-9]*")
_ALIAS = re.compile(r"[A-Za-z0-9_-]+")
_S3_URI = re.compile(r"s3://([^/?#]*)(/[^?#]*)?", re.DOTALL)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-_]{1,62}", re.IGNORECASE | re.ASCII)
_BARE_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:/*", re.IGNORECASE | re.ASCII)
_PROXIED = re.compile(r"mlflow-artifacts:(?://[^/]*)?/*(.*)")


def js_trim(text: str) -> str:
    return text.strip(_JS_WS)


def one_line(text: str, limit: int = 600) -> str:
    """Collapses white space so that a message (including server text) stays on one line."""
    s = js_trim(_JS_WS_RUN.sub(" ", text))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def snippet(text: str) -> str:
    return one_line(text, 200)


class ResolveError(Exception):
    """A one-line failure; `code` names the reason as lib/registry/errors.ts does."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(one_line(message))
        self.code = code


# Bad input found before any lookup: exit 2 (cli/resolve-model.ts ARGUMENT_CODES plus usage errors).
ARGUMENT_CODES = {"USAGE", "INVALID_URI", "INVALID_TARGET"}


# ---- arguments (the rules of cli/args.ts) --------------------------------------------------------------------

@dataclass
class Args:
    tracking_uri: str | None = None
    json: bool = False
    artifacts_destination: str | None = None
    allow_prefix: list[str] | None = None
    help: bool = False
    positionals: list[str] | None = None


STRING_FLAGS = {"tracking-uri", "artifacts-destination", "allow-prefix"}
BOOLEAN_FLAGS = {"json", "help"}
FLAG_DESCRIPTIONS = {
    "tracking-uri": "MLflow tracking server URL (default $MLFLOW_TRACKING_URI)",
    "artifacts-destination": "the server's --artifacts-destination, maps mlflow-artifacts:/ to s3://",
    "allow-prefix": "s3:// prefix the result must be inside (repeatable; default any s3://)",
}
ALL_FLAGS = ["tracking-uri", "json", "artifacts-destination", "allow-prefix", "help"]
USAGE = (
    f"usage: {PROG}.py [--tracking-uri <tracking-uri>] [--json] [--artifacts-destination <artifacts-destination>] "
    "[--allow-prefix <allow-prefix>]... [--help] models:/<name>@<alias>|models:/<name>/<version>"
)
_FLAG = re.compile(r"--([^=]+)(?:=(.*))?", re.DOTALL)


def usage_error(message: str) -> NoReturn:
    raise ResolveError("USAGE", message)


def parse_args(argv: list[str]) -> Args:
    """`--name value`, `--name=value`, repeatable --allow-prefix, `--json`, `--json=false`, `--no-json`, `--`."""
    out = Args(allow_prefix=[], positionals=[])
    assert out.allow_prefix is not None and out.positionals is not None
    seen: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.positionals.extend(argv[i + 1 :])
            break
        if not arg.startswith("-") or arg == "-":
            out.positionals.append(arg)
            i += 1
            continue
        m = _FLAG.fullmatch(arg)
        name = m.group(1) if m else arg
        inline = m.group(2) if m else None
        known = m is not None and name in ALL_FLAGS
        if m and not known and name.startswith("no-") and name[3:] in BOOLEAN_FLAGS and inline is None:
            name, inline, known = name[3:], "false", True
        if not known:
            flags = ", ".join(f"--{n}" for n in ALL_FLAGS)
            usage_error(f"unknown option {re.sub(r'=.*', '', arg, flags=re.DOTALL)}; valid options: {flags}")
        if name in seen and name != "allow-prefix":
            usage_error(f"--{name} given more than once")
        seen.add(name)
        if name in BOOLEAN_FLAGS:
            if inline is None or inline.lower() in ("true", "1", "yes"):
                value = True
            elif inline.lower() in ("false", "0", "no"):
                value = False
            else:
                usage_error(f'--{name} is a switch: got "{inline}", expected true or false (or no value)')
            setattr(out, name, value)
            i += 1
            continue
        if inline is None:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                usage_error(f"--{name} needs a value ({FLAG_DESCRIPTIONS[name]})")
            inline = argv[i + 1]
            i += 1
        if name == "allow-prefix":
            out.allow_prefix.append(inline)
        else:
            setattr(out, name.replace("-", "_"), inline)
        i += 1
    if len(out.positionals) > 1:
        usage_error(f'too many arguments: "{out.positionals[1]}" (expected at most 1 model URI)')
    return out


# ---- model and storage URIs (the rules of lib/registry/uri.ts) ----------------------------------------

@dataclass(frozen=True)
class ModelRef:
    kind: str  # "alias" | "version" | "storageUri"
    name: str = ""
    alias: str | None = None
    version: str | None = None
    uri: str | None = None


def describe_lookup(name: str | None = None, alias: str | None = None, version: str | None = None,
                    registry: str | None = None) -> str:
    """`model "X" alias "production" → version 2 (registry http://host:5000)`; unknown parts are left out."""
    parts = []
    if name is not None:
        parts.append(f'model "{name}"')
    if alias is not None:
        parts.append(f'alias "{alias}"')
    if version is not None:
        parts.append(f"→ version {version}" if alias is not None else f"version {version}")
    if registry is not None:
        parts.append(f"(registry {registry})")
    return " ".join(parts)


def parse_s3_uri(uri: str) -> None:
    m = _S3_URI.fullmatch(uri)
    if not m or not _BUCKET.fullmatch(m.group(1)):
        raise ResolveError(
            "INVALID_URI",
            f'Invalid S3 URI "{uri}": expected s3://<bucket>/<path> with a valid bucket name (3-63 of a-z 0-9 . -)',
        )


def strip_trailing_slash(uri: str) -> str:
    if _BARE_SCHEME.fullmatch(uri):
        return uri  # a bare scheme such as "s3://"
    return uri.rstrip("/")


def check_name(uri: str, name: str) -> None:
    if js_trim(name) == "" or ":" in name:
        raise ResolveError("INVALID_URI", f'Invalid model URI "{uri}": bad registered model name "{name}"; {MODEL_URI_FORMS}')


def parse_model_uri(uri: str) -> ModelRef:
    raw = js_trim(uri)
    if raw.startswith("s3://"):
        parse_s3_uri(raw)
        return ModelRef("storageUri", uri=strip_trailing_slash(raw))
    if not raw.startswith("models:/") or raw.startswith("models://"):
        raise ResolveError("INVALID_URI", f'Invalid model URI "{uri}": {MODEL_URI_FORMS}')
    path = raw[len("models:/") :]
    slash = path.find("/")
    if slash >= 0:
        name, version = path[:slash], path[slash + 1 :]
        check_name(uri, name)
        if not _POSITIVE_INT.fullmatch(version):
            raise ResolveError(
                "INVALID_URI",
                f'Invalid model URI "{uri}": version "{version}" is not a positive integer (stages and "latest" are not '
                f"supported; use models:/{name}@<alias>); {MODEL_URI_FORMS}",
            )
        return ModelRef("version", name=name, version=version)
    at = path.rfind("@")
    if at < 0:
        raise ResolveError(
            "INVALID_URI",
            f'Invalid model URI "{uri}": no alias or version (a models:/<id> logged-model URI cannot be served); {MODEL_URI_FORMS}',
        )
    name, alias = path[:at], path[at + 1 :]
    check_name(uri, name)
    if not _ALIAS.fullmatch(alias):
        raise ResolveError(
            "INVALID_URI",
            f'Invalid model URI "{uri}": alias "{alias}" may only contain letters, digits, "_" and "-"; {MODEL_URI_FORMS}',
        )
    return ModelRef("alias", name=name, alias=alias)


def validate_allowed_prefixes(prefixes: list[str]) -> None:
    for p in prefixes:
        if not p.startswith("s3://"):
            raise ResolveError("INVALID_URI", f'Invalid allowed prefix "{p}": expected s3://<bucket>[/<path>]')
        if p != "s3://":
            parse_s3_uri(p)


def is_allowed_uri(uri: str, prefixes: list[str]) -> bool:
    if not prefixes:
        return True
    for p in prefixes:
        if p == "s3://":
            return True
        base = strip_trailing_slash(p)
        if uri == base or uri.startswith(base + "/"):
            return True
    return False


NOT_S3_HINTS = [
    (re.compile(r"models:"), "MLflow returned a models:/ reference instead of a storage location (an old MLflow server, or a version registered from another registry); register the model from an s3:// artifact store"),
    (re.compile(r"runs:"), "the version was registered from a runs:/ URI that the server did not resolve; re-register it with mlflow.register_model on an s3:// artifact store"),
    (re.compile(r"(file:|/)"), "the tracking server stores artifacts on its local disk; start it with --default-artifact-root s3://… or --artifacts-destination s3://…"),
    (re.compile(r"https?:"), "KServe needs an s3:// location, not an HTTP URL"),
]


def to_storage_uri(download_uri: str, artifacts_destination: str | None, allowed_prefixes: list[str], who: str) -> str:
    """mlflow-artifacts:/<path> → <artifacts_destination>/<path>; the result must be an allowed s3:// URI."""
    lead = f"{who}: " if who else ""
    uri = js_trim(download_uri)
    proxied = _PROXIED.fullmatch(uri)
    if proxied:
        dest = js_trim(artifacts_destination) if artifacts_destination is not None else ""
        if not dest:
            raise ResolveError(
                "NO_ARTIFACTS_DESTINATION",
                f"{lead}download URI {download_uri} is proxied artifact storage; set the tracking server's --artifacts-destination "
                "(serving.registry.artifactsDestination, or --artifacts-destination s3://…) so it can be mapped to s3://",
            )
        rel = proxied.group(1).rstrip("/")
        uri = strip_trailing_slash(dest) if rel == "" else f"{strip_trailing_slash(dest)}/{rel}"
    if not uri.startswith("s3://"):
        hint = next((h for r, h in NOT_S3_HINTS if r.match(uri)), "KServe can only read s3:// locations")
        raise ResolveError("NOT_S3", f"{lead}storage location {uri} is not an s3:// URI: {hint}")
    uri = strip_trailing_slash(uri)
    parse_s3_uri(uri)
    if not is_allowed_uri(uri, allowed_prefixes):
        raise ResolveError(
            "OUTSIDE_BUCKET",
            f"{lead}storage location {uri} is outside the allowed artifact location(s) {', '.join(allowed_prefixes)}; "
            "copy the model into the artifact bucket and register it from there, or extend the allowlist",
        )
    return uri


# ---- the registry (MLflow's client; errors worded as lib/registry/client.ts words them) ----------------

@dataclass(frozen=True)
class Registry:
    """The tracking server as given, plus the forms the error messages use."""

    url: str  # passed to MlflowClient: scheme://host[:port][/prefix]
    registry: str  # scheme://host:port[/prefix], always with the port
    host_port: str
    host_header: str
    prefix: str


def parse_tracking_uri(given: str) -> Registry:
    text = js_trim(given)
    bad = ResolveError("INVALID_URI", f'Invalid MLflow tracking URI "{given}": expected http(s)://host:port')
    try:
        parts = urlsplit(text)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise bad from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise bad
    if scheme not in ("http", "https"):
        raise ResolveError(
            "INVALID_URI",
            f'Invalid MLflow tracking URI "{given}": only http:// and https:// tracking servers are supported',
        )
    if not hostname:
        raise bad
    if parts.username or parts.password:
        raise ResolveError(
            "INVALID_URI",
            "Invalid MLflow tracking URI: credentials in the URI are not supported; "
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
        )
    host = f"[{hostname}]" if ":" in hostname else hostname
    default_port = 443 if scheme == "https" else 80
    effective = port if port is not None else default_port
    prefix = (parts.path or "").rstrip("/")
    host_header = host if effective == default_port else f"{host}:{effective}"
    return Registry(
        url=f"{scheme}://{host_header}{prefix}",
        registry=f"{scheme}://{host}:{effective}{prefix}",
        host_port=f"{host}:{effective}",
        host_header=host_header,
        prefix=prefix,
    )


@dataclass(frozen=True)
class Lookup:
    name: str
    alias: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Failure:
    """What an MLflow client exception says about the HTTP exchange."""

    status: int | None  # None: no answer (network)
    error_code: str | None
    message: str | None  # MLflow's JSON "message"
    text: str  # the response body, or the network reason


_NON_JSON = re.compile(r"API request to endpoint (\S+) failed with error code (\d+) != \d+\. Response body: '(.*)'\Z", re.DOTALL)
_TOO_MANY = re.compile(r"too many (\d+) error responses")


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _network_reason(exc: BaseException, reg: Registry, timeout_s: str) -> str | None:
    """Why no HTTP answer came back, or None when the exception is not a network failure."""
    text = " ".join(str(e) for e in _chain(exc))
    if "failed with timeout exception" in text or re.search(r"timed out|ConnectTimeout|ReadTimeout", text):
        return f"timed out after {timeout_s} s"
    if "Connection refused" in text:
        return f"connection refused by {reg.host_port}"
    m = re.search(r"Name or service not known|Temporary failure in name resolution|nodename nor servname|No address associated", text)
    if m:
        return f"cannot resolve host {reg.host_port.rsplit(':', 1)[0]} ({m.group(0)})"
    if "Connection reset" in text or "RemoteDisconnected" in text or "Connection aborted" in text:
        return f"connection to {reg.host_port} reset"
    if "failed with exception" in text and ("ConnectionError" in text or "Max retries exceeded" in text) and not _TOO_MANY.search(text):
        return one_line(str(exc), 150)
    return None


def registry_error(exc: BaseException, reg: Registry, ctx: Lookup, op_path: str) -> ResolveError:
    """Translates an exception of MLflow's client into the TypeScript client's error for the same situation."""
    from mlflow.exceptions import MlflowException, RestException
    from mlflow.protos.databricks_pb2 import ErrorCode

    who = describe_lookup(ctx.name, ctx.alias, ctx.version, reg.registry)
    retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    attempts = int(retries) + 1 if retries.isdigit() else 1
    plural = "s" if attempts > 1 else ""

    if not isinstance(exc, MlflowException):
        return ResolveError("HTTP_ERROR", f"{who}: MLflow's client failed: {type(exc).__name__}: {snippet(str(exc))}")

    reason = _network_reason(exc, reg, os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "?"))
    if reason is not None:
        return ResolveError(
            "UNREACHABLE",
            f"MLflow registry {reg.host_port} is unreachable ({reason}; {attempts} attempt{plural}) while looking up {who}: "
            f"check the tracking URI (MLFLOW_TRACKING_URI / serving.registry.uri), or open a tunnel: {PORT_FORWARD_HINT}",
        )

    failure: Failure
    if isinstance(exc, RestException):
        body = exc.json if isinstance(exc.json, dict) else {}
        error_code = body.get("error_code")
        message = body.get("message")
        has_fields = "error_code" in body or "message" in body
        failure = Failure(
            status=exc.get_http_status_code(),  # MLflow keeps no status; this is the server's own code → status map
            error_code=str(error_code) if has_fields and error_code is not None else None,
            message=str(message) if has_fields and message is not None else None,
            text=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        )
    else:
        text = str(exc.message) if hasattr(exc, "message") else str(exc)
        m = _NON_JSON.search(text)
        many = _TOO_MANY.search(" ".join(str(e) for e in _chain(exc)))
        if m:
            failure = Failure(status=int(m.group(2)), error_code=None, message=None, text=m.group(3))
        elif many:
            failure = Failure(status=int(many.group(1)), error_code=None, message=None, text="")
        elif "response body was not in a valid JSON format" in text:
            return ResolveError(
                "BAD_RESPONSE",
                f"{who}: {reg.prefix}{op_path} answered with non-JSON; check that the tracking URI points at the MLflow server itself",
            )
        else:
            # raised by MLflow's client itself (e.g. a name it refuses to send), not by the server
            code = ErrorCode.Name(exc.error_code) if isinstance(exc.error_code, int) else str(exc.error_code)
            return ResolveError("HTTP_ERROR", f"{who}: MLflow's client refused the lookup ({code}: {snippet(text)})")
    return translate(failure, reg, ctx, who, attempts, op_path)


def translate(f: Failure, reg: Registry, ctx: Lookup, who: str, attempts: int, op_path: str) -> ResolveError:
    status = f.status or 0
    detail = f"{f.error_code or 'error'}: {snippet(f.message)}" if f.message else snippet(f.text)
    http = f"HTTP {status}" + (f" {detail}" if detail else "")
    plural = "s" if attempts > 1 else ""

    if status == 400 and f.error_code == "INVALID_PARAMETER_VALUE" and re.search(r"alias .* not found", f.message or "", re.I):
        return ResolveError(
            "ALIAS_NOT_FOUND",
            f'Alias "{ctx.alias}" not found on registered model "{ctx.name}" at {reg.registry} ({http}); fix the alias '
            f"(serving.models[].alias) or point it at a version: npm run promote -- --model {ctx.name} --version <n> --alias {ctx.alias}",
        )
    if status == 404 and f.error_code == "RESOURCE_DOES_NOT_EXIST":
        if re.search(r"registered model", f.message or "", re.I) or ctx.version is None:
            return ResolveError(
                "MODEL_NOT_FOUND",
                f'Registered model "{ctx.name}" not found at {reg.registry} ({http}) while looking up {who}; '
                "check serving.models[].registeredModel against the MLflow UI's model list",
            )
        return ResolveError(
            "VERSION_NOT_FOUND",
            f'Version {ctx.version} of registered model "{ctx.name}" not found at {reg.registry} ({http}); '
            "pin an existing version (see the model's versions in the MLflow UI)",
        )
    if status == 401:
        env = os.environ
        user, password, token = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD"), env.get("MLFLOW_TRACKING_TOKEN")
        if user and password:
            fix = f'the registry rejected user "{user}": check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or serving.registry.username/password)'
        elif token:
            fix = "the registry rejected the bearer token: check MLFLOW_TRACKING_TOKEN, or use MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        elif user or password:
            fix = "only one of username/password is set: set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or serving.registry.username/password)"
        else:
            fix = "no credentials were sent: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or serving.registry.username/password, or MLFLOW_TRACKING_TOKEN)"
        return ResolveError("UNAUTHORIZED", f"{who}: authentication failed (HTTP 401); {fix}")
    if status == 403 and re.search(r"invalid host header", f.text, re.I):
        return ResolveError(
            "HOST_REJECTED",
            f'{who}: the tracking server rejected the Host header "{reg.host_header}" (HTTP 403 {snippet(f.text)}); '
            f'add "{reg.host_header}" to the tracking server\'s --allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS)',
        )
    if status == 403:
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        identity = f'user "{user}"' if user and password else "this identity"
        return ResolveError(
            "FORBIDDEN",
            f"{who}: {identity} is not allowed to do this ({http}); grant READ on the registered model "
            "(EDIT or MANAGE to set aliases) in MLflow's permissions",
        )
    if status == 429 or status >= 500:
        return ResolveError(
            "SERVER_ERROR",
            f"{who}: the tracking server failed ({http}) after {attempts} attempt{plural}; check the MLflow server's logs and its database",
        )
    if status == 404:
        return ResolveError(
            "HTTP_ERROR",
            f"{who}: no MLflow REST API at {reg.prefix}{op_path} ({http}); check the tracking URI, including the server's --static-prefix",
        )
    return ResolveError("HTTP_ERROR", f"{who}: the tracking server answered {http}")


T = TypeVar("T")


def call(fn: Callable[[], T], reg: Registry, ctx: Lookup, op_path: str) -> T:
    try:
        return fn()
    except Exception as exc:  # every failure of MLflow's client becomes one line (no traceback)
        raise registry_error(exc, reg, ctx, op_path) from exc


# ---- main ----------------------------------------------------------------------------------------------------

def resolve(args: Args, env: Mapping[str, str]) -> str:
    """Returns the line to print (without the newline)."""
    positionals = args.positionals or []
    if not positionals:
        usage_error(f"missing model URI; {USAGE}")
    model_uri = positionals[0]
    ref = parse_model_uri(model_uri)
    allowed = args.allow_prefix or []
    validate_allowed_prefixes(allowed)
    dest = args.artifacts_destination
    if dest is not None and not dest.startswith("s3://"):
        usage_error(f'--artifacts-destination "{dest}" must be an s3:// URI')

    if ref.kind == "storageUri":
        assert ref.uri is not None
        storage_uri = to_storage_uri(ref.uri, dest or None, allowed, describe_lookup(ref.uri))
        record = {"name": None, "version": None, "alias": None, "runId": None, "source": None, "storageUri": storage_uri}
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False) if args.json else storage_uri

    tracking = args.tracking_uri if args.tracking_uri is not None else env.get("MLFLOW_TRACKING_URI")
    if not tracking:
        usage_error("missing --tracking-uri (or set MLFLOW_TRACKING_URI)")
    try:
        reg = parse_tracking_uri(tracking)
    except ResolveError as e:
        if args.tracking_uri is None:
            raise ResolveError("USAGE", f"MLFLOW_TRACKING_URI: {e}") from None
        raise

    for key, value in FAST_FAIL_ENV.items():
        os.environ.setdefault(key, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=reg.url, registry_uri=reg.url)
    name = ref.name
    if ref.kind == "alias":
        assert ref.alias is not None
        alias = ref.alias
        mv = call(lambda: client.get_model_version_by_alias(name, alias), reg, Lookup(name, alias=alias),
                  "/api/2.0/mlflow/registered-models/alias")
        version = str(mv.version)
        download_uri = call(lambda: client.get_model_version_download_uri(name, version), reg,
                            Lookup(name, alias=alias, version=version), "/api/2.0/mlflow/model-versions/get-download-uri")
    else:
        assert ref.version is not None
        version = ref.version
        mv = call(lambda: client.get_model_version(name, version), reg, Lookup(name, version=version),
                  "/api/2.0/mlflow/model-versions/get")
        download_uri = call(lambda: client.get_model_version_download_uri(name, version), reg,
                            Lookup(name, version=version), "/api/2.0/mlflow/model-versions/get-download-uri")
        version = str(mv.version)
    if not isinstance(download_uri, str) or download_uri == "":
        raise ResolveError(
            "BAD_RESPONSE",
            f"{describe_lookup(name, ref.alias, version, reg.registry)}: MLflow returned no artifact_uri for the download URI; "
            "the version has no stored artifacts",
        )

    storage_uri = to_storage_uri(download_uri, dest or None, allowed, describe_lookup(name, ref.alias, version, reg.registry))
    if not args.json:
        return storage_uri
    record = {
        "name": name,
        "version": version,
        "alias": ref.alias,
        "runId": mv.run_id or None,
        "source": mv.source or None,
        "storageUri": storage_uri,
    }
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def main(argv: list[str]) -> int:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    # The one-line stderr contract: no library warnings or retry logs (urllib3 logs each retry at WARNING).
    logging.disable(logging.WARNING)
    if not sys.warnoptions:
        warnings.simplefilter("ignore")
    try:
        args = parse_args(argv)
        if args.help:
            sys.stdout.write(__doc__ or USAGE)
            return 0
        line = resolve(args, os.environ)
    except ResolveError as e:
        sys.stderr.write(f"{PROG}: {one_line(str(e))}\n")
        return 2 if e.code in ARGUMENT_CODES else 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as e:  # a bug or an unforeseen failure: still one line, never a traceback
        sys.stderr.write(f"{PROG}: unexpected error: {type(e).__name__}: {one_line(str(e))}\n")
        return 1
    sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
