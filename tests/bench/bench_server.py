"""The REST server over a store of 1,000 finished workflows: list, get and event latency.

    python tests/bench/bench_server.py [--quick] [--json out.json] [--keep-home]

Sizes in brackets are ``--quick``'s.

* Store: 20 [10] small DAGs (4 container tasks, a fifth of them failing) run for real through
  the engine in this process, then their rows (workflow, nodes, edges, logs) cloned in SQLite
  under new names, uids and node ids up to 1,000 [200] workflows, each ``creationTimestamp``
  a second apart and labelled ``bench/group=g0..g9``.
* Server: ``python -m argosy.cli server`` (engine included, tokens required) on a free loopback
  port, as a child process; every request goes from here over one keep-alive connection.
* Requests, p50/p99 over N each, interleaved in rounds: ``GET /api/v1/version`` (the server's
  floor per request), the full list, ``listOptions.limit=50`` pages (walked with the continue
  token), the list trimmed by ``fields=`` (argo's UI list columns), a label selector matching a
  tenth, and ``GET …/{name}`` of random names. Floors measured in the same rounds: the same
  reads as plain SQLite queries in this process (the storage floor) and through
  ``WorkflowService`` in this process (the server's Python work without HTTP).
* Events: 50 [10] watchers on ``/api/v1/workflow-events/{ns}`` (each first receives every stored
  workflow as ADDED: the time to that is "connect"). Then 20 [5] rounds of (a) a direct write to
  the store (a stored workflow's ``status.message``, timed right after its commit) and (b) a
  submit through the API (timed from its response; also from its request), each waited for at
  every watcher; latency = arrival at a watcher - write, p50/p99 over watchers x events. Rounds
  are spaced by a random fraction of a second so writes fall anywhere in the server's poll tick.
  The server process's CPU% (``/proc/<pid>/stat``) while idle, with no watchers and with all,
  and its CPU seconds while the watchers connect (their wall time includes this process
  reading 50 x 1,000 events).

A benchmark reports; it asserts nothing. Ratios compare numbers taken in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: the test harness is importable from the root
from tests.server.rest_harness import free_port  # noqa: E402

NS = "bench"
API = "/api/v1/workflows"
EVENTS = "/api/v1/workflow-events"
# argo's UI workflow list asks for these columns only.
UI_FIELDS = ("metadata,items.metadata.uid,items.metadata.name,items.metadata.namespace,"
             "items.metadata.creationTimestamp,items.metadata.labels,items.status.phase,"
             "items.status.message,items.status.finishedAt,items.status.startedAt,"
             "items.status.progress,items.spec.suspend")
COLUMNS = ("uid, namespace, name, manifest, phase, started_at, finished_at, message, progress, "
           "status_extra, created_at")
NAN = float("nan")


# -- the store: a few real runs, cloned ------------------------------------------------------


def seed_manifest(name: str, group: str, fail: bool) -> dict[str, Any]:
    """A 4-task diamond DAG of ``sh -c echo`` containers; ``fail`` makes the last task exit 1."""
    def task(letter: str, deps: list[str], template: str = "echo") -> dict[str, Any]:
        out: dict[str, Any] = {"name": letter, "template": template, "arguments": {
            "parameters": [{"name": "m", "value": letter}]}}
        if deps:
            out["dependencies"] = deps
        return out

    def echo(template: str, tail: str = "") -> dict[str, Any]:
        return {"name": template, "inputs": {"parameters": [{"name": "m"}]},
                "container": {"image": "busybox", "command": [
                    "sh", "-c", "echo {{inputs.parameters.m}}" + tail]}}

    tasks = [task("a", []), task("b", ["a"]), task("c", ["a"]),
             task("d", ["b", "c"], "last" if fail else "echo")]
    templates = [{"name": "main", "dag": {"tasks": tasks}}, echo("echo")]
    if fail:
        templates.append(echo("last", "; exit 1"))
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "labels": {"bench/group": group, "app": "bench"}},
            "spec": {"entrypoint": "main", "templates": templates}}


def run_seeds(home: Path, count: int) -> list[str]:
    """Submit and run ``count`` workflows through the engine here; their uids."""
    from argosy.api.service import submit
    from argosy.engine.run import Engine
    from argosy.store import Store

    store = Store(home)
    engine = Engine(Store(home))
    uids = []
    for i in range(count):
        manifest = seed_manifest(f"bench-seed-{i:02d}", f"g{i % 10}", fail=i % 5 == 4)
        manifest["metadata"]["namespace"] = NS
        record = submit(store, manifest)
        final = asyncio.run(engine.run(record.uid))
        if final.phase not in ("Succeeded", "Failed"):
            raise RuntimeError(f"seed {record.name} ended {final.phase}: {final.message}")
        uids.append(record.uid)
    engine.store.close()
    store.close()
    return uids


def clone_seeds(home: Path, seeds: list[str], total: int) -> None:
    """Copy the seeds' rows until the namespace holds ``total`` workflows, renaming every
    workflow name, uid and node id (``<name>-<fnv32a(node name)>``, as the engine names them)."""
    import uuid

    from argosy.engine.run import node_id

    db = sqlite3.connect(home / "argosy.db", isolation_level=None)
    rows = {uid: db.execute(f"SELECT {COLUMNS} FROM workflows WHERE uid = ?", (uid,)).fetchone()
            for uid in seeds}
    start = datetime.now(UTC) - timedelta(seconds=total + 60)
    db.execute("BEGIN IMMEDIATE")
    for k in range(total - len(seeds)):
        source = rows[seeds[k % len(seeds)]]
        uid, name = str(uuid.uuid4()), f"bench-wf-{k:04d}"
        created = (start + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _clone_one(db, source, uid, name, created, node_id)
    db.execute("COMMIT")
    db.close()


def _clone_one(db: sqlite3.Connection, source: tuple[Any, ...], uid: str, name: str,
               created: str, node_id: Callable[[str, str], str]) -> None:
    old_uid, namespace, old_name, manifest, *status, _ = source
    wf = json.loads(manifest)
    wf["metadata"].update(name=name, uid=uid, creationTimestamp=created)
    db.execute(f"INSERT INTO workflows ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (uid, namespace, name, json.dumps(wf), *status, created))
    nodes = db.execute("SELECT id, body FROM nodes WHERE uid = ?", (old_uid,)).fetchall()
    ids = {old: node_id(name, json.loads(body)["name"].replace(old_name, name, 1))
           for old, body in nodes}

    def rename(text: str) -> str:
        # Ids first (they start with the old name), longest first; then the bare name.
        for old in sorted(ids, key=len, reverse=True):
            text = text.replace(old, ids[old])
        return text.replace(old_name, name)

    db.executemany("INSERT INTO nodes (uid, id, body) VALUES (?, ?, ?)",
                   [(uid, ids[old], rename(body)) for old, body in nodes])
    db.executemany("INSERT INTO edges (uid, parent, seq, child) VALUES (?, ?, ?, ?)",
                   [(uid, ids.get(p, p), seq, ids.get(c, c)) for p, seq, c in db.execute(
                       "SELECT parent, seq, child FROM edges WHERE uid = ?", (old_uid,))])
    db.executemany("INSERT INTO logs (uid, node_id, content) VALUES (?, ?, ?)",
                   [(uid, ids.get(n, n), text) for n, text in db.execute(
                       "SELECT node_id, content FROM logs WHERE uid = ?", (old_uid,))])


# -- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    token: str
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        # SIGINT: uvicorn's graceful shutdown (the engine detaches, the store closes).
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(home: Path, log: Path) -> Server:
    from argosy.api.auth import Auth

    token = Auth(home).create_token()
    port = free_port()
    env = dict(os.environ, ARGOSY_HOME=str(home), PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "argosy.cli", "server", "--port",
                                 str(port), "--log-level", "warning"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(f"http://127.0.0.1:{port}", token, proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/api/v1/version", timeout=2).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return NAN


# -- requests --------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    count: int
    run: Callable[[], int]  # one request or read; returns the bytes (or rows) it got
    floors: tuple[str, ...] = ()
    times: list[float] = field(default_factory=list)
    size: int = 0


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return NAN
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "max": max(values, default=NAN),
            "mean": statistics.fmean(values) if values else NAN}


class Reads:
    """The HTTP reads and their in-process floors, over one namespace of ``total`` workflows."""

    def __init__(self, server: Server, home: Path, total: int, rng: random.Random) -> None:
        self.client = httpx.Client(base_url=server.url, timeout=120,
                                   headers={"Authorization": f"Bearer {server.token}"})
        self.db = sqlite3.connect(home / "argosy.db", isolation_level=None)
        from argosy.api.service import WorkflowService
        from argosy.store import Store

        self.service = WorkflowService(Store(home))
        self.total = total
        self.rng = rng
        self.names = [r[0] for r in self.db.execute(
            "SELECT name FROM workflows WHERE namespace = ?", (NS,))]
        self.cont: str | None = None
        self.offset = 0
        # Bodies are checked in the warm-up only, so the timings hold no client-side parsing.
        self.check = True

    def close(self) -> None:
        self.client.close()
        self.db.close()
        self.service.store.close()

    def get(self, path: str, expect: Callable[[Any], bool] | None = None, **params: Any) -> int:
        resp = self.client.get(path, params=params or None)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {resp.status_code} {resp.text[:200]}")
        if self.check and expect is not None and not expect(resp.json()):
            raise RuntimeError(f"GET {path} {params}: unexpected body {resp.text[:200]}")
        return len(resp.content)

    def version(self) -> int:
        return self.get("/api/v1/version")

    def list_full(self) -> int:
        return self.get(f"{API}/{NS}", lambda b: len(b["items"]) == self.total)

    def list_page(self) -> int:
        params: dict[str, Any] = {"listOptions.limit": 50}
        if self.cont:
            params["listOptions.continue"] = self.cont
        resp = self.client.get(f"{API}/{NS}", params=params)
        body = resp.json()
        if resp.status_code != 200 or not 0 < len(body["items"]) <= 50:
            raise RuntimeError(f"page: {resp.status_code} {resp.text[:200]}")
        self.cont = body["metadata"].get("continue")  # None after the last page: start over
        return len(resp.content)

    def list_fields(self) -> int:
        return self.get(f"{API}/{NS}", lambda b: len(b["items"]) == self.total
                        and set(b["items"][0]) == {"metadata", "status", "spec"}
                        and "nodes" not in b["items"][0]["status"], fields=UI_FIELDS)

    def list_label(self) -> int:
        return self.get(f"{API}/{NS}", lambda b: len(b["items"]) == self.expected_g3,
                        **{"listOptions.labelSelector": "bench/group=g3"})

    @property
    def expected_g3(self) -> int:
        return sum(1 for _ in self.db.execute(
            "SELECT 1 FROM workflows WHERE namespace = ? AND json_extract(manifest, "
            "'$.metadata.labels.\"bench/group\"') = 'g3'", (NS,)))

    def get_one(self) -> int:
        name = self.rng.choice(self.names)
        return self.get(f"{API}/{NS}/{name}",
                        lambda b: b["metadata"]["name"] == name and len(b["status"]["nodes"]) == 5)

    # The storage floor: the same rows straight from SQLite.

    def sqlite_list(self) -> int:
        return len(self.db.execute(f"SELECT {COLUMNS} FROM workflows WHERE namespace = ? "
                                   "ORDER BY created_at DESC, name", (NS,)).fetchall())

    def sqlite_page(self) -> int:
        rows = self.db.execute(f"SELECT {COLUMNS} FROM workflows WHERE namespace = ? ORDER BY "
                               "created_at DESC, name LIMIT 50 OFFSET ?",
                               (NS, self.offset)).fetchall()
        self.offset = (self.offset + 50) % max(self.total, 1)
        return len(rows)

    def sqlite_label(self) -> int:
        return len(self.db.execute(
            f"SELECT {COLUMNS} FROM workflows WHERE namespace = ? AND json_extract(manifest, "
            "'$.metadata.labels.\"bench/group\"') = 'g3' ORDER BY created_at DESC, name",
            (NS,)).fetchall())

    def sqlite_get(self) -> int:
        name = self.rng.choice(self.names)
        row = self.db.execute(f"SELECT {COLUMNS} FROM workflows WHERE namespace = ? AND "
                              "name = ?", (NS, name)).fetchone()
        nodes = self.db.execute("SELECT id, body FROM nodes WHERE uid = ?", (row[0],)).fetchall()
        edges = self.db.execute("SELECT parent, child FROM edges WHERE uid = ? ORDER BY parent, "
                                "seq", (row[0],)).fetchall()
        return len(nodes) + len(edges)

    # The service in this process: the server's Python work, less HTTP and JSON encoding.

    def service_list(self) -> int:
        return len(self.service.list(NS))

    def service_label(self) -> int:
        return len(self.service.list(NS, label_selector="bench/group=g3"))

    def service_get(self) -> int:
        return len(self.service.get(NS, self.rng.choice(self.names))["status"]["nodes"])


def request_cases(reads: Reads, scale: float) -> list[Case]:
    def n(count: int) -> int:
        return max(10, int(count * scale))

    return [
        Case("GET /version", n(500), reads.version),
        Case("list, all", n(100), reads.list_full, ("sqlite list", "service list")),
        Case("list, limit=50 pages", n(300), reads.list_page, ("sqlite page",)),
        Case("list, fields= (UI columns)", n(100), reads.list_fields,
             ("sqlite list", "service list")),
        Case("list, labelSelector (1/10)", n(200), reads.list_label,
             ("sqlite label", "service label")),
        Case("get, random name", n(500), reads.get_one, ("sqlite get", "service get")),
        Case("sqlite list", n(100), reads.sqlite_list),
        Case("sqlite page", n(300), reads.sqlite_page),
        Case("sqlite label", n(200), reads.sqlite_label),
        Case("sqlite get", n(500), reads.sqlite_get),
        Case("service list", n(100), reads.service_list),
        Case("service label", n(200), reads.service_label),
        Case("service get", n(500), reads.service_get),
    ]


def warm_up(cases: list[Case], errors: list[str]) -> None:
    """One untimed run of each case (imports, caches, the connection), checking its answer."""
    for case in cases:
        try:
            case.size = case.run()
        except Exception as exc:
            errors.append(f"{case.name} (warm-up): {type(exc).__name__}: {exc}")


def bench_requests(cases: list[Case], rounds: int, errors: list[str]) -> None:
    """Each case a share of its count per round, in a rotating order."""
    for r in range(rounds):
        order = cases[r % len(cases):] + cases[:r % len(cases)]
        for case in order:
            share = case.count // rounds + (1 if r < case.count % rounds else 0)
            for _ in range(share):
                start = time.perf_counter()
                try:
                    case.size = case.run()
                except Exception as exc:
                    errors.append(f"{case.name}: {type(exc).__name__}: {exc}")
                    continue
                case.times.append(time.perf_counter() - start)


# -- events ----------------------------------------------------------------------------------


@dataclass
class Probe:
    needle: str
    wanted: int
    arrived: dict[int, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def saw(self, watcher: int, line: str) -> None:
        if watcher not in self.arrived and self.needle in line:
            self.arrived[watcher] = time.perf_counter()
            if len(self.arrived) >= self.wanted:
                self.done.set()


@dataclass
class Watchers:
    count: int
    initial: int
    probe: Probe | None = None
    ready: dict[int, float] = field(default_factory=dict)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    lines: int = 0
    ended: list[str] = field(default_factory=list)

    async def watch(self, client: httpx.AsyncClient, i: int) -> None:
        seen = 0
        start = time.perf_counter()
        try:
            async with client.stream("GET", f"{EVENTS}/{NS}") as resp:
                if resp.status_code != 200:
                    raise RuntimeError(f"status {resp.status_code}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    seen += 1
                    self.lines += 1
                    if seen == self.initial:
                        self._ready(i, start)
                    elif self.probe is not None:
                        self.probe.saw(i, line)
            self.ended.append(f"watcher {i}: stream ended after {seen} events")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.ended.append(f"watcher {i}: {type(exc).__name__}: {exc}")

    def _ready(self, i: int, start: float) -> None:
        self.ready[i] = time.perf_counter() - start
        if len(self.ready) == self.count:
            self.all_ready.set()


async def idle_cpu(pid: int, seconds: float) -> float:
    """The process's CPU% over ``seconds`` of this loop doing nothing."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)


