"""The ``kubernetes`` executor: one Pod per container or script node, as Argo makes them.

Select it with ``argosy run --executor kubernetes``, ``argosy server --executor kubernetes``,
``executor: kubernetes`` in ``$ARGOSY_HOME/config.yaml``, or per workflow with the annotation
``argosy.io/executor: kubernetes``. The cluster is the kubeconfig's (``--kubeconfig``,
``$KUBECONFIG``, ``~/.kube/config``) or, in a Pod, its own.

* Pods are named as Argo names them (``<workflow>-<template>-<hash>``) and carry Argo's
  ``workflows.argoproj.io/workflow`` label and node-name annotation. A node's pod name is
  deterministic, so after an engine restart the executor finds the pod again: a create answered
  409 adopts the existing pod when it is this node's (its ``argosy.io/node-token`` annotation
  matches the token kept in the node's directory), and replaces a stale one (a deleted
  workflow's, or a node that ``argosy retry`` runs again) otherwise.
* Every pod of a namespace is followed through one watch (never polled), resumed from its last
  resourceVersion; a 410 Gone re-lists, 429 and 5xx answers back off.
* No executor image: when a node needs outputs from files or runs a script, its main container
  runs its command under a small ``sh`` wrapper that writes the declared output files to the
  termination message afterwards and, for a script, first saves the source (passed in the env,
  as Argo passes its template) to ``/var/run/argo/script``, appended to the command as Argo does.
  ``outputs.result`` is the main container's log, ``exitCode`` its exit code.
* Artifacts: the wrapper copies each output artifact into the node's directory's ``outputs/``
  with ``cp``, and input artifacts are mounted from its ``artifacts/``. With a repository pods
  reach (S3; ``ProcessRequest.artifact_plan``) that directory is an emptyDir, filled by an
  ``init`` container and emptied to the bucket by a ``wait`` container, both argosy's image
  running ``argosy.artifact_agent``: any cluster. Otherwise it is the engine's node directory
  by hostPath (inputs fetched there by the engine, outputs read from it), which needs it on
  the pod's node at the same path (the API double, a single-node cluster on the engine's
  machine, a directory every node shares).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import json
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from argosy import kube
from argosy.plugin import ArgosyError, Outcome, ProcessRequest, hookimpl
from argosy.plugins.container import result_of

log = logging.getLogger(__name__)

EXECUTOR_ANNOTATION = "argosy.io/executor"
TOKEN_ANNOTATION = kube.TOKEN_ANNOTATION
WATCH_SECONDS = 60
GRACE_SECONDS = 5  # how long stop and terminate give a pod's processes after SIGTERM
SCRIPT_DIR = "/var/run/argo"  # an emptyDir, as Argo's var-run-argo volume
SCRIPT_VOLUME = "var-run-argo"
# The node's directory, bound by hostPath when the node has artifacts: input artifacts are
# mounted from it at their paths, and the wrapper copies output artifacts into its outputs/.
ARTIFACT_VOLUME = "argosy-node"
NODE_MOUNT = "/var/run/argosy/node"
OUTPUTS = "outputs"
# With a repository pods reach (S3), the node's directory is an emptyDir instead, shared by
# Argo's two extra containers, both argosy's own image running argosy.artifact_agent: "init"
# places the input artifacts in it, "wait" uploads what the wrapper copied to its outputs/.
IMAGE_ENV = "ARGOSY_EXECUTOR_IMAGE"
DEFAULT_IMAGE = "argosy:latest"  # deploy/controller.yaml's image
AGENT = ["python3", "-m", "argosy.artifact_agent"]
INIT, WAIT = "init", "wait"
# A FIFO the wrapper holds open while it lives: the wait container reads end-of-file from it
# once the wrapper is gone, so a main container killed before its done-marker strands nothing.
ALIVE = f"{NODE_MOUNT}/main.alive"
TERMINATION_LOG = "/dev/termination-log"
MAIN = "main"  # the container whose log, exit code and files are the node's outputs
_RETRY_SECONDS = 60.0  # how long an unreachable or overloaded API server is retried

# Template fields this executor honours that the local one rejects ("Definition.field", as in
# argosy.spec.lint.UNSUPPORTED). A lint for this executor accepts them.
HONOURED = frozenset({
    "WorkflowSpec.volumes", "WorkflowSpec.volumeClaimTemplates", "WorkflowSpec.hostAliases",
    "Template.sidecars", "Template.initContainers", "Template.volumes", "Template.hostAliases",
    "EnvVar.valueFrom",
    *(f"VolumeMount.{key}" for key in ("mountPropagation", "readOnly", "recursiveReadOnly",
                                       "subPath", "subPathExpr")),
    *(f"{kind}.{key}" for kind in ("Container", "ScriptTemplate")
      for key in ("envFrom", "lifecycle", "livenessProbe", "volumeDevices", "volumeMounts")),
    # Every volume source: the cluster mounts them (the local executor only some).
    *(f"Volume.{key}" for key in (
        "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi",
        "downwardAPI", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk",
        "gitRepo", "glusterfs", "image", "iscsi", "nfs", "photonPersistentDisk",
        "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret", "storageos",
        "vsphereVolume")),
    "EmptyDirVolumeSource.medium", "EmptyDirVolumeSource.sizeLimit",
    "PersistentVolumeClaimVolumeSource.readOnly",
})

# Fields Argo knows that this executor cannot honour yet, with why ("FIELD is not supported …").
REJECTED = {
    "PodGC.labelSelector": "by the kubernetes executor yet: it collects every pod of the "
                           "workflow as the strategy says",
    "PodGC.deleteDelayDuration": "by the kubernetes executor yet: it deletes pods at once",
}

# The in-pod wrapper: only sh builtins are needed, tee, wc and tail are used when the image has
# them. Given $ARGOSY_ALIVE (a FIFO), it holds that open while it lives (not its command).
# With artifacts ($ARGOSY_ARTIFACTS, "N path" a line) it first checks that the node's
# directory is the engine's (its pod token there: "!node-dir" otherwise). In a container set,
# each container first waits for its dependencies' done-markers in the shared emptyDir (a
# failed one means it never runs: "!DEP CODE" in its termination message), and leaves its own
# exit code there. Then it runs the command; when the step's outputs.result may be wanted,
# stdout and stderr are tee'd apart, so the log shows both while stdout is known alone. It
# copies each output artifact's path to outputs/N of the node's directory with cp (a marker
# N.failed if cp fails), readable by all when a wait container (another user, maybe) is to
# upload it: when it leaves a done-marker, which outside a container set means that (the
# main container leaves one for the wait container). Afterwards it encodes what the
# executor needs: each declared output file ("@path", each line as "|line", ".rest" for a
# last line without newline, or "#SIZE" when larger than Argo's 256 KiB cap), stdout when
# stderr was written too ("&" and its lines), then "=". That goes to the termination message
# when it fits its 4 KiB, else to the log's end between two ARGOSY_MARK lines, where the
# executor reads (and cuts) it. No "$(": the kubelet would read it as a variable reference.
WRAPPER = r"""
d=/var/run/argo
if [ -p "$ARGOSY_ALIVE" ] && [ -r "$ARGOSY_ALIVE" ] && [ -w "$ARGOSY_ALIVE" ]; then
  exec 9<>"$ARGOSY_ALIVE"
  : > "$d/${ARGOSY_DONE:-main}.started"
