"""Gated promotion, in the cluster: moves an alias to a model version if the promotion gate passes.

The suspended CronJob `promote` (manifests/promotion.ts) runs this with `command: python /app/promote.py`; one
Job = one promotion attempt. Same rules, messages and tags as the TypeScript gate (lib/promotion-gate.ts,
`npm run promote`), compared on a table of cases by test/integration/promotion.test.ts:
  1. bad input (force without a reason, ...) -> exit 2;
  2. the alias is unset -> promote;
  3. the candidate already holds the alias -> no-op;
  4. the candidate's run lacks the metric, or the current holder's does -> refuse, unless forced;
  5. candidate <= current * (1 + max regression) -> promote, else refuse, unless forced.
The metric is lower-is-better. A promotion sets the alias, then writes the tag trail
`mlflow-platform.promotion.<alias>.<field>` on the promoted version.

Environment (a contract with manifests/promotion.ts):
  MLFLOW_TRACKING_URI, REGISTERED_MODEL_NAME, PROMOTION_ALIAS, PROMOTION_METRIC, PROMOTION_MAX_REGRESSION,
  PROMOTE_VERSION (set per Job: see the CronJob's mlflow-platform/launch annotation),
  optional PROMOTE_FORCE (true/false), PROMOTE_REASON, PROMOTE_USER,
  MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD when the server has basic auth.

Exit codes: 0 promoted or no-op (one line on stdout); 1 refused or a registry failure; 2 bad input (one line
on stderr). Nothing but that one line is printed.
"""

import math
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

DEFAULT_METRIC = "test_rmse"
TAG_PREFIX = "mlflow-platform.promotion."
TAG_FIELDS = (
    "user",
    "time",
    "reason",
    "forced",
    "previous_version",
    "metric",
    "value",
    "previous_value",
    "max_regression",
    "limit",
)
MAX_REASON_LENGTH = 500
PROG = "promote.py"
LAUNCH_HINT = (
    "launch the Job with the command in the CronJob's mlflow-platform/launch annotation "
    "(kubectl get cronjob promote -o jsonpath='{.metadata.annotations.mlflow-platform/launch}')"
)


class InputError(ValueError):
    """Bad input: exit 2."""


@dataclass(frozen=True)
class VersionMetric:
    version: str
    value: float | None = None


@dataclass(frozen=True)
class Decision:
    action: str  # promote | noop | refuse | invalid
    message: str
    forced: bool
    model: str
    alias: str
    metric: str
    max_regression: float
    candidate: VersionMetric
    current: VersionMetric | None = None
    limit: float | None = None
    reason: str | None = None
    passed: str | None = None


