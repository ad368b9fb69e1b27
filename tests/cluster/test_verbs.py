"""Every verb of `argosy --help` with `--store kubernetes` (ARGOSY_STORE=kubernetes): each works
against the cluster's objects (the API server double), or is refused naming itself, or has no
`--store` because it does not act on a store. A verb added later fails the first test until it
is classified here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from kubernetes import client, config

from tests.cluster.conftest import CRDS
from tests.conftest import CliResult, run_cli
from tests.kube.double import Double
from tests.server.rest_harness import free_port

pytestmark = pytest.mark.timeout(120)

WORKS, REFUSED, NO_STORE = "works", "refused", "no --store"
SAY = {"name": "say", "container": {"image": "busybox", "command": ["echo", "hi"]}}
SPEC = {"entrypoint": "say", "templates": [SAY]}


def manifest(kind: str, name: str) -> dict[str, Any]:
    if kind == "CronWorkflow":
        spec: dict[str, Any] = {"schedule": "0 3 * * *", "workflowSpec": SPEC}
    else:
        spec = SPEC
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": {"name": name},
            "spec": spec}


@dataclass
class Cluster:
    custom: client.CustomObjectsApi
    env: dict[str, str]
    root: Path

    def object(self, kind: str, name: str) -> None:
        plural = kind.lower() + "s"
        if kind == "ClusterWorkflowTemplate":
            self.custom.create_cluster_custom_object("argoproj.io", "v1alpha1", plural,
                                                     manifest(kind, name))
        else:
            self.custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default",
                                                        plural, manifest(kind, name))

    def workflow(self, name: str, phase: str) -> None:
        """A Workflow object whose status a controller wrote: ``phase``, one Pod node."""
        self.object("Workflow", name)
        node = {"id": name, "name": name, "displayName": name, "type": "Pod", "phase": phase,
                "templateName": "say", "startedAt": "2024-01-01T00:00:00Z"}
        wf = self.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "default",
                                                      "workflows", name)
        wf["status"] = {"phase": phase, "startedAt": "2024-01-01T00:00:00Z",
                        "nodes": {name: node}}
        self.custom.replace_namespaced_custom_object_status("argoproj.io", "v1alpha1",
                                                            "default", "workflows", name, wf)

    def file(self, kind: str, name: str) -> str:
        path = self.root / f"{name}.json"
        path.write_text(json.dumps(manifest(kind, name)))
        return str(path)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        if plural == "clusterworkflowtemplates":
            return self.custom.get_cluster_custom_object("argoproj.io", "v1alpha1", plural, name)
        return self.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "default",
                                                        plural, name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("verbs")
    with Double(root=root / "pods") as double:
        kubeconfig = double.write_kubeconfig(root / "kubeconfig")
        api = config.new_client_from_config(str(kubeconfig))
        for crd in yaml.safe_load_all(CRDS.read_text()):
            client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        env = {"KUBECONFIG": str(kubeconfig), "ARGOSY_STORE": "kubernetes"}
        cluster = Cluster(client.CustomObjectsApi(api), env, root)
        cluster.workflow("wf-refused", "Failed")
        yield cluster
        api.close()


def template_verbs(group: str, kind: str) -> dict[str, Any]:
    """A template group's verbs (template, cluster-template, cron): each on its own object."""
    short = group.replace("cluster-template", "ct")
    plural = kind.lower() + "s"

    def created(c: Cluster, r: Any) -> None:
        assert c.get(plural, f"{short}-made")["metadata"]["name"] == f"{short}-made"

    def deleted(c: Cluster, r: Any) -> None:
        with pytest.raises(client.ApiException):
            c.get(plural, f"{short}-gone")

    return {
        f"{group} create": (WORKS, lambda c: [c.file(kind, f"{short}-made")], created),
        f"{group} get": (WORKS, lambda c: (c.object(kind, f"{short}-got"), [f"{short}-got"])[1],
                         lambda c, r: f"{short}-got" in r.stdout),
        f"{group} list": (WORKS, lambda c: (c.object(kind, f"{short}-listed"), [])[1],
                          lambda c, r: f"{short}-listed" in r.stdout),
        f"{group} lint": (WORKS, lambda c: [c.file(kind, f"{short}-linted")],
                          lambda c, r: "no linting errors found!" in r.stdout),
        f"{group} delete": (WORKS, lambda c: (c.object(kind, f"{short}-gone"),
                                              [f"{short}-gone"])[1], deleted),
    }


def cron_suspend(value: bool) -> Any:
    name = f"cron-{'off' if value else 'on'}"

    def check(c: Cluster, r: Any) -> None:
        assert c.get("cronworkflows", name)["spec"]["suspend"] is value

    return (WORKS, lambda c: (c.object("CronWorkflow", name), [name])[1], check)


def shutdown(verb: str, value: str) -> Any:
    name = f"wf-{verb}"

    def check(c: Cluster, r: Any) -> None:
        assert c.get("workflows", name)["spec"]["shutdown"] == value

    return (WORKS, lambda c: (c.workflow(name, "Running"), [name])[1], check)


def running(verb: str, check: Any) -> Any:
    name = f"wf-{verb}"
    return (WORKS, lambda c: (c.workflow(name, "Running"), [name])[1],
            lambda c, r: check(c.get("workflows", name)))


def finished(verb: str, shows: bool = True) -> Any:
    """A finished workflow that the verb shows (``shows``), or whose logs it prints: none, as
    no pod of the double's ran."""
    name = f"wf-{verb}"
    return (WORKS, lambda c: (c.workflow(name, "Succeeded"), [name] if verb != "list" else [])[1],
            lambda c, r: (name in r.stdout) if shows else r.stdout == "")


