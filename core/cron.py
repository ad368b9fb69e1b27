"""CronWorkflows, as Argo's: a Workflow spec and the options of a Kubernetes CronJob.

The engine's scheduler (:class:`CronScheduler`) looks at every CronWorkflow on each poll with a
clock it is given. The workflow a schedule time starts is named after that time (Argo's
``NAME-UNIXTIME``), so it cannot be created twice: an engine killed between creating it and
recording ``lastScheduledTime`` finds it there when it comes back, and only records the time.
A schedule time that passed while no engine ran is run late only within
``startingDeadlineSeconds`` of it, as in Argo.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argosy.errors import ArgosyError, ExpressionError, Fault, NotFound
from argosy.spec.models import API_VERSION
from argosy.spec.refs import Lookup
from argosy.store import AlreadyExists, Store

KIND = "CronWorkflow"
CRON_LABEL = "workflows.argoproj.io/cron-workflow"
SCHEDULED_ANNOTATION = "workflows.argoproj.io/scheduled-time"
COMPLETED_LABEL = "cronworkflows.argoproj.io/completed"
POLICIES = ("Allow", "Forbid", "Replace")
# A schedule time the scheduler sees this late still counts as on time (its poll is far
# shorter): later than this, only startingDeadlineSeconds lets it run.
ON_TIME_SECONDS = 10.0
SPEC_FIELDS = {"schedule", "schedules", "timezone", "suspend", "concurrencyPolicy",
               "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
               "stopStrategy", "when", "workflowSpec", "workflowMetadata"}
FINISHED = ("Succeeded", "Failed", "Error")


# ---- the spec -------------------------------------------------------------------------------

def schedules(spec: dict[str, Any]) -> list[str]:
    """``schedules``, or the older single ``schedule``."""
    found = spec.get("schedules") or []
    if spec.get("schedule"):
        found = [spec["schedule"], *found]
    return list(found)


def zone(spec: dict[str, Any]) -> tzinfo:
    """``timezone``, else the machine's, as Argo's controller."""
    name = spec.get("timezone")
    if name:
        return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo or UTC


def _int_fault(spec: dict[str, Any], key: str) -> list[Fault]:
    value = spec.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return []
    return [Fault(f"spec.{key}", f"{key} must be a whole number of at least 0, not {value!r}")]


def _schedule_faults(spec: dict[str, Any]) -> list[Fault]:
    if spec.get("schedule") is not None and spec.get("schedules") is not None:
        return [Fault("spec.schedule", "give schedules or schedule, not both")]
    given = spec.get("schedules")
    if spec.get("schedule") is not None:
        given, where = [spec["schedule"]], "spec.schedule"
    else:
        where = "spec.schedules"
    if not isinstance(given, list) or not given:
        return [Fault(where, "schedules must be a non-empty list of cron expressions")]
    faults = []
    for index, text in enumerate(given):
        path = where if where == "spec.schedule" else f"{where}[{index}]"
        if not isinstance(text, str) or not _croniter().is_valid(text):
            faults.append(Fault(path, f'invalid cron schedule "{text}": expected five fields '
                                "(minute hour day-of-month month day-of-week) or @hourly…"))
    return faults


def _option_faults(spec: dict[str, Any]) -> list[Fault]:
    faults = []
    for key in sorted(set(spec) - SPEC_FIELDS):
        near = difflib.get_close_matches(str(key), sorted(SPEC_FIELDS), n=1)
        hint = f", did you mean {near[0]}" if near else ""
        faults.append(Fault(f"spec.{key}", f"unknown field {key} of a CronWorkflow spec{hint}"))
    if spec.get("timezone") is not None:
        try:
            zone(spec)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            faults.append(Fault("spec.timezone", f'unknown time zone "{spec["timezone"]}": '
                                "use an IANA name such as America/Los_Angeles"))
    policy = spec.get("concurrencyPolicy")
    if policy not in (None, "", *POLICIES):
        faults.append(Fault("spec.concurrencyPolicy", f'concurrencyPolicy must be one of '
                            f'{", ".join(POLICIES)}, not "{policy}"'))
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit",
                "failedJobsHistoryLimit"):
        faults += _int_fault(spec, key)
    if not isinstance(spec.get("suspend", False), bool):
        faults.append(Fault("spec.suspend", "suspend must be true or false"))
    if not isinstance(spec.get("when", ""), str):
        faults.append(Fault("spec.when", "when must be an expression string"))
    stop = spec.get("stopStrategy")
    if stop is not None and not (isinstance(stop, dict) and isinstance(stop.get("expression"),
                                                                        str)):
        faults.append(Fault("spec.stopStrategy.expression", "stopStrategy needs an expression"))
    return faults


def cron_faults(body: dict[str, Any], lookup: Lookup | None) -> list[Fault]:
    """A CronWorkflow's faults: its options, and its workflowSpec linted as a Workflow's spec
    (references resolved with ``lookup``)."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return [Fault("spec", "spec is required")]
    faults = _schedule_faults(spec) + _option_faults(spec)
    if not isinstance(spec.get("workflowSpec"), dict):
        return [*faults, Fault("spec.workflowSpec", "workflowSpec is required")]
    return faults + _workflow_faults(body, lookup)


