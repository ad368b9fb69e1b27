"""Container ``resources.limits`` for local processes: a cgroup of the node's own.

Where the host offers them, a node with limits gets a cgroup (on cgroup v1, one per hierarchy)
that its init joins before the step starts, so the step and all it starts are born in it:

* cgroup v2, below ``$ARGOSY_CGROUP`` or else the engine's own cgroup, with the memory and cpu
  controllers delegated: ``memory.max`` and ``memory.swap.max`` 0, ``cpu.max``, ``pids.max``;
* cgroup v1 (no v2 controllers, as on hybrid hosts), below the engine's own cgroup of each
  hierarchy, which only root may write as a rule: ``memory.limit_in_bytes`` and
  ``memory.memsw.limit_in_bytes`` (no swap either, where swap is accounted),
  ``cpu.cfs_quota_us`` per ``cpu.cfs_period_us``, ``pids.max``.

The kernel counts the OOM kills of a group (v2 ``memory.events``, v1 ``memory.oom_control``):
a step that ends after one is reported as the kubelet reports it, ``OOMKilled``. Its groups go
when the node ends. Where neither is to be had, the executor says why once and the steps run
without limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argosy.plugin import ArgosyError
from argosy.plugins.podman import _BYTE_UNITS, _CPU_UNITS, _quantity

CGROUP_ENV = "ARGOSY_CGROUP"
CONTROLLERS = ("memory", "cpu", "pids")  # what limits use; pids only where it is offered
_CPU_PERIOD = 100_000  # µs: the kernel's default period


def limits_of(container: dict[str, Any]) -> dict[str, float]:
    """What a container's ``resources.limits`` ask for: ``memory`` in bytes, ``cpu`` in cpus."""
    limits = (container.get("resources") or {}).get("limits") or {}
    asked = {}
    for key, units in (("memory", _BYTE_UNITS), ("cpu", _CPU_UNITS)):
        if limits.get(key) not in (None, ""):
            asked[key] = _quantity(limits[key], units, f"resources.limits.{key}")
    return {key: value for key, value in asked.items() if value}  # 0: none, as for runc


@dataclass(frozen=True)
class Cgroups:
    """Where nodes' cgroups are made: the directory each controller's go below (on v2 one
    directory for all)."""

    version: int
    bases: dict[str, Path]

    def make(self, node_dir: Path, limits: dict[str, float], pids: int) -> tuple[Path, ...]:
        """The node's cgroups with ``limits`` (and its process bound ``pids``, 0 for none)
        written, named after ``node_dir`` so a restarted engine finds them again."""
        name = "argosy-" + hashlib.sha1(os.fsencode(os.path.abspath(node_dir))).hexdigest()[:20]
        groups: dict[Path, None] = {}
        try:
            for controller, file, value in self._files(limits, pids):
                group = self.bases[controller] / name
                if group not in groups:
                    group.mkdir(exist_ok=True)
                    groups[group] = None
                if not file.startswith(("memory.swap.", "memory.memsw.")) or \
                        (group / file).exists():  # swap: only where the kernel accounts it
                    (group / file).write_text(value)
        except OSError as e:
            for made in groups:
                made.rmdir()
            raise ArgosyError(f"resources.limits: cannot write {value} to {group / file}: "
                              f"{e.strerror}") from e
        return tuple(groups)

    def _files(self, limits: dict[str, float], pids: int) -> list[tuple[str, str, str]]:
        """(controller, file, value) to write, in order (v1: a memsw limit may not be below
        the memory limit)."""
        files = []
        if "memory" in limits:
            memory = str(int(limits["memory"]))
            files += [("memory", "memory.max", memory), ("memory", "memory.swap.max", "0")] \
                if self.version == 2 else [("memory", "memory.limit_in_bytes", memory),
                                           ("memory", "memory.memsw.limit_in_bytes", memory)]
        if "cpu" in limits:
            quota = str(max(1000, round(limits["cpu"] * _CPU_PERIOD)))
            files += [("cpu", "cpu.max", f"{quota} {_CPU_PERIOD}")] if self.version == 2 else \
                [("cpu", "cpu.cfs_period_us", str(_CPU_PERIOD)), ("cpu", "cpu.cfs_quota_us", quota)]
        if files and pids and "pids" in self.bases:
            files.append(("pids", "pids.max", str(pids)))
        return files