def refused(*args: str) -> Any:
    """A verb the cluster cannot serve, on the failed workflow ``wf-refused``."""
    return (REFUSED, lambda c: list(args), None)


def submitted(c: Cluster, r: Any) -> None:
    assert c.get("workflows", r.stdout.strip())["spec"]["entrypoint"] == "say"


def applied(c: Cluster, r: Any) -> None:
    assert "workflowtemplate.argoproj.io/applied created" in r.stdout
    assert c.get("workflowtemplates", "applied")["metadata"]["name"] == "applied"


def apply_args(c: Cluster) -> list[str]:
    path = c.root / "apply.yaml"
    path.write_text(json.dumps(manifest("WorkflowTemplate", "applied")))
    return ["-f", str(path)]


def served(c: Cluster, r: Any) -> None:
    assert "the cluster's workflows" in r.stdout


VERBS: dict[str, Any] = {
    **template_verbs("template", "WorkflowTemplate"),
    **template_verbs("cluster-template", "ClusterWorkflowTemplate"),
    **template_verbs("cron", "CronWorkflow"),
    "cron suspend": cron_suspend(True),
    "cron resume": cron_suspend(False),
    "apply": (WORKS, apply_args, applied),
    "submit": (WORKS, lambda c: [c.file("Workflow", "wf-submit"), "-o", "name"], submitted),
    "list": finished("list"),
    "get": finished("get"),
    "wait": finished("wait"),
    "watch": finished("watch"),
    "logs": finished("logs", shows=False),
    "delete": (WORKS, lambda c: (c.workflow("wf-delete", "Succeeded"), ["wf-delete"])[1],
               lambda c, r: "Workflow 'wf-delete' deleted" in r.stdout),
    "suspend": running("suspend", lambda wf: wf["spec"]["suspend"] is True),
    "resume": running("resume", lambda wf: "argosy.io/resume" in wf["metadata"]["annotations"]),
    "stop": shutdown("stop", "Stop"),
    "terminate": shutdown("terminate", "Terminate"),
    "retry": (WORKS, lambda c: (c.workflow("wf-retry", "Failed"), ["wf-retry"])[1],
              lambda c, r: "argosy.io/retry" in c.get("workflows", "wf-retry")["metadata"][
                  "annotations"]),
    "server": (WORKS, lambda c: ["--port", str(free_port())], served),
    "cp": refused("wf-refused", str(Path("out"))),
    "resubmit": refused("wf-refused"),
    "node set": refused("wf-refused", "--node-field-selector", "name=x", "--message", "m"),
    # Not verbs on a store: they act here (run, lint, engine, plugins, version, auth token) or
    # are the cluster's own (controller).
    **{verb: (NO_STORE, None, None) for verb in (
        "run", "lint", "engine", "plugins", "version", "auth token", "controller")},
}


def all_verbs() -> dict[str, click.Command]:
    import argosy.cli.cluster
    import argosy.cli.cron
    import argosy.cli.templates  # noqa: F401  (they add their groups to main)
    from argosy.cli.commands import main

    found: dict[str, click.Command] = {}

    def walk(group: click.Group, words: list[str]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, [*words, name])
            else:
                found[" ".join([*words, name])] = command

    walk(main, [])
    return found


def test_every_verb_is_classified() -> None:
    verbs = all_verbs()
    assert sorted(verbs) == sorted(VERBS)
    for verb, command in verbs.items():
        has_store = any("--store" in p.opts for p in command.params)
        assert has_store == (VERBS[verb][0] != NO_STORE), verb


def run_server(args: list[str], env: dict[str, str], home: Path) -> CliResult:
    """`argosy server --store kubernetes` until its banner, then stopped."""
    import os

    proc = subprocess.Popen([sys.executable, "-m", "argosy.cli", "server", *args],
                            env=dict(os.environ, ARGOSY_HOME=str(home), **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("argosy server on"):
            break
    proc.terminate()
    proc.wait(timeout=30)
    started = bool(lines) and lines[-1].startswith("argosy server on")
    return CliResult(0 if started else 1, "".join(lines), "")


@pytest.mark.parametrize("verb", sorted(v for v in VERBS if VERBS[v][0] != NO_STORE))
def test_the_verb_with_store_kubernetes(verb: str, cluster: Cluster, tmp_path: Path) -> None:
    expect, arguments, check = VERBS[verb]
    args = arguments(cluster)
    home = tmp_path / "home"
    if verb == "server":
        result = run_server(args, cluster.env, home)
    else:
        result = run_cli(*verb.split(), *args, home=home, env=cluster.env, timeout=60)
    if expect == REFUSED:
        assert result.code == 2, (result.stdout, result.stderr)
        assert f"argosy {verb} is not available with --store kubernetes" in result.stderr
        return
    assert result.code == 0, (result.stdout, result.stderr)
    assert check(cluster, result) is not False, result.stdout
    assert not (home / "argosy.db").exists()  # nothing local


def test_the_store_is_also_taken_from_the_environment(cluster: Cluster, tmp_path: Path) -> None:
    """ARGOSY_STORE (the env above) and --store are the same setting: --store local wins."""
    cluster.workflow("wf-env", "Succeeded")
    on_cluster = run_cli("get", "wf-env", "-o", "name", home=tmp_path, env=cluster.env)
    assert (on_cluster.code, on_cluster.stdout) == (0, "wf-env\n")
    local = run_cli("get", "wf-env", "--store", "local", home=tmp_path, env=cluster.env)
    assert local.code == 1 and "not found" in local.stderr