def format_number(x: float) -> str:
    """x as JavaScript's String(x) writes it: shortest round-trip digits, exponent below 1e-6 and from 1e21."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() is the shortest string that round-trips, like JavaScript's; only the layout differs.
    t = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(str(d) for d in t.digits)
    k = len(digits)
    n = t.exponent + k  # the value is 0.<digits> * 10**n
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + s


def normalize_reason(reason: str | None) -> str | None:
    r = re.sub(r"\s+", " ", reason or "").strip()
    return r or None


def gate_options_error(metric: str, max_regression: float, force: bool, reason: str | None) -> str | None:
    if metric.strip() == "":
        return "the metric must not be empty"
    if not isinstance(max_regression, (int, float)) or not math.isfinite(max_regression) or max_regression < 0:
        return f"max regression must be a number >= 0 (a fraction: 0.02 = 2% worse), got {max_regression}"
    r = normalize_reason(reason)
    if force and r is None:
        return "force needs a reason: say why the gate is overridden"
    if r is not None and len(r) > MAX_REASON_LENGTH:
        return f"the reason is {len(r)} characters; at most {MAX_REASON_LENGTH}"
    return None


def decide(
    model: str,
    alias: str,
    candidate: VersionMetric,
    current: VersionMetric | None,
    metric: str = DEFAULT_METRIC,
    max_regression: float = 0.0,
    force: bool = False,
    reason: str | None = None,
) -> Decision:
    """The promotion gate; pure. Mirrors decidePromotion() of lib/promotion-gate.ts."""
    reason_n = normalize_reason(reason)
    ref = f"models:/{model}@{alias}"
    base = dict(model=model, alias=alias, metric=metric, max_regression=max_regression, candidate=candidate, current=current, reason=reason_n)

    def show(v: VersionMetric) -> str:
        return f"version {v.version} ({'no ' + metric if v.value is None else metric + ' ' + format_number(v.value)})"

    why = f"; reason: {reason_n}" if reason_n is not None else ""
    bad = gate_options_error(metric, max_regression, force, reason)
    if bad is not None:
        return Decision(action="invalid", forced=False, message=f"{ref}: {bad}", **base)

    cand, cur = candidate, current
    if cur is None:
        passed = "the alias was unset"
        return Decision(action="promote", forced=False, passed=passed, message=f"{ref} → {show(cand)}: {passed}, nothing to compare against{why}", **base)
    if cur.version == cand.version:
        return Decision(action="noop", forced=False, message=f"{ref} is already {show(cand)}: nothing to do", **base)

    limit = None
    if cand.value is None:
        cause = f"version {cand.version}'s run has no {metric} metric"
    elif cur.value is None:
        cause = f"version {cur.version}'s run has no {metric} metric to compare against"
    else:
        limit = cur.value * (1 + max_regression)
        rule = (
            f"limit {format_number(limit)} (version {cur.version}'s {format_number(cur.value)}, "
            f"max regression {format_number(max_regression)}, lower is better)"
        )
        if cand.value <= limit:
            passed = f"{metric} {format_number(cand.value)} <= {rule}"
            return Decision(
                action="promote", forced=False, passed=passed, limit=limit,
                message=f"{ref} → {show(cand)} from {show(cur)}: gate passed, {passed}{why}", **base,
            )
        cause = f"{metric} {format_number(cand.value)} is over the {rule}"
    if force:
        return Decision(
            action="promote", forced=True, limit=limit,
            message=f"{ref} → {show(cand)} from {show(cur)}: FORCED past the gate ({cause}){why}", **base,
        )
    return Decision(
        action="refuse", forced=False, limit=limit,
        message=f"{ref} stays {show(cur)}: {show(cand)} refused, {cause}; force with a reason to promote anyway", **base,
    )


def tag_key(alias: str, name: str) -> str:
    return f"{TAG_PREFIX}{alias}.{name}"


def iso_utc(now: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as JavaScript's toISOString(): 2025-01-31T12:00:00.000Z."""
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.astimezone(timezone.utc).microsecond // 1000:03d}Z"


def promotion_tags(d: Decision, user: str, now: datetime) -> dict[str, str]:
    """The tag trail of a promotion (mirrors promotionTags() of lib/promotion-gate.ts), in TAG_FIELDS order."""
    if d.action != "promote":
        raise ValueError(f"promotion_tags: a {d.action} decision writes no trail")

    def none(v: float | None) -> str:
        return "none" if v is None else format_number(v)

    values = {
        "user": user,
        "time": iso_utc(now),
        "reason": d.reason if d.reason is not None else f"gate passed: {d.passed or '?'}",
        "forced": "true" if d.forced else "false",
        "previous_version": d.current.version if d.current is not None else "none",
        "metric": d.metric,
        "value": none(d.candidate.value),
        "previous_value": none(d.current.value if d.current is not None else None),
        "max_regression": format_number(d.max_regression),
        "limit": none(d.limit),
    }
    return {tag_key(d.alias, f): values[f] for f in TAG_FIELDS}


def metric_value(raw) -> float | None:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Settings:
    tracking_uri: str
    model: str
    alias: str
    metric: str
    max_regression: float
    version: str
    force: bool
    reason: str | None
    user: str


def _required(env: dict, name: str, hint: str = "") -> str:
    value = env.get(name, "").strip()
    if value == "":
        raise InputError(f"{name} is not set{hint}")
    return value