fi
if [ -n "${ARGOSY_ARTIFACTS+x}" ]; then
  a_token=
  read -r a_token < /var/run/argosy/node/pod-token 2>/dev/null
  if [ "$a_token" != "$ARGOSY_POD_TOKEN" ]; then
    printf '!node-dir\n' > "$ARGOSY_MESSAGE"
    exit 1
  fi
fi
if [ -n "${ARGOSY_SCRIPT+x}" ]; then
  printf '%s' "$ARGOSY_SCRIPT" > $d/script || exit 1
  chmod 755 $d/script 2>/dev/null
  set -- "$@" $d/script
fi
a_outputs=$ARGOSY_OUTPUTS a_message=$ARGOSY_MESSAGE a_after=$ARGOSY_AFTER
a_name=${ARGOSY_DONE:-main} a_set=$ARGOSY_DONE a_result=$ARGOSY_RESULT a_mark=$ARGOSY_MARK
a_artifacts=$ARGOSY_ARTIFACTS
unset ARGOSY_SCRIPT ARGOSY_OUTPUTS ARGOSY_MESSAGE ARGOSY_AFTER ARGOSY_DONE ARGOSY_RESULT
unset ARGOSY_MARK ARGOSY_ARTIFACTS ARGOSY_POD_TOKEN ARGOSY_ALIVE
for a_dep in $a_after; do
  a_code=
  while [ -z "$a_code" ]; do
    if [ -f "$d/$a_dep.done" ]; then read -r a_code < "$d/$a_dep.done"; fi
    [ -n "$a_code" ] || sleep 0.05 2>/dev/null || sleep 1
  done
  if [ "$a_code" != 0 ]; then
    printf '!%s %s\n' "$a_dep" "$a_code" > "$a_message"
    printf 'skipped\n' > "$d/$a_name.done"
    exit 1
  fi
done
if [ -n "$a_result" ] && command -v tee > /dev/null 2>&1; then
  { { "$@" 9>&-; printf '%s\n' "$?" > "$d/$a_name.rc"; } 2>&1 1>&3 | tee "$d/$a_name.err" >&2
  } 3>&1 | tee "$d/$a_name.out"
  a_rc=1
  read -r a_rc < "$d/$a_name.rc"
else
  "$@" 9>&-
  a_rc=$?
  a_result=
fi
if [ -n "$a_artifacts" ]; then
  printf '%s\n' "$a_artifacts" | while IFS=' ' read -r a_n a_path; do
    [ -e "$a_path" ] || [ -L "$a_path" ] || continue
    a_out=/var/run/argosy/node/outputs/$a_n
    cp -pRL "$a_path" "$a_out" || : > "$a_out.failed"
    [ -z "$a_set" ] || chmod -R a+rX "$a_out" 2>/dev/null
  done
fi
[ -z "$a_set" ] || printf '%s\n' "$a_rc" > "$d/$a_name.done"
a_encode() {
  a_line=
  while IFS= read -r a_line; do printf '|%s\n' "$a_line"; done
  if [ -n "$a_line" ]; then printf '.%s\n' "$a_line"; fi
}
a_size() {
  a_bytes=`wc -c < "$1" 2>/dev/null` || a_bytes=-1
  for a_bytes in ${a_bytes:--1}; do :; done
}
if [ -n "$a_outputs" ] || { [ -n "$a_result" ] && [ -s "$d/$a_name.err" ]; }; then
  {
    if [ -n "$a_outputs" ]; then
      printf '%s\n' "$a_outputs" | while IFS= read -r a_path; do
        [ -f "$a_path" ] || continue
        printf '@%s\n' "$a_path"
        a_size "$a_path"
        if [ "$a_bytes" -gt 262144 ]; then printf '#%s\n' "$a_bytes"; continue; fi
        a_encode < "$a_path"
      done
    fi
    if [ -n "$a_result" ] && [ -s "$d/$a_name.err" ]; then
      printf '&\n'
      if command -v tail > /dev/null 2>&1; then
        tail -c 262145 "$d/$a_name.out" | a_encode
      else
        a_encode < "$d/$a_name.out"
      fi
    fi
    printf '=\n'
  } > "$d/$a_name.msg"
  a_size "$d/$a_name.msg"
  if [ "$a_bytes" -ge 0 ] && [ "$a_bytes" -le 4000 ] || [ "$a_bytes" -lt 0 ]; then
    while IFS= read -r a_line; do printf '%s\n' "$a_line"; done < "$d/$a_name.msg" \
      > "$a_message"
  else
    printf '\n%s\n' "$a_mark"
    while IFS= read -r a_line; do printf '%s\n' "$a_line"; done < "$d/$a_name.msg"
    printf '%s\n' "$a_mark"
    printf '%s\n' "$a_mark" > "$a_message"
  fi