def _workflow_faults(body: dict[str, Any], lookup: Lookup | None) -> list[Fault]:
    from argosy.registry import default_registry
    from argosy.spec.lint import lint
    from argosy.spec.refs import resolve_references

    doc = workflow_from(body, name=body["metadata"].get("name") or "cron")
    namespace = body["metadata"].get("namespace") or "default"
    found = resolve_references(doc, namespace, lookup) if lookup else []
    found += lint(doc, template_types=default_registry().validators())
    faults = []
    for fault in found:
        if fault.path.startswith("metadata"):
            path = "spec.workflowMetadata" + fault.path[len("metadata"):]
        else:
            path = "spec.workflowSpec" + fault.path[len("spec"):]
        faults.append(Fault(path, fault.message))
    return faults


def workflow_from(cron: dict[str, Any], *, name: str | None = None,
                  scheduled: datetime | None = None) -> dict[str, Any]:
    """The Workflow a CronWorkflow starts (Argo's ConvertCronWorkflowToWorkflow): its
    workflowSpec and workflowMetadata, labelled with the cron's name; ``scheduled`` adds the
    scheduled-time annotation (``workflow.scheduledTime``)."""
    meta = cron.get("metadata") or {}
    extra = cron["spec"].get("workflowMetadata") or {}
    labels = {**(extra.get("labels") or {}), CRON_LABEL: meta.get("name", "")}
    annotations = dict(extra.get("annotations") or {})
    if scheduled is not None:
        annotations[SCHEDULED_ANNOTATION] = scheduled.isoformat(timespec="seconds").replace(
            "+00:00", "Z")
    wf_meta: dict[str, Any] = {"labels": labels}
    if annotations:
        wf_meta["annotations"] = annotations
    if name:
        wf_meta["name"] = name
    else:
        wf_meta["generateName"] = f"{meta.get('name', 'cron')}-"
    if meta.get("namespace"):
        wf_meta["namespace"] = meta["namespace"]
    # The cron's group (argoproj.io, or the one a cluster's controller serves) is its runs'.
    api_version = cron.get("apiVersion") or API_VERSION
    if meta.get("uid"):
        wf_meta["ownerReferences"] = [{
            "apiVersion": api_version, "kind": KIND, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": api_version, "kind": "Workflow", "metadata": wf_meta,
            "spec": copy.deepcopy(cron["spec"]["workflowSpec"])}


def child_name(cron_name: str, scheduled: datetime) -> str:
    """Argo's name for the workflow of one schedule time: one per time, ever."""
    return f"{cron_name}-{int(scheduled.timestamp())}"


def set_suspend(store: Store, namespace: str | None, name: str, value: bool) -> dict[str, Any]:
    """``argo cron suspend`` / ``resume``: ``spec.suspend``, the rest of the object as it is."""
    def change(body: dict[str, Any]) -> None:
        body["spec"]["suspend"] = value

    return store.patch_object(KIND, namespace or "default", name, change)


# ---- when and stopStrategy ------------------------------------------------------------------

def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _variables(cron: dict[str, Any]) -> dict[str, Any]:
    """The ``cronworkflow.*`` variables of ``when`` and ``stopStrategy``."""
    meta, status = cron.get("metadata") or {}, cron.get("status") or {}
    return {"name": meta.get("name"), "namespace": meta.get("namespace"),
            "labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
            "failed": status.get("failed", 0), "succeeded": status.get("succeeded", 0),
            "lastScheduledTime": _parse_time(status.get("lastScheduledTime"))}


def when_allows(cron: dict[str, Any], now: datetime) -> bool:
    """``spec.when``, its ``{{…}}`` tags substituted first (``now()`` is ``now``), as a
    govaluate condition."""
    from argosy.expr import BUILTIN_FUNCTIONS, evaluate_when
    from argosy.expr.substitute import Scope, substitute_text

    text = cron["spec"].get("when") or ""
    if not text:
        return True
    functions = {**BUILTIN_FUNCTIONS, "now": lambda: now}
    return evaluate_when(substitute_text(text, Scope({"cronworkflow": _variables(cron)}),
                                         strict=True, functions=functions))


def should_stop(cron: dict[str, Any]) -> bool:
    """``spec.stopStrategy.expression``, an expr-language condition."""
    from argosy.expr import evaluate_expr

    stop = cron["spec"].get("stopStrategy")
    if not stop:
        return False
    result = evaluate_expr(stop["expression"], {"cronworkflow": _variables(cron)})
    if not isinstance(result, bool):
        raise ExpressionError(f'stopStrategy.expression "{stop["expression"]}" gave {result!r},'
                              " not a boolean")
    return result


# ---- when a schedule is due -----------------------------------------------------------------

def due(cron: dict[str, Any], now: datetime) -> datetime | None:
    """The schedule time to run at ``now``, if any: the latest one since the last run (since
    the cron was created, before its first) that is on time or within
    ``startingDeadlineSeconds``."""
    spec = cron["spec"]
    status = cron.get("status") or {}
    since = _parse_time(status.get("lastScheduledTime")) or _parse_time(
        cron["metadata"].get("creationTimestamp")) or now
    grace = max(float(spec.get("startingDeadlineSeconds") or 0), ON_TIME_SECONDS)
    local = now.astimezone(zone(spec))
    latest = None
    for text in schedules(spec):
        # croniter's get_prev from ``now`` is strictly before it: step a microsecond past.
        previous = _croniter()(text, local + timedelta(microseconds=1)).get_prev(datetime)
        if previous > since and (latest is None or previous > latest):
            latest = previous
    if latest is None or (now - latest).total_seconds() > grace:
        return None
    return latest


def _croniter() -> Any:
    """croniter, imported when a schedule is read: not by every verb of the CLI."""
    from croniter import croniter

    return croniter


def next_time(cron: dict[str, Any], now: datetime) -> datetime | None:
    """When the next schedule time comes (``argo cron get``'s NextScheduledTime)."""
    spec = cron["spec"]
    local = now.astimezone(zone(spec))
    times = [_croniter()(text, local).get_next(datetime) for text in schedules(spec)]
    return min(times) if times else None


# ---- the scheduler --------------------------------------------------------------------------

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CronObjects(Protocol):
    """Where the CronWorkflows live: the engine's store, or a cluster's objects."""

    def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]: ...

    def get_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def patch_object(self, kind: str, namespace: str, name: str,
                     change: Callable[[dict[str, Any]], None]) -> dict[str, Any]: ...