async def bench_events(server: Server, home: Path, total: int, watchers: int, rounds: int,
                       idle_s: float, rng: random.Random) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=watchers + 4, max_keepalive_connections=watchers + 4)
    client = httpx.AsyncClient(base_url=server.url, limits=limits,
                               headers={"Authorization": f"Bearer {server.token}"},
                               timeout=httpx.Timeout(120, read=None))
    db = sqlite3.connect(home / "argosy.db", isolation_level=None, timeout=30)
    uids = [r[0] for r in db.execute("SELECT uid FROM workflows WHERE namespace = ?", (NS,))]
    out: dict[str, Any] = {"watchers": watchers, "rounds": rounds, "idle_seconds": idle_s}
    out["idle_cpu_pct_no_watchers"] = await idle_cpu(server.pid, idle_s)
    group = Watchers(watchers, total)
    tasks = [asyncio.create_task(group.watch(client, i)) for i in range(watchers)]
    try:
        connect_start, cpu = time.perf_counter(), cpu_seconds(server.pid)
        await asyncio.wait_for(group.all_ready.wait(), 600)
        out["connect_all_s"] = time.perf_counter() - connect_start
        # Wall time includes this process reading every stream; the server's share is its CPU.
        out["connect_server_cpu_s"] = cpu_seconds(server.pid) - cpu
        out["connect_s"] = summary(list(group.ready.values()))
        await asyncio.sleep(1)  # let the initial burst's garbage settle
        out["idle_cpu_pct_watchers"] = await idle_cpu(server.pid, idle_s)
        out["rss_mb_watchers"] = rss_mb(server.pid)
        write, submit, submit_sent, missed = [], [], [], 0
        cpu, wall = cpu_seconds(server.pid), time.perf_counter()
        for i in range(rounds):
            # (a) a direct write to the store, timed at its commit
            tag = f"bench-probe-{i}-{secrets.token_hex(3)}"
            group.probe = probe = Probe(tag, watchers)
            db.execute("UPDATE workflows SET message = ? WHERE uid = ?", (tag, rng.choice(uids)))
            written = time.perf_counter()
            missed += await wait_probe(probe)
            write += [t - written for t in probe.arrived.values()]
            await asyncio.sleep(rng.uniform(0.05, 0.45))
            # (b) a submit through the API, timed from its request and its response
            name = f"sse-probe-{i:03d}-{secrets.token_hex(2)}"
            group.probe = probe = Probe(f'"name": "{name}"', watchers)
            manifest = seed_manifest(name, "probe", fail=False)
            sent = time.perf_counter()
            resp = await client.post(f"{API}/{NS}", json={"workflow": manifest})
            answered = time.perf_counter()
            if resp.status_code != 200:
                raise RuntimeError(f"submit: {resp.status_code} {resp.text[:200]}")
            missed += await wait_probe(probe)
            submit += [t - answered for t in probe.arrived.values()]
            submit_sent += [t - sent for t in probe.arrived.values()]
            group.probe = None
            await asyncio.sleep(0.5 + rng.uniform(0.05, 0.45))  # the engine runs it meanwhile
        out["busy_cpu_pct"] = 100 * (cpu_seconds(server.pid) - cpu) / (
            time.perf_counter() - wall)
        out.update(write_to_event_s=summary(write), submit_response_to_event_s=summary(submit),
                   submit_request_to_event_s=summary(submit_sent), missed=missed,
                   data_lines=group.lines, ended=group.ended)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        db.close()
    return out