fi
exit $a_rc
"""
PARAMETER_BYTES = 256 << 10  # Argo's cap on an output parameter's value
# How much of a log's end may hold the wrapper's trailer: every file within the cap, encoded.
TRAILER_BYTES = 8 << 20

_TERMINAL = ("Succeeded", "Failed")


# ---- the pod ---------------------------------------------------------------------------------


def _pick(template: dict[str, Any], spec: dict[str, Any], key: str,
          workflow_key: str | None = None) -> Any:
    """A pod field: the template's, else the workflow's (as Argo's controller chooses)."""
    value = template.get(key)
    return value if value not in (None, "", [], {}) else spec.get(workflow_key or key)


def merge_patch(base: Any, patch: Any) -> Any:
    """A strategic merge of ``patch`` into ``base`` for pod specs: maps merge, lists of named
    items (containers, volumes, env) merge by name, other values are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = value if value is None else merge_patch(base.get(key), value)
        return {k: v for k, v in merged.items() if v is not None}
    named = (isinstance(base, list) and isinstance(patch, list)
             and all(isinstance(i, dict) and "name" in i for i in [*base, *patch]))
    if named:
        merged_list = list(base)
        for item in patch:
            at = next((i for i, old in enumerate(merged_list) if old["name"] == item["name"]),
                      None)
            if at is None:
                merged_list.append(item)
            else:
                merged_list[at] = merge_patch(merged_list[at], item)
        return merged_list
    return patch


def _output_paths(template: dict[str, Any]) -> list[str]:
    params = (template.get("outputs") or {}).get("parameters") or []
    return [p["valueFrom"]["path"] for p in params if (p.get("valueFrom") or {}).get("path")]


def artifact_paths(template: dict[str, Any]) -> list[str]:
    """The paths of the template's output artifacts, each once: the wrapper's outputs/N."""
    arts = (template.get("outputs") or {}).get("artifacts") or []
    return list(dict.fromkeys(str(a["path"]) for a in arts if a.get("path")))


def _has_artifacts(request: ProcessRequest) -> bool:
    return bool(request.input_artifacts or request.artifact_plan
                or artifact_paths(request.template))


def _planned_inputs(request: ProcessRequest) -> ProcessRequest:
    """With an artifact plan, the inputs where the init container places them."""
    plan = request.artifact_plan
    if plan is None:
        return request
    return dataclasses.replace(request, input_artifacts=tuple(
        (str(Path(request.node_dir, "artifacts", str(n))), str(art["path"]), False)
        for n, art in enumerate(plan["inputs"])))


def _uploads(request: ProcessRequest) -> bool:
    """Whether the pod has output artifacts for a wait container to upload."""
    return bool(request.artifact_plan and request.artifact_plan["outputs"])


def _agents(request: ProcessRequest, token: str,
            image: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The init and wait containers of a pod whose artifacts move through the plan: the
    plan with each repository Secret as an env var the kubelet fills from it."""
    assert request.artifact_plan is not None
    secrets: dict[tuple[str, str], str] = {}

    def conceal(body: Any, where: str) -> Any:
        """``body`` with each SecretKeySelector (a ``...Secret`` field, at any depth: a
        repository's, an http or git source's credentials) as ``{"env": VAR}``."""
        if isinstance(body, list):
            return [conceal(item, where) for item in body]
        if not isinstance(body, dict):
            return body
        hidden = {}
        for key, value in body.items():
            if key.endswith("Secret") and isinstance(value, str):
                raise ArgosyError(f"{where}.{key} is given as a value: a pod gets credentials "
                                  "only from a Secret, so give a SecretKeySelector {name, key} "
                                  "of a Secret in the workflow's namespace")
            if key.endswith("Secret") and isinstance(value, dict):
                ref = (str(value.get("name")), str(value.get("key")),
                       value.get("optional") is True)
                value = {"env": secrets.setdefault(ref, f"ARGOSY_SECRET_{len(secrets)}")}
            else:
                value = conceal(value, f"{where}.{key}")
            hidden[key] = value
        return hidden

    index = {path: n for n, path in enumerate(artifact_paths(request.template))}
    plan = request.artifact_plan
    inputs = [conceal(a, f'artifact "{a.get("name")}"') for a in plan["inputs"]]
    outputs = [{**{k: o[k] for k in ("name", "path", "archive") if k in o},
                "n": index[o["path"]], "repository": conceal(o["repository"], "repository")}
               for o in plan["outputs"]]
    # $ doubled: the kubelet would expand $(VAR) in an env value.
    text = json.dumps({"inputs": inputs, "outputs": outputs}).replace("$", "$$")
    env = [{"name": "ARGOSY_ARTIFACT_PLAN", "value": text},
           *([{"name": "ARGOSY_ALIVE", "value": ALIVE}] if outputs else []),
           *({"name": var, "valueFrom": {"secretKeyRef": {
               "name": name, "key": key, **({"optional": True} if optional else {})}}}
             for (name, key, optional), var in secrets.items())]
    node = {"name": ARTIFACT_VOLUME, "mountPath": NODE_MOUNT}
    # An agent that fails unforeseen (a traceback) still tells the node why: its log's end.
    said = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    init = {"name": INIT, "image": image, "command": [*AGENT, INIT, NODE_MOUNT],
            "env": [*env, {"name": "ARGOSY_POD_TOKEN", "value": token}], "volumeMounts": [node],
            **said}
    wait = {"name": WAIT, "image": image, "command": [*AGENT, WAIT, NODE_MOUNT],
            "env": [*env, {"name": "ARGOSY_DONE_FILE", "value": f"{SCRIPT_DIR}/{MAIN}.done"}],
            "volumeMounts": [node, {"name": SCRIPT_VOLUME, "mountPath": SCRIPT_DIR}], **said}
    return init, wait


def _artifact_mounts(request: ProcessRequest) -> list[dict[str, Any]]:
    """The node's directory at NODE_MOUNT, and each input artifact at its path from it."""
    mounts = [{"name": ARTIFACT_VOLUME, "mountPath": NODE_MOUNT}]
    for host, path, read_only in request.input_artifacts:
        sub = os.path.relpath(host, request.node_dir)
        if sub.startswith(".."):
            raise ArgosyError(f"input artifact at {path}: fetched outside the node's directory")
        mounts.append({"name": ARTIFACT_VOLUME, "mountPath": path, "subPath": sub,
                       **({"readOnly": True} if read_only else {})})
    return mounts


def wants_result(workflow: dict[str, Any]) -> bool:
    """Whether a step's ``outputs.result`` may be read: then a container that would otherwise
    run as written gets the wrapper (and needs sh), which keeps its stdout apart from stderr."""
    return "outputs.result" in json.dumps(workflow.get("spec") or {})


def _set_containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    """A containerSet's containers as a pod's, each with the set's volumeMounts (as Argo)."""
    body = template.get("containerSet") or {}
    shared = body.get("volumeMounts") or []
    return [{**{k: v for k, v in c.items() if k != "dependencies"},
             **({"volumeMounts": [*shared, *(c.get("volumeMounts") or [])]}
                if shared or c.get("volumeMounts") else {})}
            for c in body.get("containers") or []]


def _containers(request: ProcessRequest, token: str) -> list[dict[str, Any]]:
    """The pod's containers: the template's main one, or a container set's, wrapped as needed."""
    template = request.template
    if "containerSet" in template:
        deps = {c.get("name"): c.get("dependencies") or []
                for c in template["containerSet"].get("containers") or []}
        return [_wrap(c, request, token, result=c["name"] == MAIN,
                      paths=_output_paths(template) if c["name"] == MAIN else [],
                      after=deps.get(c["name"]) or [], marks_done=True)
                for c in _set_containers(template)]
    kind = "script" if "script" in template else "container"
    main = {k: v for k, v in (template.get(kind) or {}).items() if k != "source"}
    main["name"] = MAIN
    paths = _output_paths(template)
    artifacts = _has_artifacts(request)
    if artifacts:
        main["volumeMounts"] = [*(main.get("volumeMounts") or []), *_artifact_mounts(request)]
    if request.script is None and not paths and not artifacts \
            and not wants_result(request.workflow):
        return [main]  # no wrapper: the command runs as written, its log is its result
    wrapped = _wrap(main, request, token, result=True, paths=paths, script=request.script,
                    artifacts=artifact_paths(template) if artifacts else None,
                    marks_done=_uploads(request))  # for the wait container
    if _uploads(request):
        wrapped["env"].append({"name": "ARGOSY_ALIVE", "value": ALIVE})
    return [wrapped]


def _wrap(container: dict[str, Any], request: ProcessRequest, token: str, *, result: bool,
          paths: list[str], after: list[str] | None = None, marks_done: bool = False,
          script: str | None = None, artifacts: list[str] | None = None) -> dict[str, Any]:
    """``container`` running its command under the wrapper (see WRAPPER)."""
    container = dict(container)
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    if not container.get("command"):
        argv = _with_entrypoint(container.get("image"), container.get("args"))
    message = container.get("terminationMessagePath") or TERMINATION_LOG
    env = [e for e in container.get("env") or [] if not e.get("name", "").startswith("ARGOSY_")]
    env += [{"name": "ARGOSY_MESSAGE", "value": message},
            {"name": "ARGOSY_MARK", "value": _mark(token)}]
    extra = {"ARGOSY_OUTPUTS": "\n".join(paths), "ARGOSY_RESULT": "1" if result else "",
             "ARGOSY_AFTER": " ".join(after or []),
             "ARGOSY_DONE": container["name"] if marks_done else ""}
    env += [{"name": k, "value": v} for k, v in extra.items() if v]
    if artifacts is not None:
        env.append({"name": "ARGOSY_ARTIFACTS",
                    "value": "\n".join(f"{n} {path}" for n, path in enumerate(artifacts))})
        env.append({"name": "ARGOSY_POD_TOKEN", "value": token})
    if script is not None:
        env.append({"name": "ARGOSY_SCRIPT", "value": script})
    mounts = container.get("volumeMounts") or []
    container["volumeMounts"] = [*mounts, {"name": SCRIPT_VOLUME, "mountPath": SCRIPT_DIR}]
    container.update(command=["sh", "-c", WRAPPER, "argosy"], args=argv, env=env)
    return container


def _mark(token: str) -> str:
    return f"argosy-outputs-{token}"


def _wrapped(pod: dict[str, Any]) -> bool:
    return any(c.get("command", [])[:3] == ["sh", "-c", WRAPPER]
               for c in pod["spec"].get("containers") or [])


def _with_entrypoint(image: str | None, args: list[str] | None) -> list[str]:
    """The full argv of a container that gives only args: the wrapper must name the program."""
    from argosy.plugins.container import image_config, images_files

    config = image_config(image)
    if config is None or not (config.entrypoint or config.cmd):
        raise ArgosyError(
            f'container of image "{image}" gives no command, and output parameters from files '
            "(or a script) need one: the kubernetes executor runs the command under sh to "
            "collect them, and cannot read the image's entrypoint. Give the container a "
            f"command, or name the image's entrypoint in {images_files()[0]}")
    return [*config.entrypoint, *(args if args else config.cmd)]


def build_pod(request: ProcessRequest, token: str,
              agent_image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    """The Pod for a node, as Argo's controller shapes it from the template and workflow;
    ``agent_image`` runs the init and wait containers of an artifact plan."""
    request = _planned_inputs(request)
    template, workflow = request.template, request.workflow
    spec = workflow.get("spec") or {}
    meta = workflow.get("metadata") or {}
    wf_name = meta["name"]
    pod_meta = spec.get("podMetadata") or {}
    tmpl_meta = template.get("metadata") or {}
    labels = {**(pod_meta.get("labels") or {}), **(tmpl_meta.get("labels") or {}),
              kube.WORKFLOW_LABEL: wf_name, kube.COMPLETED_LABEL: "false"}
    annotations = {**(pod_meta.get("annotations") or {}), **(tmpl_meta.get("annotations") or {}),
                   kube.NODE_NAME_ANNOTATION: request.node.get("name", wf_name),
                   TOKEN_ANNOTATION: token}
    containers = _containers(request, token)
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": containers}
    for key, workflow_key in (("nodeSelector", None), ("affinity", None), ("tolerations", None),
                              ("securityContext", None), ("serviceAccountName", None),
                              ("automountServiceAccountToken", None), ("schedulerName", None),
                              ("priorityClassName", "podPriorityClassName"),
                              ("hostAliases", None), ("dnsPolicy", None), ("dnsConfig", None),
                              ("hostNetwork", None)):
        value = _pick(template, spec, key, workflow_key)
        if value not in (None, "", [], {}):
            pod_spec[key] = value
    for key in ("imagePullSecrets",):
        if spec.get(key):
            pod_spec[key] = spec[key]
    sidecars = [{**s, "restartPolicy": "Always"} for s in template.get("sidecars") or []]
    inits = [*(template.get("initContainers") or []), *sidecars]
    if request.artifact_plan is not None:
        init, wait = _agents(request, token, agent_image)
        inits.insert(0, init)
        if _uploads(request):
            containers.append(wait)
    if inits:
        pod_spec["initContainers"] = inits
    volumes = [*(spec.get("volumes") or []), *(template.get("volumes") or [])]
    volumes += [{"name": c["metadata"]["name"], "persistentVolumeClaim": {
        "claimName": claim_name(wf_name, c)}} for c in spec.get("volumeClaimTemplates") or []]
    if any(m.get("name") == SCRIPT_VOLUME for c in containers for m in c.get("volumeMounts") or []):
        volumes.append({"name": SCRIPT_VOLUME, "emptyDir": {}})
    if request.artifact_plan is not None:
        volumes.append({"name": ARTIFACT_VOLUME, "emptyDir": {}})
    elif _has_artifacts(request):
        volumes.append({"name": ARTIFACT_VOLUME, "hostPath": {"path": str(request.node_dir),
                                                              "type": "Directory"}})
    if volumes:
        pod_spec["volumes"] = volumes
    deadline = template.get("activeDeadlineSeconds")
    if deadline not in (None, ""):
        pod_spec["activeDeadlineSeconds"] = int(float(deadline))
    patch = template.get("podSpecPatch") or spec.get("podSpecPatch")
    if patch:
        try:
            pod_spec = merge_patch(pod_spec, yaml.safe_load(patch))
        except yaml.YAMLError as exc:
            raise ArgosyError(f"podSpecPatch is not valid JSON or YAML: {exc}") from None
    name = kube.pod_name(wf_name, request.node) if request.node else wf_name
    metadata = {"name": name, "labels": labels, "annotations": annotations}
    if owners := kube.owner_references(workflow):
        metadata["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def claim_name(workflow: str, claim: dict[str, Any]) -> str:
    """Argo's name of a volumeClaimTemplate's PVC: ``<workflow>-<claim>``."""
    return f"{workflow}-{claim['metadata']['name']}"


# ---- talking to the API server ------------------------------------------------------------


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


def _retryable(exc: BaseException) -> bool:
    """429, 5xx and a connection that failed are worth another try; other answers are not."""
    status = _status(exc)
    if status is None:
        return isinstance(exc, OSError) or type(exc).__module__.startswith("urllib3")
    return status == 429 or status >= 500


def _pause(exc: BaseException, attempt: int) -> float:
    """Back-off before the next try: the server's Retry-After, else exponential with jitter."""
    headers = getattr(exc, "headers", None) or {}
    with contextlib.suppress(TypeError, ValueError):
        return float(headers.get("Retry-After"))
    return min(0.1 * 2 ** attempt, 10.0) * (0.5 + random.random())


def _json(response: Any) -> dict[str, Any]:
    return json.loads(response.data)


def _api_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    with contextlib.suppress(TypeError, ValueError):
        return json.loads(body).get("message") or str(exc)
    return str(exc).strip()


class PodWatch:
    """Every argosy pod of one namespace as its watch last reported it, and who waits on which.

    A thread lists once, then watches from the list's resourceVersion, resuming from the last
    one it saw (bookmarks included) when a watch ends; a 410 Gone re-lists, an error backs off.
    """

    def __init__(self, core: Any, namespace: str) -> None:
        self.core, self.namespace = core, namespace
        self.pods: dict[str, dict[str, Any]] = {}
        self.waiters: dict[str, list[tuple[asyncio.Future[Any], str, Callable[..., bool],
                                           int]]] = {}
        # Lists begun so far: a pod missing from a list begun after its waiter came is gone;
        # from one begun before, it may just be newer than the list.
        self.lists = 0
        self.lock = threading.Lock()
        self.listed = threading.Event()
        self.closed = False  # its client was replaced: the thread ends after its current watch
        self.thread = threading.Thread(target=self._run, name=f"argosy-pods-{namespace}",
                                       daemon=True)
        self.thread.start()

    async def wait(self, name: str, uid: str, done: Callable[[dict[str, Any]], bool]
                   ) -> dict[str, Any] | None:
        """The pod once ``done(pod)``; None when it is deleted (or replaced) first."""
        future = asyncio.get_running_loop().create_future()
        entry = (future, uid, done, self.lists)
        with self.lock:
            pod = self.pods.get(name)
            if pod is not None and pod["metadata"]["uid"] == uid and done(pod):
                return pod
            self.waiters.setdefault(name, []).append(entry)
        try:
            return await future
        finally:
            with self.lock:
                waiting = self.waiters.get(name, [])
                if entry in waiting:
                    waiting.remove(entry)
                if not waiting:
                    self.waiters.pop(name, None)

    def _changed(self, name: str, pod: dict[str, Any] | None, listed: int | None = None) -> None:
        """Record the pod's new state (None: gone) and wake whom it concerns (under the lock);
        ``listed``: the number of the list that found it missing."""
        if pod is None:
            self.pods.pop(name, None)
        else:
            self.pods[name] = pod
        for future, uid, done, since in self.waiters.get(name, []):
            if pod is None and listed is not None and since >= listed:
                continue  # created after that list began: the watch will show it
            if pod is None or pod["metadata"]["uid"] != uid:
                _resolve(future, None)
            elif done(pod):
                _resolve(future, pod)

    def _run(self) -> None:
        version, attempt = None, 0
        while not self.closed:
            try:
                version = self._list() if version is None else self._watch(version)
                attempt = 0
            except Gone:
                version = None
            except Exception as exc:  # the watch goes on whatever happens: pods wait on it
                if self.closed:
                    return
                attempt += 1
                log.warning("watching pods in %s: %s; retrying", self.namespace,
                            _api_message(exc))
                time.sleep(_pause(exc, attempt))

    def _list(self) -> str:
        with self.lock:
            self.lists += 1
            number = self.lists
        listed = _json(self.core.list_namespaced_pod(
            self.namespace, label_selector=kube.WORKFLOW_LABEL, _preload_content=False))
        current = {p["metadata"]["name"]: p for p in listed.get("items") or []}
        with self.lock:
            for name in set(self.pods) | set(self.waiters):
                if name not in current:
                    self._changed(name, None, number)
            for name, pod in current.items():
                self._changed(name, pod)
        self.listed.set()
        return listed["metadata"]["resourceVersion"]

    def _watch(self, version: str) -> str:
        response = self.core.list_namespaced_pod(
            self.namespace, label_selector=kube.WORKFLOW_LABEL, watch=True,
            resource_version=version, allow_watch_bookmarks=True, timeout_seconds=WATCH_SECONDS,
            _preload_content=False, _request_timeout=(10, WATCH_SECONDS + 30))
        try:
            pending = b""
            for chunk in response.stream(65536, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        version = self._event(json.loads(line), version)
        finally:
            response.release_conn()
        return version

    def _event(self, event: dict[str, Any], version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise _WatchError(obj.get("code"), obj.get("message", ""))
        version = obj.get("metadata", {}).get("resourceVersion") or version
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            with self.lock:
                self._changed(obj["metadata"]["name"], None if kind == "DELETED" else obj)
        return version


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class _WatchError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    def set_result() -> None:
        if not future.done():
            future.set_result(value)
    with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
        future.get_loop().call_soon_threadsafe(set_result)


def _container_status(pod: dict[str, Any], name: str = MAIN) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == name), {})


def _terminated(pod: dict[str, Any], name: str = MAIN) -> dict[str, Any] | None:
    return (_container_status(pod, name).get("state") or {}).get("terminated")


def _ready(pod: dict[str, Any]) -> bool:
    """Running, and the kubelet says it is ready (its readinessProbes passed): a daemon serves."""
    status = pod.get("status") or {}
    return status.get("phase") in _TERMINAL or (status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []))


def _init_failure(pod: dict[str, Any]) -> str | None:
    """Why an init container stopped the pod, as Argo words a container's end."""
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        ended = (status.get("state") or {}).get("terminated") or {}
        if ended.get("exitCode"):
            why = ended.get("message") or ended.get("reason") or "Error"
            return f'init container "{status["name"]}" failed: {why.strip()} ' \
                   f'(exit code {ended["exitCode"]})'
    return None


def _finished(pod: dict[str, Any]) -> bool:
    """Done when the pod is, or its containers ended (sidecars are stopped after them), or its
    main container could not start while a wait container waits for it (it would forever)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in _TERMINAL or all(_terminated(pod, c["name"]) is not None
                                     for c in pod["spec"]["containers"]) or _wait_stranded(pod)


def _wait_stranded(pod: dict[str, Any]) -> bool:
    """A wait container left waiting for a main container that never ran."""
    return (any(c["name"] == WAIT and c.get("command", [])[:3] == AGENT
                for c in pod["spec"]["containers"])
            and (_terminated(pod, MAIN) or {}).get("reason") in ("StartError",
                                                                 "ContainerCannotRun")
            and _terminated(pod, WAIT) is None)


# ---- the executor ----------------------------------------------------------------------------


class KubernetesExecutor:
    """Runs each container and script node as a Pod, and reports how its main container ended."""

    name = "kubernetes"
    pulls_images = True  # the container's command and args go to the pod as written
    places_artifacts = True  # ProcessRequest.input_artifacts: mounted from the node's directory
    moves_artifacts = True  # ProcessRequest.artifact_plan: by the pod's init and wait containers
    honours = HONOURED
    rejects = REJECTED

    def __init__(self) -> None:
        self.detached = False
        self._core: Any = None
        self._key: tuple[str, int] | None = None
        self._watches: dict[str, PodWatch] = {}
        self._lock = threading.RLock()
        self._namespace: str | None = None
        # Workflows whose pods are collected when they finish, by uid: (namespace, strategy).
        self.collect: dict[str, tuple[str, str, str]] = {}
        self._image: str | None = None

    # -- connection

    def core(self) -> Any:
        """The client of the configured cluster; a kubeconfig changed since means a new one."""
        with self._lock:
            key = _config_key()
            if self._core is None or key != self._key:
                from kubernetes import client

                for watch in self._watches.values():
                    watch.closed = True
                self._watches, self._namespace = {}, None
                self._core, self._key = client.CoreV1Api(kube.api_client()), key
            return self._core

    def namespace_of(self, request: ProcessRequest) -> str:
        """The workflow's namespace; ``default`` stands for the kubeconfig context's."""
        namespace = (request.workflow.get("metadata") or {}).get("namespace") or "default"
        if namespace != "default":
            return namespace
        if self._namespace is None:
            self._namespace = kube.current_namespace()
        return self._namespace

    def watch(self, namespace: str) -> PodWatch:
        with self._lock:
            core = self.core()
            if namespace not in self._watches:
                self._watches[namespace] = PodWatch(core, namespace)
            return self._watches[namespace]

    async def agent_image(self, core: Any) -> str:
        """The image of the init and wait containers: ``$ARGOSY_EXECUTOR_IMAGE``, else, in a
        Pod (as ``argosy controller`` runs), that Pod's own image, else DEFAULT_IMAGE."""
        if os.environ.get(IMAGE_ENV):
            return os.environ[IMAGE_ENV]
        if self._image is None:
            self._image = DEFAULT_IMAGE
            namespace = kube.SERVICE_ACCOUNT_DIR / "namespace"
            name = os.environ.get("HOSTNAME")  # a Pod's own name, unless it sets hostname
            if name and namespace.exists():
                try:
                    pod = _json(await self.call("reading this pod", core.read_namespaced_pod,
                                                name, namespace.read_text().strip(),
                                                _preload_content=False))
                    self._image = pod["spec"]["containers"][0]["image"]
                except Exception as exc:  # not readable: the default, said once
                    log.warning("the image of pod %s: %s; artifacts use image %s", name,
                                _api_message(exc), DEFAULT_IMAGE)
        return self._image

    async def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn`` in a thread; 429, 5xx and connection failures are retried for a while."""
        started, attempt = time.monotonic(), 0
        while True:
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except Exception as exc:
                if not _retryable(exc) or time.monotonic() - started > _RETRY_SECONDS:
                    raise
                attempt += 1
                log.warning("%s: %s; retrying", what, _api_message(exc))
                await asyncio.sleep(_pause(exc, attempt))

    # -- the Executor contract

    async def run_process(self, request: ProcessRequest) -> Outcome:
        ran = await self._run_pod(request)
        if isinstance(ran, Outcome):
            return ran
        core, namespace, final = ran
        outcome = await self._outcome(core, namespace, final, request)
        if _wait_stranded(final):  # the pod would run on: its wait container waits
            with contextlib.suppress(Exception):
                await self.call("deleting pod", core.delete_namespaced_pod,
                                final["metadata"]["name"], namespace, grace_period_seconds=0,
                                _preload_content=False)
        await self._collect(core, namespace, final, request, outcome.phase == "Succeeded")
        return outcome

    async def run_container_set(self, request: ProcessRequest) -> dict[str, Outcome]:
        """A containerSet's containers as one pod (each ordered by its dependencies through the
        wrapper): how each ended, by name; one whose command never ran has no exit code."""
        names = [c["name"] for c in _set_containers(request.template)]
        ran = await self._run_pod(request)
        if isinstance(ran, Outcome):
            return {name: ran for name in names}
        core, namespace, final = ran
        outcomes = {name: await self._outcome(core, namespace, final, request, name)
                    for name in names}
        ok = all(o.phase == "Succeeded" for o in outcomes.values())
        await self._collect(core, namespace, final, request, ok)
        return outcomes

    async def _run_pod(self, request: ProcessRequest
                       ) -> tuple[Any, str, dict[str, Any]] | Outcome:
        """Create (or adopt) the node's pod and wait for its end: (client, namespace, pod)."""
        logs = self.log_files(request.node_dir)
        try:
            core = self.core()
            namespace = self.namespace_of(request)
            image = await self.agent_image(core) if request.artifact_plan else DEFAULT_IMAGE
            pod = build_pod(request, _token(request.node_dir), image)
            if _has_artifacts(request):
                _outputs_dir(request.node_dir)
            self._note_collection(request, namespace)
            watch = self.watch(namespace)
            await self._ensure_claims(core, namespace, request)
            created = await self._create(core, namespace, pod)
        except ArgosyError as exc:
            return Outcome("Error", str(exc), log_files=logs)
        except Exception as exc:
            if _status(exc) is None:
                raise
            return Outcome("Error", f"creating pod {pod['metadata']['name']}: "
                           f"{_api_message(exc)}", log_files=logs)
        name, uid = created["metadata"]["name"], created["metadata"]["uid"]
        try:
            if request.started is not None:  # a daemon: daemoned once its pod is ready
                ready = await watch.wait(name, uid, _ready)
                if ready is not None and not _finished(ready):
                    request.started(**_address(ready))
            final = await watch.wait(name, uid, _finished)
        except asyncio.CancelledError:
            if not self.detached:  # stop, terminate, deadline: the pod goes, its log stays
                await asyncio.shield(self._delete(core, namespace, name, uid, request.node_dir,
                                                  created, watch))
            raise
        if final is None:
            return Outcome("Error", f"pod {name} was deleted before it finished",
                           log_files=logs)
        return core, namespace, final

    async def _collect(self, core: Any, namespace: str, pod: dict[str, Any],
                       request: ProcessRequest, succeeded: bool) -> None:
        """``podGC`` of one pod as it ends."""
        strategy = _gc_strategy(request)
        if strategy == "OnPodCompletion" or (strategy == "OnPodSuccess" and succeeded):
            with contextlib.suppress(Exception):
                await self.call("deleting pod", core.delete_namespaced_pod,
                                pod["metadata"]["name"], namespace, _preload_content=False)

    def log_files(self, node_dir: Path) -> list[Path]:
        """The main container's log, as saved when its pod ended (or was stopped)."""
        return [Path(node_dir, "log")]

    # -- internals

    async def _create(self, core: Any, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
        """Create the pod; one that exists is adopted if it is this node's, else replaced."""
        name = pod["metadata"]["name"]
        token = pod["metadata"]["annotations"][TOKEN_ANNOTATION]
        while True:
            try:
                return _json(await self.call(f"creating pod {name}", core.create_namespaced_pod,
                                             namespace, pod, _preload_content=False))
            except Exception as exc:
                if _status(exc) != 409:
                    raise
            try:
                existing = _json(await self.call(f"reading pod {name}",
                                                 core.read_namespaced_pod, name, namespace,
                                                 _preload_content=False))
            except Exception as exc:
                if _status(exc) == 404:
                    continue  # deleted meanwhile
                raise
            annotations = existing["metadata"].get("annotations") or {}
            if annotations.get(TOKEN_ANNOTATION) == token:
                return existing
            if kube.WORKFLOW_LABEL not in (existing["metadata"].get("labels") or {}):
                raise ArgosyError(f"pod {name} exists in namespace {namespace} and is not "
                                  "argosy's: delete or rename it")
            log.info("replacing pod %s: it belongs to an earlier run of this node", name)
            try:
                await self.call(f"deleting pod {name}", core.delete_namespaced_pod, name,
                                namespace, grace_period_seconds=0, _preload_content=False)
            except Exception as exc:
                if _status(exc) != 404:
                    raise
            # Not the watch: it may have shown the deletion before anyone waited for it.
            await asyncio.sleep(0.2)

    async def _ensure_claims(self, core: Any, namespace: str, request: ProcessRequest) -> None:
        """The workflow's volumeClaimTemplates as PVCs, created once (a 409 is one created)."""
        spec = request.workflow.get("spec") or {}
        wf_name = request.workflow["metadata"]["name"]
        for claim in spec.get("volumeClaimTemplates") or []:
            body = {**claim, "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {**claim["metadata"], "name": claim_name(wf_name, claim),
                                 "labels": {**(claim["metadata"].get("labels") or {}),
                                            kube.WORKFLOW_LABEL: wf_name}}}
            try:
                await self.call("creating a volume claim",
                                core.create_namespaced_persistent_volume_claim, namespace, body,
                                _preload_content=False)
            except Exception as exc:
                if _status(exc) != 409:
                    raise

    async def _outcome(self, core: Any, namespace: str, pod: dict[str, Any],
                       request: ProcessRequest, container: str = MAIN) -> Outcome:
        """How ``container`` of the ended pod ended, with its log, result and output files."""
        name = pod["metadata"]["name"]
        log_file = self._log_file(request.node_dir, container)
        logs = [log_file]
        await self._save_log(core, namespace, name, log_file, container)
        status = pod.get("status") or {}
        terminated = _terminated(pod, container)
        if terminated is None:  # the pod failed before the container ran or ended
            reason = status.get("message") or _init_failure(pod) or "pod failed"
            return Outcome("Failed" if status.get("phase") == "Failed" else "Error", reason,
                           log_files=logs)
        code = int(terminated.get("exitCode", 1))
        message = terminated.get("message") or ""
        files: dict[str, str] = {}
        result = None
        uploaded = None
        if container == MAIN and request.artifact_plan is not None:
            # (Stranded: main never ran, which it says below; or nothing to upload.)
            stranded = _wait_stranded(pod) or not _uploads(request)
            uploaded = {} if stranded else _uploaded(pod, request)
            if isinstance(uploaded, str):
                if code == 0:
                    return Outcome("Error", uploaded, exit_code=code, log_files=logs)
                uploaded = {}  # main's own failure (or deadline) says more
        elif container == MAIN and _has_artifacts(request):
            if message.startswith("!node-dir"):
                return Outcome("Error", f"the node's directory {request.node_dir}, which holds "
                               "its artifacts, is not on the Kubernetes node that ran pod "
                               f"{name}: artifacts need it there at the same path (a hostPath)",
                               log_files=logs)
            if failed := _copy_failures(request):
                return Outcome("Error", "failed to save outputs: the main container could not "
                               f"copy {failed[0]} with cp (its log says why; artifacts need cp "
                               "in the image)", exit_code=code, log_files=logs)
        if _wrapped(pod):
            if terminated.get("reason") in ("StartError", "ContainerCannotRun") and "sh" in \
                    message:
                image = _image_of(pod, container) or "its image"
                return Outcome("Error", f'the {container} container cannot run sh '
                               f"({message.strip()}): {image} needs sh for argosy to run it "
                               "(a script, output parameters from files, outputs.result, "
                               "artifacts or a container set need it)", exit_code=code,
                               log_files=logs)
            token = pod["metadata"]["annotations"][TOKEN_ANNOTATION]
            if message.strip() == _mark(token):
                message = _cut_trailer(log_file, _mark(token)) or ""
            if message.startswith("!"):  # a dependency failed: its command never ran
                dep, _, dep_code = message[1:].strip().partition(" ")
                why = f'dependency "{dep}" exited with non-zero code: {dep_code}' \
                    if dep_code.isdigit() else f'dependency "{dep}" did not succeed'
                return Outcome("Failed", why, log_files=logs)
            parsed = _parse_outputs(message) if message.strip() else {}
            if parsed is None and container == MAIN and _output_paths(request.template):
                return Outcome("Error", "output parameters do not fit in the pod's termination "
                               "message (4096 bytes), and the image has no wc to tell the "
                               "wrapper so", exit_code=code, log_files=logs)
            files = parsed or {}
            if too_big := _too_big(files):
                return Outcome("Error", too_big, exit_code=code, log_files=logs)
            result = files.pop(STDOUT, None)
        ok = code == 0
        why = "" if ok else (status.get("message") if status.get("reason") == "DeadlineExceeded"
                             else f"{terminated.get('reason') or 'Error'} (exit code {code})")
        if not ok and terminated.get("reason") == "Error":
            why = f"Error (exit code {code})"
        if result is None:
            result = result_of(log_file)
        elif result.endswith("\n"):
            result = result[:-1]
        return Outcome("Succeeded" if ok else "Failed", why or "", result=result,
                       exit_code=code, read_file=files.get, log_files=logs, uploaded=uploaded,
                       locate=_locator(request) if container == MAIN and uploaded is None
                       else None)

    @staticmethod
    def _log_file(node_dir: Path, container: str) -> Path:
        return Path(node_dir, "log" if container == MAIN else f"{container}.log")

    async def _save_log(self, core: Any, namespace: str, name: str, path: Path,
                        container: str = MAIN) -> None:
        """A container's log into ``path``, streamed."""
        def save() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                response = core.read_namespaced_pod_log(name, namespace, container=container,
                                                        _preload_content=False)
            except Exception as exc:
                if _status(exc) in (400, 404):  # never started, or gone: no log
                    path.write_bytes(b"")
                    return
                raise
            try:
                with open(path, "wb") as out:
                    for chunk in response.stream(1 << 16):
                        out.write(chunk)
            finally:
                response.release_conn()
        with contextlib.suppress(Exception):
            await self.call(f"reading the log of pod {name}", save)

    async def _delete(self, core: Any, namespace: str, name: str, uid: str, node_dir: Path,
                      pod: dict[str, Any], watch: PodWatch) -> None:
        """Stop the pod: save its log, delete it with its grace period, wait until it is gone."""
        await self._save_log(core, namespace, name, self._log_file(node_dir, MAIN))
        grace = pod["spec"].get("terminationGracePeriodSeconds", GRACE_SECONDS)
        with contextlib.suppress(Exception):
            await self.call(f"deleting pod {name}", core.delete_namespaced_pod, name, namespace,
                            grace_period_seconds=grace, _preload_content=False)
            await asyncio.wait_for(watch.wait(name, uid, lambda _pod: False), grace + 30)

    def _note_collection(self, request: ProcessRequest, namespace: str) -> None:
        strategy = _gc_strategy(request)
        uid = (request.workflow.get("metadata") or {}).get("uid")
        if uid and strategy in ("OnWorkflowCompletion", "OnWorkflowSuccess"):
            self.collect[uid] = (namespace, request.workflow["metadata"]["name"], strategy)

    def workflow_finished(self, workflow: dict[str, Any]) -> None:
        """``podGC`` at the workflow's end: delete its pods (one request)."""
        meta = workflow.get("metadata") or {}
        entry = self.collect.pop(meta.get("uid", ""), None)
        if entry is None or self._core is None:
            return
        namespace, name, strategy = entry
        phase = (workflow.get("status") or {}).get("phase")
        if strategy == "OnWorkflowSuccess" and phase != "Succeeded":
            return
        try:
            self._core.delete_collection_namespaced_pod(
                namespace, label_selector=f"{kube.WORKFLOW_LABEL}={name}",
                _preload_content=False, _request_timeout=10)
        except Exception as exc:  # the hook must not raise: the pods stay, as said here
            log.warning("podGC of workflow %s: %s", name, _api_message(exc))


def _config_key() -> tuple[str, int]:
    path = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    try:
        return path, os.stat(path.split(os.pathsep)[0]).st_mtime_ns
    except OSError:
        return path, 0


def _gc_strategy(request: ProcessRequest) -> str | None:
    return ((request.workflow.get("spec") or {}).get("podGC") or {}).get("strategy")


def _token(node_dir: Path) -> str:
    """This node run's token, made once and kept in its directory (retry empties that)."""
    path = kube.token_path(node_dir)
    with contextlib.suppress(FileNotFoundError):
        if token := path.read_text().strip():
            return token
    node_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(token)
    os.replace(tmp, path)
    return token


STDOUT = "&"  # the key of stdout among the wrapper's files


def _outputs_dir(node_dir: Path) -> None:
    """Where the wrapper copies output artifacts: writable by the container's user, whoever."""
    path = Path(node_dir, OUTPUTS)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)


