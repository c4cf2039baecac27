#!/usr/bin/env python3
"""upgrade-control.py: stop and resume the MLflow tracking server around a version upgrade (issue 20).

Usage: upgrade-control.py stop | resume

Runs in a pod of the mlflow image (Python stdlib only) as the ServiceAccount `mlflow-upgrade`, whose Role allows
exactly the calls below (manifests/upgrade.ts; a unit test reads every call of Api.call in this file).

stop (before the pre-upgrade backup and the schema migration):
  1. records, in annotations of the Deployment, its replica count (REPLICAS_ANNOTATION) and the CronJobs it is about
     to suspend (SUSPENDED_ANNOTATION), before anything changes; a count recorded by an earlier run is kept;
  2. suspends each CronJob of UPGRADE_CRONJOBS that exists and is not suspended (one suspended by someone else
     stays suspended and is not recorded, so resume leaves it suspended);
  3. waits until no Job of those CronJobs runs (UPGRADE_JOBS_TIMEOUT_SECONDS);
  4. scales the Deployment to 0 through its scale subresource;
  5. waits until no pod matching the Deployment's selector exists, terminating ones included
     (UPGRADE_PODS_TIMEOUT_SECONDS): no writer of the old version is left.
  A rerun finds everything done and changes nothing.

resume (after the migration and the Deployment's update):
  1. scales the Deployment back to the recorded count when it is still at 0 (with an autoscaler the program leaves
     the replicas alone); a count set since (the program's own, without an autoscaler) is left as it is;
  2. waits until the Deployment's rollout is complete: observedGeneration caught up, and updated, ready and total
     replicas equal to spec.replicas (UPGRADE_ROLLOUT_TIMEOUT_SECONDS); a rollout past its progress deadline fails
     at once;
  3. unsuspends the CronJobs the stop step recorded;
  4. removes both annotations. Nothing recorded: nothing to do.

Each step prints one line of what it did. A failure is one line on stderr naming what failed, exit 1 (for stop:
and that nothing was migrated yet); bad settings exit 2.

Environment:
  UPGRADE_NAMESPACE                 namespace of the objects (default: the pod's own, from its ServiceAccount)
  UPGRADE_DEPLOYMENT                the tracking server's Deployment (default mlflow)
  UPGRADE_CRONJOBS                  CronJobs stopped during the upgrade, space- or comma-separated (default mlflow-gc)
  UPGRADE_JOBS_TIMEOUT_SECONDS      stop: wait for running Jobs of those CronJobs (default 900)
  UPGRADE_PODS_TIMEOUT_SECONDS      stop: wait for the Deployment's pods to be gone (default 300)
  UPGRADE_ROLLOUT_TIMEOUT_SECONDS   resume: wait for the rollout (default 900)
  UPGRADE_POLL_SECONDS              interval of every wait (default 2)
  UPGRADE_API_SERVER                API server URL (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
  UPGRADE_TOKEN_FILE                bearer token (default: the pod's ServiceAccount token)
  UPGRADE_CA_FILE                   CA of the API server (default: the ServiceAccount's ca.crt)
"""

import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PROG = "upgrade-control"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
REPLICAS_ANNOTATION = "mlflow-platform.io/replicas-before-upgrade"
SUSPENDED_ANNOTATION = "mlflow-platform.io/suspended-for-upgrade"
FIELD_MANAGER = "mlflow-upgrade"
# The API group of each resource this script calls, and its REST base.
GROUP_BASE = {"": "/api/v1", "apps": "/apis/apps/v1", "batch": "/apis/batch/v1"}
NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
RETRY_STATUS = (429, 500, 502, 503, 504)


class Failure(Exception):
    """What failed, as one line."""


class Usage(Exception):
    """A bad argument or setting (exit 2)."""


def say(message):
    print(f"{PROG}: {message}", flush=True)


def one_line(text):
    return " ".join(str(text).split())


# ---------------------------------------------------------------- settings


def env_seconds(key, default):
    raw = os.environ.get(key, "").strip()
    if raw == "":
        return default
    if not re.fullmatch(r"\d+", raw) or int(raw) < 1:
        raise Usage(f"{key} must be a whole number of seconds >= 1, got {raw!r}")
    return int(raw)


def env_name(key, default):
    value = os.environ.get(key, "").strip() or default
    if not NAME.fullmatch(value):
        raise Usage(f"{key} must be a Kubernetes object name (lower-case letters, digits, '-', '.'), got {value!r}")
    return value


