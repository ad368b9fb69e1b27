"""Container ``resources.limits`` through cgroups of the node's own (cgroup v2 where the host
delegates memory and cpu, else cgroup v1), run with the real CLI in a throwaway PID namespace:
as root they bound the step, an OOM kill is Argo's message, each container of a pod gets its
own; as nobody (no cgroup of its own to write) the steps run unbounded after one notice."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from argosy.plugin import ArgosyError
from argosy.plugins.cgroups import find_cgroups, remove_cgroups
from tests.hostile.test_hostile import PIDS_LIMIT, pytestmark, run_inside  # noqa: F401

# A step's own limits, as the kernel holds them: memory bytes, then cpu quota (µs a 100 ms
# period) and process bound, from its cgroup v1 hierarchies or else its cgroup v2 directory.
LIMITS = """\
own = {c: path for _, cs, path in (line.split(":", 2) for line in
       open("/proc/self/cgroup").read().splitlines()) for c in cs.split(",")}
def group(controller):
    return (f"/sys/fs/cgroup/{controller}{own[controller]}" if controller in own
            else f"/sys/fs/cgroup{own['']}")
def limits(memory_only=False):
    def read(controller, v1, v2):
        return open(f"{group(controller)}/{v1 if controller in own else v2}").read().split()[0]
    shown = [read("memory", "memory.limit_in_bytes", "memory.max")]
    if not memory_only:
        shown += [read("cpu", "cpu.cfs_quota_us", "cpu.max"), read("pids", "pids.max", "pids.max")]
    return " ".join(shown)
"""
# How much of the wall time a busy loop of 2 s got on a cpu.
BUSY = """\
import time
wall, cpu = time.monotonic(), time.process_time()
while time.monotonic() - wall < 2:
    pass