def _locator(request: ProcessRequest) -> Callable[[str], Path | None]:
    """Outcome.locate: an output artifact's path as the wrapper copied it out."""
    index = {path: n for n, path in enumerate(artifact_paths(request.template))}

    def locate(path: str) -> Path | None:
        n = index.get(path)
        return None if n is None else Path(request.node_dir, OUTPUTS, str(n))
    return locate


def _uploaded(pod: dict[str, Any], request: ProcessRequest) -> dict[str, dict[str, Any]] | str:
    """Outcome.uploaded from the wait container's report, or why the outputs were not saved."""
    assert request.artifact_plan is not None
    name = pod["metadata"]["name"]
    ended = _terminated(pod, WAIT)
    if ended is None:
        return (f"failed to save outputs: the wait container of pod {name} did not finish, so "
                "its output artifacts were not uploaded")
    message = (ended.get("message") or "").strip()
    try:
        report = json.loads(message)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return (f"failed to save outputs: the wait container of pod {name} exited with code "
                f"{ended.get('exitCode')}: {message or 'no message (its log says why)'}")
    if report.get("error"):
        return f"failed to save outputs: {report['error']}"
    outputs = request.artifact_plan["outputs"]
    return {outputs[i]["path"]: outputs[i]["location"] for i in report.get("saved") or []}