class Settings:
    def __init__(self):
        ns = os.environ.get("UPGRADE_NAMESPACE", "").strip()
        if not ns:
            try:
                with open(os.path.join(SA_DIR, "namespace")) as f:
                    ns = f.read().strip()
            except OSError:
                raise Usage("UPGRADE_NAMESPACE is not set and the pod has no ServiceAccount namespace file") from None
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", ns):
            raise Usage(f"UPGRADE_NAMESPACE must be a namespace name, got {ns!r}")
        self.namespace = ns
        self.deployment = env_name("UPGRADE_DEPLOYMENT", "mlflow")
        raw = os.environ.get("UPGRADE_CRONJOBS")
        self.cronjobs = [c for c in re.split(r"[\s,]+", "mlflow-gc" if raw is None else raw) if c]
        for c in self.cronjobs:
            if not NAME.fullmatch(c):
                raise Usage(f"UPGRADE_CRONJOBS must list CronJob names, got {c!r}")
        self.jobs_timeout = env_seconds("UPGRADE_JOBS_TIMEOUT_SECONDS", 900)
        self.pods_timeout = env_seconds("UPGRADE_PODS_TIMEOUT_SECONDS", 300)
        self.rollout_timeout = env_seconds("UPGRADE_ROLLOUT_TIMEOUT_SECONDS", 900)
        self.poll = env_seconds("UPGRADE_POLL_SECONDS", 2)
        server = os.environ.get("UPGRADE_API_SERVER", "").strip()
        if not server:
            host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
            if not host or not port:
                raise Usage("UPGRADE_API_SERVER is not set and KUBERNETES_SERVICE_HOST/PORT are not either (not in a pod?)")
            server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        if not re.fullmatch(r"https://[^/\s]+", server.rstrip("/")):
            raise Usage(f"UPGRADE_API_SERVER must be https://<host>[:<port>], got {server!r}")
        self.server = server.rstrip("/")
        self.token_file = os.environ.get("UPGRADE_TOKEN_FILE", "").strip() or os.path.join(SA_DIR, "token")
        self.ca_file = os.environ.get("UPGRADE_CA_FILE", "").strip() or os.path.join(SA_DIR, "ca.crt")
        for key, path in (("UPGRADE_TOKEN_FILE", self.token_file), ("UPGRADE_CA_FILE", self.ca_file)):
            if not os.path.isfile(path):
                raise Usage(f"{key}: no file {path} (the pod's ServiceAccount token is not mounted?)")


# ---------------------------------------------------------------- the API