async def wait_probe(probe: Probe, timeout: float = 10) -> int:
    """How many watchers the event never reached within ``timeout``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(probe.done.wait(), timeout)
    return probe.wanted - len(probe.arrived)


# -- report ----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def ratio(a: float, b: float) -> str:
    return "" if not b or math.isnan(a) or math.isnan(b) else f"{a / b:.1f}x"


def request_rows(cases: list[Case]) -> list[list[str]]:
    by_name = {c.name: summary(c.times) for c in cases}
    version = by_name["GET /version"]["p50"]
    rows = []
    for case in cases:
        s = by_name[case.name]
        floors = [f"{f}: {ratio(s['p50'], by_name[f]['p50'])}" for f in case.floors]
        http = case.name.startswith(("list", "get", "GET"))
        size = f"{case.size / 1024:.1f} KB" if http else f"{case.size} rows"
        rows.append([case.name, str(s["n"]), ms(s["p50"]), ms(s["p99"]), size,
                     ratio(s["p50"], version) if http else "", ", ".join(floors)])
    return rows


def print_table(header: list[str], rows: list[list[str]]) -> None:
    table = [header, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("  ".join(cell.ljust(w) if c in (0, len(header) - 1) else cell.rjust(w)
                        for c, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def event_rows(ev: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, label in (("connect_s", "connect: every stored workflow as ADDED"),
                       ("write_to_event_s", "store write -> event"),
                       ("submit_response_to_event_s", "submit response -> ADDED"),
                       ("submit_request_to_event_s", "submit request -> ADDED")):
        s = ev.get(key) or summary([])
        rows.append([label, str(s["n"]), ms(s["p50"]), ms(s["p99"]), ms(s["max"])])
    return rows


def revision() -> str:
    proc = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                          capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


@contextlib.contextmanager
def bench_home(keep: bool) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="argosy-bench-server-"))
    try:
        yield home
    finally:
        if keep:
            print(f"ARGOSY_HOME kept at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller store, fewer requests")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--keep-home", action="store_true", help="keep the temp ARGOSY_HOME")
    args = parser.parse_args()
    total, seeds, watchers, probes, idle_s = ((200, 10, 10, 5, 3.0) if args.quick
                                              else (1000, 20, 50, 20, 10.0))
    scale, rounds = (0.2, 5) if args.quick else (1.0, 10)
    rng = random.Random(20240601)
    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "workflows": total, "seeds_run": seeds,
                               "cpus": os.cpu_count(), "revision": revision(),
                               "python": sys.version.split()[0],
                               "loadavg_before": os.getloadavg()}
    errors: list[str] = []
    with bench_home(args.keep_home) as home:
        t0 = time.perf_counter()
        clone_seeds(home, run_seeds(home, seeds), total)
        results["store_build_s"] = time.perf_counter() - t0
        server = start_server(home, home / "server.log")
        try:
            reads = Reads(server, home, total, rng)
            cases = request_cases(reads, scale)
            warm_up(cases, errors)
            reads.check = False
            bench_requests(cases, rounds, errors)
            reads.close()
            results["requests"] = {c.name: {**summary(c.times), "bytes": c.size}
                                   for c in cases}
            results["events"] = asyncio.run(bench_events(server, home, total, watchers, probes,
                                                         idle_s, rng))
            time.sleep(2)  # the server notices the closed streams
            results["rss_mb_end"] = rss_mb(server.pid)
        finally:
            server.stop()
        results["errors"] = errors[:50]
        results["error_count"] = len(errors)
    results["loadavg_after"] = os.getloadavg()
    report(results, cases, time.perf_counter() - started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"numbers written to {args.json}")


def report(results: dict[str, Any], cases: list[Case], took: float) -> None:
    ev = results["events"]
    print(f"\nargosy server benchmark ({'quick' if results['quick'] else 'full'}; "
          f"{results['workflows']} workflows ({results['seeds_run']} run, the rest cloned; "
          f"built in {results['store_build_s']:.1f} s); {results['cpus']} CPUs; {took:.0f} s; "
          f"load average {results['loadavg_before'][0]:.1f} before, "
          f"{results['loadavg_after'][0]:.1f} after; revision {results['revision']})\n")
    print_table(["request", "n", "p50 ms", "p99 ms", "response", "vs /version",
                 "p50 vs floors"], request_rows(cases))
    print(f"\n{ev['watchers']} watchers on {EVENTS}/{NS}, {ev['rounds']} rounds of "
          f"(store write, submit); all connected in {ev.get('connect_all_s', NAN):.2f} s, "
          f"the server busy {ev.get('connect_server_cpu_s', NAN):.2f} CPU s of it\n")
    print_table(["event latency", "n", "p50 ms", "p99 ms", "max ms"], event_rows(ev))
    print(f"\nserver CPU: idle {ev['idle_cpu_pct_no_watchers']:.1f}% with no watchers, "
          f"{ev.get('idle_cpu_pct_watchers', NAN):.1f}% with {ev['watchers']} "
          f"(over {ev['idle_seconds']:g} s each); {ev.get('busy_cpu_pct', NAN):.0f}% during "
          f"the event rounds; RSS {ev.get('rss_mb_watchers', NAN):.0f} MB with watchers, "
          f"{results.get('rss_mb_end', NAN):.0f} MB after they left")
    if ev.get("missed"):
        print(f"MISSED: {ev['missed']} (watcher, event) pairs never arrived within 10 s")
    for line in ev.get("ended", [])[:5]:
        print(f"ENDED: {line}")
    if results["error_count"]:
        print(f"ERRORS ({results['error_count']}, left out of the percentiles):")
        for error in results["errors"][:10]:
            print(f"  {error}")


if __name__ == "__main__":
    main()