def _copy_failures(request: ProcessRequest) -> list[str]:
    paths = artifact_paths(request.template)
    return [path for n, path in enumerate(paths)
            if Path(request.node_dir, OUTPUTS, f"{n}.failed").exists()]


def _parse_outputs(message: str) -> dict[str, str] | None:
    """The wrapper's output files (and stdout, under STDOUT) from its message; None if it was
    cut short. A file larger than Argo's cap is given as its size only, an int."""
    files: dict[str, Any] = {}
    current: list[str] | None = None
    for line in message.split("\n"):
        if line == "=":
            return {path: parts if isinstance(parts, int) else "".join(parts)
                    for path, parts in files.items()}
        if line.startswith("@") or line == STDOUT:
            current = files.setdefault(line[1:] if line != STDOUT else STDOUT, [])
        elif line.startswith("#") and files and current is not None:
            files[next(reversed(files))] = int(line[1:])
            current = None
        elif current is not None and line[:1] in ("|", "."):
            current.append(line[1:] + ("\n" if line[0] == "|" else ""))
    return None


def _too_big(files: dict[str, Any]) -> str | None:
    """Argo keeps an output parameter's value to 256 KiB: say which file passed that."""
    for path, value in files.items():
        size = value if isinstance(value, int) else len(value.encode())
        if path != STDOUT and size > PARAMETER_BYTES:
            return (f"output parameter file {path} is {size} bytes, more than the "
                    f"{PARAMETER_BYTES} bytes (256 KiB) Argo allows a parameter's value")
    return None