print(round((time.process_time() - cpu) / (time.monotonic() - wall), 3))
"""
HOG = "b = bytearray(256 << 20); b[::4096] = b'x' * (256 << 8)\n"  # 256 MiB, touched


def python(code: str, limits: dict[str, str] | None = None, name: str = "main"
           ) -> dict[str, Any]:
    """A container running ``code``, with ``limits``."""
    body: dict[str, Any] = {"name": name, "image": "python", "command": ["python3", "-c", code]}
    if limits:
        body["resources"] = {"limits": limits}
    return body


def manifest(templates: dict[str, dict[str, Any]]) -> str:
    """A DAG running each template at once (JSON is YAML)."""
    tasks = [{"name": name, "template": name} for name in templates]
    return json.dumps({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"generateName": "limits-"},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": tasks}},
            *({"name": name, **body} for name, body in templates.items())]}})


def nodes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert report["stdout"], report["stderr"]
    status = json.loads(report["stdout"])["status"]
    return {n["displayName"]: n for n in status["nodes"].values() if n["type"] == "Pod"}


def result(node: dict[str, Any]) -> str | None:
    return node.get("outputs", {}).get("result")


def cgroup_v1_memory_mounted() -> bool:
    """Whether a cgroup v1 memory hierarchy is mounted here, which root can always use."""
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    return any(f[f.index("-") + 1] == "cgroup" and "memory" in f[f.index("-") + 3].split(",")
               for f in map(str.split, mounts))


def skip_without_controllers() -> None:
    found, why = find_cgroups()
    if found is None and not cgroup_v1_memory_mounted():  # as root, v1 is always usable
        pytest.skip(f"no cgroup controllers for this process here: {why}")


def test_limits_bound_the_step_and_an_oom_kill_is_argos_message(
        tmp_path: Path, scratch: Path) -> None:
    skip_without_controllers()
    report = run_inside(manifest({
        "show": {"container": python(LIMITS + "print(limits())\n"
                                     "print(*sorted({group(c) for c in ('memory', 'cpu')}))",
                                     {"memory": "64Mi", "cpu": "250m"})},
        "hog": {"container": python(HOG, {"memory": "64Mi"})},
        "busy": {"container": python(BUSY, {"cpu": "100m"})},
        "free": {"container": python(BUSY)},
        "huge": {"container": python("print('ran')", {"cpu": "1000000000"})},  # past the kernel's
        # Each container of a pod its own limits: the init container has none (main's 48Mi
        # would kill it), the sidecar 80Mi.
        "pod": {"initContainers": [python(HOG + "open('/tmp/init', 'w').write('fed')",
                                          name="feed")],
                "sidecars": [python(LIMITS + "open('/tmp/side', 'w').write(limits(True))\n"
                                    "import time; time.sleep(600)", {"memory": "80Mi"}, "side")],
                "container": python(
                    LIMITS + "import os, time\nwhile not os.path.exists('/tmp/side'): "
                    "time.sleep(0.05)\ntime.sleep(0.1)\nprint(open('/tmp/init').read(), "
                    "open('/tmp/side').read(), limits(True))", {"memory": "48Mi"})},
    }), "root", tmp_path, scratch)
    ran = nodes(report)
    shown, groups = (result(ran["show"]) or "\n").split("\n")
    assert shown == f"{64 << 20} 25000 {PIDS_LIMIT}", ran["show"]
    assert "/argosy-" in groups and not any(map(os.path.exists, groups.split()))  # gone
    assert (ran["hog"]["phase"], ran["hog"]["message"]) == ("Failed", "OOMKilled (exit code 137)")
    busy, free = float(result(ran["busy"]) or 1), result(ran["free"])
    assert busy < 0.2, f"a 100m step got {busy} of a cpu (an unbounded one: {free})"
    assert result(ran["pod"]) == f"fed {80 << 20} {48 << 20}", ran["pod"]
    assert ran["huge"]["phase"] == "Error", ran["huge"]
    assert re.fullmatch(r"resources.limits: cannot write 100000000000000( 100000)? to "
                        r"/\S+/argosy-\w+/cpu\.(cfs_quota_us|max): Invalid argument",
                        ran["huge"]["message"])
    assert report["rc"] == 1  # the hog failed the workflow
    assert "not enforced" not in report["stderr"]


def test_a_container_sets_containers_get_their_own_limits(tmp_path: Path, scratch: Path) -> None:
    skip_without_controllers()
    containers = [python(LIMITS + "open('/tmp/a', 'w').write(limits(True))", {"memory": "40Mi"},
                         "a"),
                  {**python(LIMITS + "print(open('/tmp/a').read(), limits(True))",
                            {"memory": "56Mi"}), "dependencies": ["a"]}]
    report = run_inside(manifest({"set": {"containerSet": {"containers": containers}}}),
                        "root", tmp_path, scratch)
    assert report["rc"] == 0, report["stderr"]
    assert result(nodes(report)["set"]) == f"{40 << 20} {56 << 20}"


def test_limits_nobody_cannot_enforce_are_said_once_and_the_steps_run(
        tmp_path: Path, scratch: Path) -> None:
    report = run_inside(manifest({
        name: {"container": python("print('ran')", {"memory": "64Mi", "cpu": "500m"})}
        for name in ("a", "b")}), "nobody", tmp_path, scratch)
    assert report["rc"] == 0, report["stderr"]
    assert {name: result(node) for name, node in nodes(report).items()} == {"a": "ran",
                                                                           "b": "ran"}
    notices = [line for line in report["stderr"].splitlines() if "resources.limits" in line]
    assert len(notices) == 1 and "are not enforced, because" in notices[0], report["stderr"]
    # Where cgroup v1 has them, its hierarchy is the one that says why.
    assert cgroup_v1_memory_mounted() == ("cgroup v1 memory hierarchy" in notices[0]), notices


def test_limits_the_kernel_refuses_leave_no_cgroup_behind(tmp_path: Path) -> None:
    skip_without_controllers()
    found, _why = find_cgroups()
    assert found is not None
    groups = found.make(tmp_path / "node", {"memory": 64 << 20, "cpu": 1}, 0)
    assert asyncio.run(remove_cgroups(groups)) is False and groups
    try:
        with pytest.raises(ArgosyError, match=r"^resources.limits: cannot write 100000000000000"):
            found.make(tmp_path / "node", {"memory": 64 << 20, "cpu": 1e9}, 0)
        assert not any(group.exists() for group in groups)  # the memory group it made went too
    finally:
        asyncio.run(remove_cgroups(groups))  # should it fail: never litter the hierarchy