class Api:
    """The namespace's objects through the API server's REST paths, as the pod's ServiceAccount."""

    def __init__(self, settings):
        self.s = settings
        self.tls = ssl.create_default_context(cafile=settings.ca_file)

    def call(self, verb, group, resource, name=None, body=None, query=None, missing_ok=False):
        """One call, named as RBAC names it: verb (get, list, patch), API group, resource[/subresource].

        Returns the decoded body; None for a missing object when missing_ok. Retries what may pass (connection
        errors, 429, 5xx) a few times; anything else is a Failure naming the call.
        """
        resource_name, _, sub = resource.partition("/")
        path = f"{GROUP_BASE[group]}/namespaces/{self.s.namespace}/{resource_name}"
        if name is not None:
            path += f"/{urllib.parse.quote(name)}"
        if sub:
            path += f"/{sub}"
        params = dict(query or {})
        if verb == "patch":
            params["fieldManager"] = FIELD_MANAGER
        if params:
            path += "?" + urllib.parse.urlencode(params)
        method = {"get": "GET", "list": "GET", "patch": "PATCH"}[verb]
        what = f"{verb} {resource}{' ' + name if name else ''} in namespace {self.s.namespace}"
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(5):
            with open(self.s.token_file) as f:
                token = f.read().strip()  # read each time: a projected token is rotated
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/merge-patch+json"
            request = urllib.request.Request(self.s.server + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, context=self.tls, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as err:
                status, message = err.code, status_message(err)
                if status == 404 and missing_ok:
                    return None
                if status == 403:
                    group_name = group or "core"
                    raise Failure(f"{what}: forbidden: the ServiceAccount's Role does not allow {verb} on {resource} (API group {group_name}): {message}") from None
                if status not in RETRY_STATUS or attempt == 4:
                    raise Failure(f"{what}: HTTP {status}: {message}") from None
                reason = f"HTTP {status}"
            except (urllib.error.URLError, OSError) as err:
                reason = one_line(getattr(err, "reason", err))
                if attempt == 4:
                    raise Failure(f"{what}: the API server {self.s.server} is unreachable: {reason}") from None
            time.sleep(2**attempt)
        raise AssertionError("unreachable")


def status_message(err):
    try:
        body = err.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the status code says enough
        return err.reason
    try:
        return one_line(json.loads(body).get("message") or body[:300])
    except ValueError:
        return one_line(body[:300])


def label_selector(selector):
    """A Deployment's spec.selector as a labelSelector query."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], ",".join(e.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key, "DoesNotExist": f"!{key}"}[op])
    if not parts:
        raise Failure("the Deployment's selector is empty: it would match every pod of the namespace")
    return ",".join(parts)


def wait(what, timeout, poll, check):
    """Calls check() every poll seconds until it returns (True, detail); Failure naming `what` after timeout."""
    start = time.monotonic()
    while True:
        done, detail = check()
        if done:
            return detail, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise Failure(f"timed out after {timeout} s waiting for {what}: {detail}")
        time.sleep(poll)


# ---------------------------------------------------------------- the steps


def annotations_of(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def recorded_cronjobs(annotations):
    return [c for c in (annotations.get(SUSPENDED_ANNOTATION) or "").split(",") if c]


def get_deployment(api, s):
    dep = api.call("get", "apps", "deployments", s.deployment, missing_ok=True)
    if dep is None:
        raise Failure(f"deployment {s.deployment} not found in namespace {s.namespace}")
    return dep


def stop(api, s):
    dep = get_deployment(api, s)
    ann = annotations_of(dep)
    replicas = dep["spec"].get("replicas", 1)
    before = recorded_cronjobs(ann)

    present, to_suspend = {}, []
    for name in s.cronjobs:
        cj = api.call("get", "batch", "cronjobs", name, missing_ok=True)
        if cj is None:
            say(f"cronjob {name}: not present, nothing to suspend")
            continue
        present[name] = cj["metadata"]["uid"]
        if not cj["spec"].get("suspend", False):
            to_suspend.append(name)
        elif name in before:
            say(f"cronjob {name}: already suspended by an earlier run of this step")
        else:
            say(f"cronjob {name}: suspended before the upgrade (not by it): left suspended, not recorded")

    # The record comes first: whatever happens next, resume knows what to bring back.
    record = {}
    if REPLICAS_ANNOTATION not in ann:
        record[REPLICAS_ANNOTATION] = str(replicas)
    after = before + [c for c in to_suspend if c not in before]
    if after != before:
        record[SUSPENDED_ANNOTATION] = ",".join(after)
    if record:
        api.call("patch", "apps", "deployments", s.deployment, body={"metadata": {"annotations": record}})
    kept = ann.get(REPLICAS_ANNOTATION)
    say(
        f"deployment {s.deployment}: "
        + (f"recorded {replicas} replica(s)" if kept is None else f"{kept} replica(s) already recorded by an earlier run: kept")
        + f", CronJobs to resume: {', '.join(after) or 'none'}"
    )

    for name in to_suspend:
        api.call("patch", "batch", "cronjobs", name, body={"spec": {"suspend": True}})
        say(f"cronjob {name}: suspended")

    if present:
        def no_running_job():
            running = []
            for job in api.call("list", "batch", "jobs")["items"]:
                owners = job["metadata"].get("ownerReferences") or []
                if not any(o.get("kind") == "CronJob" and o.get("uid") in present.values() for o in owners):
                    continue
                conditions = (job.get("status") or {}).get("conditions") or []
                finished = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)
                if not finished and not job["spec"].get("suspend", False):
                    running.append(job["metadata"]["name"])
            return not running, f"job(s) still running: {', '.join(sorted(running))}"

        _, took = wait(f"the Jobs of {', '.join(present)} to end", s.jobs_timeout, s.poll, no_running_job)
        say(f"no Job of {', '.join(present)} running (waited {took:.0f} s)")

    if replicas != 0:
        api.call("patch", "apps", "deployments/scale", s.deployment, body={"spec": {"replicas": 0}})
        say(f"deployment {s.deployment}: scaled from {replicas} to 0 replicas")
    else:
        say(f"deployment {s.deployment}: already at 0 replicas")

    selector = label_selector(dep["spec"]["selector"])
    seen = set()

    def no_pod_left():
        pods = [p["metadata"]["name"] for p in api.call("list", "", "pods", query={"labelSelector": selector})["items"]]
        seen.update(pods)
        return not pods, f"{len(pods)} pod(s) left: {', '.join(sorted(pods)[:5])}"

    _, took = wait(f"the pods of deployment {s.deployment} ({selector}) to be gone", s.pods_timeout, s.poll, no_pod_left)
    say(f"no pod of deployment {s.deployment} left ({len(seen)} terminated, waited {took:.0f} s): the tracking server is stopped")


def rollout_state(dep):
    """(complete, detail) of a Deployment's rollout."""
    spec, status, meta = dep["spec"], dep.get("status") or {}, dep["metadata"]
    want = spec.get("replicas", 1)
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            raise Failure(f"deployment {meta['name']}: the rollout is past its progress deadline: {one_line(c.get('message', ''))}")
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, f"generation {meta.get('generation')} not observed yet (observed {status.get('observedGeneration', 0)})"
    have = {k: status.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas")}
    detail = f"{have['updatedReplicas']} updated, {have['readyReplicas']} ready, {have['replicas']} in total of {want}"
    return all(v == want for v in have.values()), detail


def resume(api, s):
    dep = get_deployment(api, s)
    ann = annotations_of(dep)
    recorded, cronjobs = ann.get(REPLICAS_ANNOTATION), recorded_cronjobs(ann)
    if recorded is None and SUSPENDED_ANNOTATION not in ann:
        say(f"deployment {s.deployment}: nothing recorded by a stop step: nothing to resume")
        return
    current = dep["spec"].get("replicas", 1)
    if recorded is not None:
        if not re.fullmatch(r"\d+", recorded):
            raise Failure(f"deployment {s.deployment}: annotation {REPLICAS_ANNOTATION} is {recorded!r}, not a replica count")
        if current == 0 and int(recorded) > 0:
            api.call("patch", "apps", "deployments/scale", s.deployment, body={"spec": {"replicas": int(recorded)}})
            say(f"deployment {s.deployment}: scaled from 0 back to {recorded} replica(s), the count recorded before the upgrade")
        else:
            say(f"deployment {s.deployment}: at {current} replica(s), set since the stop step (recorded {recorded}): left as is")

    def complete():
        return rollout_state(get_deployment(api, s))

    detail, took = wait(f"the rollout of deployment {s.deployment}", s.rollout_timeout, s.poll, complete)
    say(f"deployment {s.deployment}: rollout complete ({detail}, waited {took:.0f} s)")

    for name in cronjobs:
        cj = api.call("get", "batch", "cronjobs", name, missing_ok=True)
        if cj is None:
            say(f"cronjob {name}: gone since the stop step, nothing to unsuspend")
        elif cj["spec"].get("suspend", False):
            api.call("patch", "batch", "cronjobs", name, body={"spec": {"suspend": False}})
            say(f"cronjob {name}: unsuspended")
        else:
            say(f"cronjob {name}: already running on its schedule")

    api.call("patch", "apps", "deployments", s.deployment, body={"metadata": {"annotations": {REPLICAS_ANNOTATION: None, SUSPENDED_ANNOTATION: None}}})
    say(f"deployment {s.deployment}: upgrade annotations removed: the upgrade is over")


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) != 2 or argv[1] not in ("stop", "resume"):
        print(f"{PROG}: usage: upgrade-control.py stop | resume (got {' '.join(argv[1:]) or 'nothing'})", file=sys.stderr)
        return 2
    step = argv[1]
    try:
        settings = Settings()
    except Usage as err:
        print(f"{PROG} {step}: error: {err}", file=sys.stderr)
        return 2
    try:
        (stop if step == "stop" else resume)(Api(settings), settings)
    except Exception as err:  # noqa: BLE001 - one line, whatever failed
        message = str(err) if isinstance(err, Failure) else f"{type(err).__name__}: {one_line(err)}"
        if step == "stop":
            message += " -- nothing was migrated yet (the database is as it was); rerunning this step is safe"
        else:
            message += " -- the upgrade itself is done; rerunning this step is safe"
        print(f"{PROG} {step}: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