def settings_from_env(env: dict) -> Settings:
    version = _required(env, "PROMOTE_VERSION", f": the version to promote is set per Job; {LAUNCH_HINT}")
    if not re.fullmatch(r"[1-9]\d*", version):
        raise InputError(f"PROMOTE_VERSION={version!r} must be a positive integer (a model version)")
    tracking_uri = _required(env, "MLFLOW_TRACKING_URI")
    model = _required(env, "REGISTERED_MODEL_NAME")
    alias = _required(env, "PROMOTION_ALIAS")
    if not re.fullmatch(r"[\w-]+", alias) or alias.lower() == "latest" or re.fullmatch(r"v\d+", alias, re.IGNORECASE):
        raise InputError(f"PROMOTION_ALIAS={alias!r} is not a valid alias: letters, digits, '_' and '-'; 'latest' and 'v<number>' are reserved")
    metric = env.get("PROMOTION_METRIC", "").strip() or DEFAULT_METRIC
    raw = env.get("PROMOTION_MAX_REGRESSION", "").strip() or "0"
    if not re.fullmatch(r"(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", raw):
        raise InputError(f"PROMOTION_MAX_REGRESSION={raw!r} must be a number >= 0 (a fraction: 0.02 = 2% worse)")
    max_regression = float(raw)
    force_raw = env.get("PROMOTE_FORCE", "").strip().lower()
    if force_raw in ("", "false", "0", "no"):
        force = False
    elif force_raw in ("true", "1", "yes"):
        force = True
    else:
        raise InputError(f"PROMOTE_FORCE={env.get('PROMOTE_FORCE')!r} must be true or false")
    reason = env.get("PROMOTE_REASON")
    err = gate_options_error(metric, max_regression, force, reason)
    if err is not None:
        if err.startswith("force needs a reason"):
            err = "PROMOTE_FORCE=true needs PROMOTE_REASON (why the gate is overridden)"
        raise InputError(err)
    user = (env.get("PROMOTE_USER") or env.get("USER") or (f"pod/{env['HOSTNAME']}" if env.get("HOSTNAME") else "") or "unknown").strip()
    return Settings(tracking_uri, model, alias, metric, max_regression, version, force, reason, user)


def _one_line(text: str, limit: int = 600) -> str:
    s = re.sub(r"\s+", " ", text).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _quiet() -> None:
    """Nothing but the outcome line: MLflow's and the libraries' warnings off."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    logging.basicConfig(level=logging.CRITICAL)
    for name in ("mlflow", "urllib3", "alembic"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _metric_of(client, mv, metric: str) -> VersionMetric:
    from mlflow.exceptions import MlflowException

    if not mv.run_id:
        return VersionMetric(str(mv.version))
    try:
        run = client.get_run(mv.run_id)
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return VersionMetric(str(mv.version))
        raise
    return VersionMetric(str(mv.version), metric_value(run.data.metrics.get(metric)))


def _alias_missing(e) -> bool:
    return getattr(e, "error_code", "") in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST") and re.search(r"alias .* not found", str(e), re.IGNORECASE) is not None


def run(s: Settings, now=lambda: datetime.now(timezone.utc)) -> tuple[int, str, str]:
    """Applies the gate against the registry: (exit code, stream, line)."""
    _quiet()
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=s.tracking_uri)
    where = f"models:/{s.model}@{s.alias} at {s.tracking_uri}"
    try:
        candidate_mv = client.get_model_version(s.model, s.version)
        try:
            current_mv = client.get_model_version_by_alias(s.model, s.alias)
        except MlflowException as e:
            if not _alias_missing(e):
                raise
            current_mv = None
        candidate = _metric_of(client, candidate_mv, s.metric)
        if current_mv is None:
            current = None
        elif str(current_mv.version) == candidate.version:
            current = candidate
        else:
            current = _metric_of(client, current_mv, s.metric)
    except MlflowException as e:
        return 1, "stderr", f"{PROG}: error: reading {where} (version {s.version}) failed: {_one_line(str(e))}"

    d = decide(s.model, s.alias, candidate, current, s.metric, s.max_regression, s.force, s.reason)
    if d.action == "invalid":
        return 2, "stderr", f"{PROG}: error: {d.message}"
    if d.action == "refuse":
        return 1, "stderr", f"{PROG}: {d.message}"
    if d.action == "noop":
        return 0, "stdout", d.message
    try:
        client.set_registered_model_alias(s.model, s.alias, s.version)
    except MlflowException as e:
        return 1, "stderr", f"{PROG}: error: setting {where} to version {s.version} failed: {_one_line(str(e))}"
    try:
        for key, value in promotion_tags(d, s.user, now()).items():
            client.set_model_version_tag(s.model, s.version, key, value)
    except MlflowException as e:
        return 1, "stderr", f"{PROG}: error: {where} now points at version {s.version}, but writing its promotion tags failed: {_one_line(str(e))}"
    return 0, "stdout", d.message


def main(env: dict | None = None) -> int:
    try:
        s = settings_from_env(dict(os.environ) if env is None else env)
    except InputError as e:
        print(f"{PROG}: error: {_one_line(str(e))}", file=sys.stderr, flush=True)
        return 2
    try:
        code, stream, line = run(s)
    except Exception as e:  # a registry failure outside MLflow's own exceptions (e.g. the connection)
        code, stream, line = 1, "stderr", f"{PROG}: error: {type(e).__name__}: {_one_line(str(e))}"
    print(line, file=sys.stdout if stream == "stdout" else sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