def oom_killed(groups: tuple[Path, ...]) -> bool:
    """Whether the kernel OOM-killed a process of a node's groups."""
    for group in groups:
        for file in ("memory.events", "memory.oom_control"):  # v2, v1: "oom_kill N" lines
            try:
                counts = dict(line.split() for line in (group / file).read_text().splitlines())
            except (OSError, ValueError):
                continue
            return int(counts.get("oom_kill", 0)) > 0
    return False


async def remove_cgroups(groups: tuple[Path, ...]) -> bool:
    """Remove a node's groups once its processes are gone; whether one was OOM-killed."""
    oom = oom_killed(groups)
    for group in groups:
        for _ in range(100):  # the init's last moments: it leaves its groups as it exits
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                await asyncio.sleep(0.01)
    return oom


def find_cgroups() -> tuple[Cgroups | None, str]:
    """Where nodes' cgroups can be made here, or None and why they cannot: ``$ARGOSY_CGROUP``
    (cgroup v2), else the engine's own v2 cgroup if it delegates memory and cpu, else its
    cgroup v1 memory and cpu hierarchies."""
    explicit = os.environ.get(CGROUP_ENV)
    own = _own_cgroups()
    unified = explicit or own.get("")
    if unified is None:
        found, why = None, "this process is in no cgroup v2 hierarchy"
    else:
        found, why = _delegated(Path(unified))
    if found is not None or explicit or not {"memory", "cpu"} & own.keys():
        return found, why
    return _hierarchies(own)


def _delegated(path: Path) -> tuple[Cgroups | None, str]:
    """A cgroup v2 directory with memory and cpu (and pids, if offered) delegated below it."""
    try:
        offered = set((path / "cgroup.controllers").read_text().split())
    except OSError:
        return None, f"{path} is not a cgroup v2 directory"
    missing = [c for c in ("memory", "cpu") if c not in offered]
    if missing:
        return None, f"the cgroup v2 directory {path} offers no {' or '.join(missing)} controller"
    wanted = [c for c in CONTROLLERS if c in offered]
    try:
        if not set(wanted) <= set((path / "cgroup.subtree_control").read_text().split()):
            (path / "cgroup.subtree_control").write_text(" ".join("+" + c for c in wanted))
    except OSError as e:
        return None, (f"the memory and cpu controllers cannot be delegated below {path} "
                      f"({e.strerror}); set {CGROUP_ENV} to a cgroup v2 directory of this "
                      "user's with no processes in it")
    return Cgroups(2, {c: path for c in wanted}), ""


def _hierarchies(own: dict[str, str]) -> tuple[Cgroups | None, str]:
    """This process's cgroups of the v1 memory and cpu (and pids) hierarchies, if this user
    may make cgroups below them."""
    for controller in ("memory", "cpu"):
        if controller not in own:
            return None, f"no cgroup v1 {controller} hierarchy is mounted"
        if not os.access(own[controller], os.W_OK):
            return None, (f"this user may not make cgroups in the cgroup v1 {controller} "
                          f"hierarchy ({own[controller]}), and cgroup v2 offers no memory and "
                          "cpu controllers here")
    return Cgroups(1, {c: Path(own[c]) for c in CONTROLLERS
                       if c in own and os.access(own[c], os.W_OK)}), ""


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup directory in each mounted hierarchy: cgroup v2's as "", a v1
    hierarchy's by each of its controllers."""
    try:
        own = [line.split(":", 2)[1:] for line in
               Path("/proc/self/cgroup").read_text().splitlines() if line.count(":") >= 2]
        mounts = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return {}
    found: dict[str, str] = {}
    for fields in mounts:
        kind, options = fields[fields.index("-") + 1], fields[fields.index("-") + 3]
        if kind not in ("cgroup", "cgroup2"):
            continue
        for controllers, path in own:
            names = controllers.split(",") if controllers else []
            if (kind == "cgroup2") != (not names) or not set(names) <= set(options.split(",")):
                continue
            root = fields[3].rstrip("/")
            if path == root or path.startswith(root + "/"):  # else not visible through it
                directory = fields[4].rstrip("/") + path[len(root):]
                for key in names or [""]:
                    found.setdefault(key, directory.rstrip("/") or "/")
    return found