class CronScheduler:
    """Starts the workflows of the CronWorkflows in ``store``, keeps their status and history.

    ``workflows`` (the store's WorkflowService by default) is where the runs go: its
    ``submit`` records a workflow manifest (raising AlreadyExists for a taken name), ``list``
    finds them by label, ``terminate`` and ``delete`` act on one by namespace and name.
    """

    def __init__(self, store: CronObjects, clock: Clock = utc_now, *,
                 workflows: Any = None) -> None:
        from argosy.api.service import WorkflowService

        self.store = store
        self.clock = clock
        self.workflows = workflows or WorkflowService(store)  # type: ignore[arg-type]

    def pending(self) -> bool:
        """Whether any CronWorkflow may still start a workflow (the engine stays for it)."""
        return any(not c["spec"].get("suspend") and (c.get("status") or {}).get("phase")
                   != "Stopped" for c in self.store.list_objects(KIND))

    def tick(self) -> list[str]:
        """One look at every CronWorkflow; the names of the workflows started."""
        now = self.clock()
        started = []
        for cron in self.store.list_objects(KIND):
            meta = cron["metadata"]
            namespace = meta.get("namespace") or "default"
            try:
                name = self.reconcile(namespace, meta["name"], now)
            except NotFound:
                continue  # deleted meanwhile
            except (ArgosyError, ValueError) as exc:  # its when, its stopStrategy: said there
                self._condition(namespace, meta["name"], str(exc))
                continue
            if name:
                started.append(name)
        return started

    def reconcile(self, namespace: str, name: str, now: datetime) -> str | None:
        cron = self.store.get_object(KIND, namespace, name)
        if cron is None:
            raise NotFound(f'CronWorkflow "{name}" not found')
        status = copy.deepcopy(cron.get("status") or {})
        children = self.workflows.list(namespace, label_selector=f"{CRON_LABEL}={name}")
        self._count_finished(cron, status, children)
        self._enforce_history(cron["spec"], children)
        started = None
        when = due(dict(cron, status=status), now)
        if when is not None:
            started = self._run(dict(cron, status=status), status, when, now)
        if status != (cron.get("status") or {}):
            self._save_status(namespace, name, status)
        return started

    def _count_finished(self, cron: dict[str, Any], status: dict[str, Any],
                        children: list[dict[str, Any]]) -> None:
        """Argo's reconcileActiveWfs: a workflow that left ``active`` is counted once."""
        by_uid = {c["metadata"]["uid"]: c for c in children}
        seen = {ref.get("uid") for ref in status.get("active") or []}
        active = []
        for ref in status.get("active") or []:
            child = by_uid.get(ref.get("uid"))
            phase = (child or {}).get("status", {}).get("phase")
            if child is not None and phase not in FINISHED:
                active.append(ref)
            elif phase in ("Failed", "Error"):
                status["failed"] = status.get("failed", 0) + 1
            elif phase == "Succeeded":
                status["succeeded"] = status.get("succeeded", 0) + 1
        last = _parse_time(status.get("lastScheduledTime"))
        for child in children:  # one started by an engine killed before it recorded it
            if child["metadata"]["uid"] in seen:
                continue
            if child.get("status", {}).get("phase") not in FINISHED:
                active.append(_reference(child))
            scheduled = _parse_time((child["metadata"].get("annotations") or {}).get(
                SCHEDULED_ANNOTATION))
            if scheduled is not None and (last is None or scheduled > last):
                last = scheduled
                status["lastScheduledTime"] = _stamp(scheduled)
        status["active"] = active
        if not active:
            status.pop("active")
        if status.get("phase") != "Stopped" and should_stop(dict(cron, status=status)):
            status["phase"] = "Stopped"

    def _enforce_history(self, spec: dict[str, Any], children: list[dict[str, Any]]) -> None:
        keep = {"Succeeded": spec.get("successfulJobsHistoryLimit", 3),
                "Failed": spec.get("failedJobsHistoryLimit", 1)}
        for outcome, limit in keep.items():
            done = [c for c in children if (c.get("status") or {}).get("phase") in
                    (("Succeeded",) if outcome == "Succeeded" else ("Failed", "Error"))]
            done.sort(key=lambda c: c["status"].get("finishedAt") or "", reverse=True)
            for child in done[limit:]:
                with contextlib.suppress(NotFound):
                    self.workflows.delete(child["metadata"].get("namespace", "default"),
                                          child["metadata"]["name"])

    def _run(self, cron: dict[str, Any], status: dict[str, Any], scheduled: datetime,
             now: datetime) -> str | None:
        """Argo's run for one schedule time: suspend, Stopped, when and concurrencyPolicy
        decide; the workflow is named after the time, so it is created at most once."""
        spec = cron["spec"]
        if spec.get("suspend") or status.get("phase") == "Stopped":
            return None
        if not when_allows(cron, now):
            return None
        policy = spec.get("concurrencyPolicy") or "Allow"
        namespace = cron["metadata"].get("namespace") or "default"
        if policy == "Forbid" and status.get("active"):
            return None
        if policy == "Replace":
            for ref in status.get("active") or []:
                with contextlib.suppress(ArgosyError):  # gone, or already finishing
                    self.workflows.terminate(namespace, ref["name"])
        name = child_name(cron["metadata"]["name"], scheduled)
        started: str | None = name
        try:
            wf = self.workflows.submit(workflow_from(cron, name=name, scheduled=scheduled),
                                       start_engine=False)
            status["active"] = [*(status.get("active") or []), _reference(wf)]
        except AlreadyExists:
            started = None  # this time ran before the engine was killed: record it only
        status["phase"] = "Active"
        status["lastScheduledTime"] = _stamp(scheduled)
        return started

    def _condition(self, namespace: str, name: str, message: str) -> None:
        """Argo's SpecError condition on the cron, replacing an earlier one."""
        def change(body: dict[str, Any]) -> None:
            status = body.setdefault("status", {})
            others = [c for c in status.get("conditions") or [] if c.get("type") != "SpecError"]
            status["conditions"] = [*others, {"type": "SpecError", "status": "True",
                                              "message": message}]

        with contextlib.suppress(NotFound):
            self.store.patch_object(KIND, namespace, name, change)

    def _save_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        def change(body: dict[str, Any]) -> None:
            body["status"] = status
            if status.get("phase") == "Stopped":
                body["metadata"].setdefault("labels", {})[COMPLETED_LABEL] = "true"

        self.store.patch_object(KIND, namespace, name, change)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reference(wf: dict[str, Any]) -> dict[str, Any]:
    meta = wf["metadata"]
    return {"kind": "Workflow", "apiVersion": wf.get("apiVersion") or API_VERSION,
            "name": meta["name"], "namespace": meta.get("namespace", "default"),
            "uid": meta["uid"]}