def _cut_trailer(log: Path, mark: str) -> str | None:
    """The wrapper's message from the end of the saved log, which is cut there (so the log is
    what the container printed); None if the log does not end with one."""
    try:
        with open(log, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TRAILER_BYTES))
            tail = f.read()
            begin = tail.rfind(f"\n{mark}\n".encode(), 0, max(0, len(tail) - len(mark) - 2))
            if begin < 0 or not tail.endswith(f"{mark}\n".encode()):
                return None
            body = tail[begin + len(mark) + 2:len(tail) - len(mark) - 1]
            f.truncate(size - len(tail) + begin)
    except OSError:
        return None
    return body.decode(errors="replace")


def _image_of(pod: dict[str, Any], container: str) -> str | None:
    return next((c.get("image") for c in pod["spec"]["containers"] if c["name"] == container),
                None)


def _address(pod: dict[str, Any]) -> dict[str, str]:
    """The pod's IP, for ``{{steps.X.ip}}``, as its status gives it."""
    ip = (pod.get("status") or {}).get("podIP")
    return {"pod_ip": ip} if ip else {}


_EXECUTOR = KubernetesExecutor()


@atexit.register
def _close_watches() -> None:
    """Watch threads say nothing once the interpreter exits (a daemon thread writing to stderr
    then can abort it)."""
    for watch in _EXECUTOR._watches.values():
        watch.closed = True


@hookimpl
def argosy_executors() -> list[KubernetesExecutor]:
    return [_EXECUTOR]


@hookimpl
def argosy_workflow_event(event: str, workflow: dict[str, Any]) -> None:
    if event == "finished":
        _EXECUTOR.workflow_finished(workflow)
