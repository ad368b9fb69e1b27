"""The SQLite store: workflows, their nodes, the edges between nodes, and node logs.

WAL mode and one transaction per transition make the store survive ``kill -9`` of the engine at
any point. Nodes are rows of their own and ``children`` edges are appended to a separate table,
so a transition writes one small row: never the whole status, never a growing children list.
The rows of node transitions and logs are held back for a few milliseconds and written together,
in one transaction (:meth:`Store.defer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import stat
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pluggy

from argosy.errors import ArgosyError, NotFound
from argosy.spec.names import check_namespace

log = logging.getLogger("argosy.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS workflows (
    uid TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'Pending',
    started_at TEXT,
    finished_at TEXT,
    message TEXT,
    progress TEXT,
    status_extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    owner TEXT,
    lease REAL NOT NULL DEFAULT 0,
    applied_action INTEGER NOT NULL DEFAULT 0,
    expires_at REAL,
    UNIQUE (namespace, name)
);
CREATE INDEX IF NOT EXISTS workflows_phase ON workflows (phase);
-- Lists are newest first within a namespace: a page is a range of this index (keyset paging).
CREATE INDEX IF NOT EXISTS workflows_listed ON workflows (namespace, created_at DESC, name);
CREATE TABLE IF NOT EXISTS nodes (
    uid TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (uid, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
    uid TEXT NOT NULL,
    parent TEXT NOT NULL,
    child TEXT NOT NULL,
    -- Last: SQLite 3.40's integrity_check misreports a NOT NULL column declared before a
    -- WITHOUT ROWID table's key columns.
    seq INTEGER NOT NULL,
    PRIMARY KEY (uid, parent, child)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_uid ON actions (uid, id);
CREATE TABLE IF NOT EXISTS engines (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL,
    serving INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS metrics (
    uid TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    help TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    buckets TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS logs (
    uid TEXT NOT NULL,
    node_id TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (uid, node_id)
) WITHOUT ROWID;
-- Output artifacts a node left (an executed notebook): this store is their repository.
CREATE TABLE IF NOT EXISTS artifacts (
    uid TEXT NOT NULL,
    node_id TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (uid, node_id, name)
);
-- A change counter per workflow, kept by triggers so that writers do nothing extra: watchers
-- (the server's event stream) compare counters between polls instead of whole documents.
-- Lease and heartbeat updates are not changes a watcher sees.
CREATE TABLE IF NOT EXISTS changes (uid TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS node_written AFTER INSERT ON nodes BEGIN
    INSERT INTO changes (uid, seq) VALUES (NEW.uid, 1)
        ON CONFLICT (uid) DO UPDATE SET seq = seq + 1;
END;
CREATE TRIGGER IF NOT EXISTS node_deleted AFTER DELETE ON nodes BEGIN
    INSERT INTO changes (uid, seq) VALUES (OLD.uid, 1)
        ON CONFLICT (uid) DO UPDATE SET seq = seq + 1;
END;
CREATE TRIGGER IF NOT EXISTS workflow_written AFTER UPDATE OF
        phase, started_at, finished_at, message, progress, status_extra, manifest ON workflows
BEGIN
    INSERT INTO changes (uid, seq) VALUES (NEW.uid, 1)
        ON CONFLICT (uid) DO UPDATE SET seq = seq + 1;
END;
CREATE TRIGGER IF NOT EXISTS workflow_deleted AFTER DELETE ON workflows BEGIN
    DELETE FROM changes WHERE uid = OLD.uid;
END;
-- Kubernetes objects other than Workflows (WorkflowTemplates, ClusterWorkflowTemplates,
-- ConfigMaps, Secrets, CronWorkflows), one row each; namespace '' for cluster-scoped kinds.
-- A store made before this table gains it on open (IF NOT EXISTS): nothing else changes.
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
) WITHOUT ROWID;
-- Kubernetes' resourceVersion: one counter for every object write.
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

ACTIVE_PHASES = ("Pending", "Running")


class AlreadyExists(ArgosyError):
    pass


class StoreError(ArgosyError):
    """The store cannot be used: not the request's fault (exit 1, not 2)."""


class StoreDamaged(StoreError):
    """The store's database file cannot be read as one (truncated, overwritten, emptied)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"the argosy store {path} is damaged ({problem}): move it aside "
                         "to start an empty store, or put back a copy")


def store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    """A SQLite error as the user can act on it: a damaged file, or what SQLite says."""
    if getattr(exc, "sqlite_errorname", None) in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return StoreDamaged(path, str(exc))
    return StoreError(f"the argosy store {path}: {exc}")


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # a third of datetime's cost


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An engine that exited before the verb that spawned it is a zombie until that verb ends.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:][:1] != "Z"


def argosy_home() -> Path:
    return Path(os.environ.get("ARGOSY_HOME") or Path.home() / ".argosy")



def private_home(home: Path) -> None:
    """Make ``home`` a directory only its owner can enter (0700), whatever the umask.

    It holds every manifest, log, artifact and token hash, so an existing home open to others
    is tightened too (as ssh wants of ~/.ssh), with a warning saying so; one owned by somebody
    else is left alone.
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = home.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        log.warning("%s was open to other users (mode %o): tightened to 0700", home,
                    stat.S_IMODE(st.st_mode))
        os.chmod(home, 0o700)


def private_file(path: Path) -> None:
    """Create ``path`` (or tighten it, if it is ours) as a file only its owner can read."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


# A RAM-backed /dev/shm smaller than this (a container's default is 64 MiB) is not used.
MIN_SHM_BYTES = 1 << 30


def runtime_root() -> Path | None:
    """Where node directories live, for every ARGOSY_HOME of this user; None: in the home.

    Each node creates a handful of files and directories (its stdout, stderr, pid, exit code
    and private /tmp). On a disk every creation is a metadata write, measured at 0.05-0.5 ms
    apiece on a virtual disk: six of them can cost more than the whole per-node budget. So
    they go to a RAM-backed file system, as container runtimes keep their state under /run:
    ``$ARGOSY_RUNTIME_DIR`` if set, else ``/dev/shm/argosy-<uid>`` when /dev/shm is a tmpfs of
    at least 1 GiB that allows executables. What lasts (phases, outputs, logs) is in SQLite;
    the files go when their workflow ends.
    """
    explicit = os.environ.get("ARGOSY_RUNTIME_DIR")
    if explicit:
        return Path(explicit)
    shm = Path("/dev/shm")
    try:
        fs = os.statvfs(shm)
        # noexec (a hardening some hosts apply) would stop scripts run from a node's /tmp.
        if (fs.f_blocks * fs.f_frsize < MIN_SHM_BYTES or fs.f_flag & os.ST_NOEXEC
                or not os.access(shm, os.W_OK)):
            return None
        root = shm / f"argosy-{os.getuid()}"
        root.mkdir(mode=0o700, exist_ok=True)
        if root.stat().st_uid != os.getuid():  # somebody else's: not a place for our files
            return None
    except OSError:
        return None
    return root


#: Seconds between two sweeps of other homes' node directories (see ``Store.sweep_runtime``).
SWEEP_HOMES_EVERY = 3600.0


def _due(stamp: Path, every: float) -> bool:
    """Whether ``every`` seconds have passed since ``stamp`` was last touched; touch it if so."""
    with contextlib.suppress(OSError):
        if time.time() - stamp.stat().st_mtime < every:
            return False
    with contextlib.suppress(OSError):
        stamp.touch()
    return True


def remove_tree(path: Path) -> None:
    """Remove a directory tree, best effort, including the mode-0 work directories that
    overlayfs leaves in a node's layer: a non-root user owns them but cannot list them."""
    def unlock(func: Callable[..., Any], name: str, _exc: object) -> None:
        if func is os.scandir or func is os.open:
            with contextlib.suppress(OSError):
                os.chmod(name, stat.S_IRWXU)
                shutil.rmtree(name, onerror=unlock)

    shutil.rmtree(path, onerror=unlock)


def runtime_dir(home: Path) -> Path:
    """The node directories of one ARGOSY_HOME: under :func:`runtime_root`, a directory named
    after the home's path, else the home's ``runs``."""
    root = runtime_root()
    if root is None:
        return home / "runs"
    return root / hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]


LOG_LIMIT_ENV = "ARGOSY_LOG_LIMIT"
DEFAULT_LOG_LIMIT = 1 << 20
_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1 << 10, "mi": 1 << 20,
          "gi": 1 << 30}


def log_limit() -> int:
    """Bytes of each node's log the store keeps: ``$ARGOSY_LOG_LIMIT`` (a number of bytes,
    or a quantity such as ``256Ki`` or ``4Mi``), else 1 MiB."""
    text = os.environ.get(LOG_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_LOG_LIMIT
    digits = text.rstrip(string.ascii_letters)
    unit = _UNITS.get(text[len(digits):].lower())
    if not digits.isdigit() or unit is None or int(digits) * unit < 2:
        raise ArgosyError(f"{LOG_LIMIT_ENV}={text!r}: expected a number of bytes of at least 2,"
                          " or a quantity such as 256Ki or 4Mi")
    return int(digits) * unit


class EngineLock:
    """``engine.lock`` in the home: the background engine holds it (an ``flock``) from the
    moment it is spawned until it exits, so two verbs starting one at once start one.

    The spawner takes the lock and hands its descriptor to the child; the file names the
    holder's pid, so a verb can tell a starting engine from none without taking the lock.
    """

    def __init__(self, home: Path, fd: int | None = None) -> None:
        self.path = home / "engine.lock"
        self.fd = fd

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def name_holder(self, pid: int) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{pid}\n".encode(), 0)

    def holder(self) -> int | None:
        """The pid of the live engine the file names, if any (it may be about to exit)."""
        try:
            pid = int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return None
        return pid if pid > 0 and _alive(pid) else None

    def release(self) -> None:
        """Close this descriptor; the lock is free once no process has it open."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _suffix() -> str:
    # Argo's generateName suffix: five lowercase alphanumerics.
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass
class WorkflowRecord:
    uid: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    phase: str
    started_at: str | None
    finished_at: str | None
    message: str | None
    progress: str | None
    status_extra: dict[str, Any]
    created_at: str
    owner: str | None = None
    applied_action: int = 0
    # Its change counter, read in the same statement (a listing's); None: not read with it.
    version: int | None = None

    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = {"phase": self.phase}
        for key, value in (("startedAt", self.started_at), ("finishedAt", self.finished_at),
                           ("message", self.message), ("progress", self.progress)):
            if value:
                st[key] = value
        st.update(self.status_extra)
        return st


class Listed(NamedTuple):
    """What a list filters on, read without parsing the manifest."""

    namespace: str
    name: str
    phase: str
    created_at: str
    labels: dict[str, str]


# Where a page ends: (created_at, namespace, name) of the last workflow sent.
ListKey = tuple[str, str, str]


#: How long the store holds node and log rows back to write them in one transaction
#: (Store.defer): a wide fan-out's event loop turns are short, a node or two each.
DEFER_SECONDS = 0.01

_ADD_EDGE = "INSERT OR IGNORE INTO edges (uid, parent, seq, child) VALUES (?, ?, ?, ?)"


def _edge_rows(uid: str, edges: list[tuple[str, int, str]]) -> list[tuple[str, str, int, str]]:
    return [(uid, parent, seq, child) for parent, seq, child in edges]


class Store:
    #: What this store raises when it fails (damaged, full): the engine stops rather than run
    #: a workflow again.
    failure: type[BaseException] = sqlite3.Error

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home else argosy_home()
        private_home(self.home)
        self.path = self.home / "argosy.db"
        try:
            self._db = self._open()
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None
        # Writes held back (defer), in the order made.
        self._deferred: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on
        self._flushing = threading.Lock()
        self.runtime = runtime_dir(self.home)
        #: Kinds whose objects live elsewhere, read by ``(namespace, name)`` instead of from this
        #: store: in cluster mode, the cluster's ConfigMaps and Secrets (argosy.cluster).
        self.object_sources: dict[str, Callable[[str, str], dict[str, Any] | None]] = {}

    def _open(self) -> sqlite3.Connection:
        """Connect, never creating the file: an empty file is a damaged store, not a new one
        (a new one is built aside and linked into place whole)."""
        if not self.path.exists():
            self._create()
        elif self.path.stat().st_size == 0:
            raise StoreDamaged(self.path, "the file is empty")
        # SQLite gives the -wal and -shm files the database file's mode.
        for path in (self.path, *(self.home.glob("argosy.db-*"))):
            private_file(path)
        db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=rw", uri=True,
                             isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _create(self) -> None:
        new = self.home / f".argosy.db.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            private_file(new)
            with contextlib.closing(sqlite3.connect(new, isolation_level=None)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
            try:
                os.link(new, self.path)
            except FileExistsError:  # another process created it first
                pass
            except OSError:  # a file system without hard links
                if not self.path.exists():
                    os.replace(new, self.path)
        finally:
            for leftover in (new, Path(f"{new}-wal"), Path(f"{new}-shm")):
                leftover.unlink(missing_ok=True)

    def close(self) -> None:
        self.db.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, once the writes held back so far are written: whoever reads or
        writes through it sees them, and comes after them."""
        if self._deferred:
            self.flush()
        return self._db

    def defer(self, *writes: tuple[str, list[tuple[Any, ...]]]) -> None:
        """Make ``writes`` (SQL, its rows) ``DEFER_SECONDS`` from the first write held back,
        in one transaction with every write deferred meanwhile (at once outside a loop). Rows
        of one SQL statement keep their order; statements must not depend on each other's.

        A transaction per node transition wrote each page it touched to the WAL again, 3 or 4
        a transition: about a third of the engine's CPU for a ``true`` step. Held back, a
        kill -9 loses at most the last few milliseconds' rows, all or none, in order: the
        store is as if the engine were killed a moment earlier, which it recovers from (a
        step's process records its exit in its node's directory, so an unrecorded finished
        step is re-adopted, not run again). Any other use of the connection (``db``: a phase,
        a lease, a read) writes them first.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            with self.transaction():
                self._write(writes)
            return
        if not self._deferred or self._flush_on is not loop:
            self._flush_on = loop
            loop.call_later(DEFER_SECONDS, self._flush_held)
        self._deferred.extend(writes)

    def _flush_held(self) -> None:
        """The timer's flush. A failure keeps the rows, and the next use of the store raises
        it again where it is handled (the engine stops): not in the event loop's handler."""
        with contextlib.suppress(Exception):
            self.flush()

    def flush(self) -> None:
        """Write the deferred rows now, in one transaction; kept to retry (and raise again)
        on the next use of the store if that fails."""
        with self._flushing:
            batch, self._deferred = self._deferred, []
            if not batch:
                return
            if self._db.in_transaction:  # asked from within one of ours: they go in it
                self._write(batch)
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._write(batch)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except BaseException:
                self._deferred[:0] = batch
                raise

    def _write(self, batch: Sequence[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Each statement once, with its rows in the order made (see :meth:`defer`)."""
        by_sql: dict[str, list[tuple[Any, ...]]] = {}
        for sql, rows in batch:
            by_sql.setdefault(sql, []).extend(rows)
        for sql, rows in by_sql.items():
            self._db.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def run_dir(self, uid: str) -> Path:
        """The workflow's node directories (see :func:`runtime_root`)."""
        return self.runtime / uid

    def sweep_runtime(self) -> None:
        """Remove node directories nobody will read: those of workflows no longer active
        (an engine killed as its workflow ended leaves them), and those of homes that no
        longer exist; and the whole logs of workflows deleted while they ran. An engine does
        this as it starts; the homes beside its own at most every ``SWEEP_HOMES_EVERY``
        seconds, since each is a file to read (40 µs apiece: a test machine gathers thousands)
        and one of a deleted home holds only what its engine left when killed."""
        active = {r.uid for r in self.active()}
        with contextlib.suppress(FileNotFoundError):
            for entry in (self.home / "logs").iterdir():  # of workflows deleted mid-write
                if not self.exists(entry.name):
                    remove_tree(entry)
        if self.runtime.is_dir():
            for entry in self.runtime.iterdir():
                if entry.is_dir() and entry.name not in active:
                    remove_tree(entry)
        if self.runtime == self.home / "runs":
            return
        self.runtime.mkdir(parents=True, exist_ok=True)
        (self.runtime / "home").write_text(str(self.home.resolve()))
        if not _due(self.runtime.parent / ".swept", SWEEP_HOMES_EVERY):
            return
        for other in self.runtime.parent.iterdir():
            try:
                home = Path((other / "home").read_text())
            except OSError:
                continue
            if not (home / "argosy.db").exists():
                remove_tree(other)

    # ---- workflows ----------------------------------------------------------------------------

    def create_workflow(self, manifest: dict[str, Any], *,
                        keep_identity: bool = False) -> WorkflowRecord:
        """Record a new workflow. ``keep_identity``: it is an object of a cluster, whose uid
        and creation time it keeps (the controller's copy)."""
        meta = manifest.setdefault("metadata", {})
        namespace = check_namespace(meta.setdefault("namespace", "default"))
        if not (keep_identity and meta.get("uid") and meta.get("creationTimestamp")):
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
        uid, created = meta["uid"], meta["creationTimestamp"]
        fixed = meta.get("name")
        for _ in range(20):
            name = fixed or f"{meta.get('generateName', 'workflow-')}{_suffix()}"
            meta["name"] = name
            try:
                self.db.execute(
                    "INSERT INTO workflows (uid, namespace, name, manifest, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (uid, namespace, name, json.dumps(manifest), created))
                return self.get(uid)
            except sqlite3.IntegrityError:
                if fixed:
                    raise AlreadyExists(
                        f'workflows.argoproj.io "{name}" already exists in namespace '
                        f'"{namespace}"') from None
        raise ArgosyError("could not generate a unique workflow name")

    # ---- other objects (templates, ConfigMaps, Secrets) ------------------------------------

    def put_object(self, kind: str, namespace: str, name: str, body: dict[str, Any], *,
                   mode: str = "apply") -> tuple[dict[str, Any], bool]:
        """Write an object whole; ``mode`` "create" refuses an existing one, "update" a missing
        one, "apply" does either. Returns the object as stored and whether it was created.

        ``metadata`` gets the server-set fields (uid, resourceVersion, creationTimestamp); an
        update keeps the object's uid and creation time.
        """
        with self.transaction() as db:
            row = db.execute("SELECT uid, created_at, body FROM objects WHERE kind = ? AND"
                             " namespace = ? AND name = ?", (kind, namespace, name)).fetchone()
            where = f' in namespace "{namespace}"' if namespace else ""
            if row and mode == "create":
                raise AlreadyExists(f'{kind} "{name}" already exists{where}')
            if not row and mode == "update":
                raise NotFound(f'{kind} "{name}" not found{where}')
            uid, created = row[:2] if row else (str(uuid.uuid4()), now_rfc3339())
            status = json.loads(row[2]).get("status") if row else None
            if status is not None and "status" not in body:
                body = dict(body, status=status)  # Kubernetes' status subresource: kept
            version = db.execute(
                "INSERT INTO counters (name, value) VALUES ('resourceVersion', 1) ON CONFLICT"
                " (name) DO UPDATE SET value = value + 1 RETURNING value").fetchone()[0]
            meta = dict(body.get("metadata") or {}, name=name, uid=uid,
                        resourceVersion=str(version), creationTimestamp=created)
            if namespace:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            body = dict(body, metadata=meta)
            db.execute("INSERT OR REPLACE INTO objects (kind, namespace, name, uid,"
                       " resource_version, created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (kind, namespace, name, uid, version, created, json.dumps(body)))
        return body, row is None

    def patch_object(self, kind: str, namespace: str, name: str,
                     change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read, ``change`` in place and write one object in one transaction (a CronWorkflow's
        status beside a user's suspend); NotFound if it is gone."""
        with self.transaction() as db:
            row = db.execute("SELECT body FROM objects WHERE kind = ? AND namespace = ? AND"
                             " name = ?", (kind, namespace, name)).fetchone()
            if row is None:
                where = f' in namespace "{namespace}"' if namespace else ""
                raise NotFound(f'{kind} "{name}" not found{where}')
            body = json.loads(row[0])
            change(body)
            version = db.execute(
                "INSERT INTO counters (name, value) VALUES ('resourceVersion', 1) ON CONFLICT"
                " (name) DO UPDATE SET value = value + 1 RETURNING value").fetchone()[0]
            body["metadata"]["resourceVersion"] = str(version)
            db.execute("UPDATE objects SET body = ?, resource_version = ? WHERE kind = ? AND"
                       " namespace = ? AND name = ?",
                       (json.dumps(body), version, kind, namespace, name))
        return body

    def get_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if (source := self.object_sources.get(kind)) is not None:
            return source(namespace, name)
        row = self.db.execute("SELECT body FROM objects WHERE kind = ? AND namespace = ? AND"
                              " name = ?", (kind, namespace, name)).fetchone()
        return json.loads(row[0]) if row else None

    def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind by name, in one namespace or all (None)."""
        sql = "SELECT body FROM objects WHERE kind = ?"
        args: tuple[str, ...] = (kind,)
        if namespace is not None:
            sql, args = sql + " AND namespace = ?", (kind, namespace)
        return [json.loads(b) for (b,) in self.db.execute(sql + " ORDER BY namespace, name",
                                                            args)]

    def delete_object(self, kind: str, namespace: str, name: str) -> bool:
        """True if there was one to delete."""
        cur = self.db.execute("DELETE FROM objects WHERE kind = ? AND namespace = ? AND"
                              " name = ?", (kind, namespace, name))
        return cur.rowcount > 0

    def _record(self, row: tuple[Any, ...]) -> WorkflowRecord:
        """A row of ``_COLUMNS``, in a listing followed by its ``_VERSION``."""
        (uid, ns, name, manifest, phase, started, finished, message, progress, extra,
         created, owner, applied, *version) = row
        return WorkflowRecord(uid, ns, name, json.loads(manifest), phase, started, finished,
                              message, progress, json.loads(extra), created, owner, applied,
                              *version)

    _COLUMNS = ("uid, namespace, name, manifest, phase, started_at, finished_at, message, "
                "progress, status_extra, created_at, owner, applied_action")
    # A workflow's change counter, read by the statement that reads its row: one snapshot.
    _VERSION = "COALESCE((SELECT seq FROM changes WHERE changes.uid = workflows.uid), 0)"

    def get(self, uid: str) -> WorkflowRecord:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM workflows WHERE uid = ?",
                              (uid,)).fetchone()
        if row is None:
            raise NotFound(f"workflow with uid {uid} not found")
        return self._record(row)

    def exists(self, uid: str) -> bool:
        return self.db.execute("SELECT 1 FROM workflows WHERE uid = ?", (uid,)).fetchone() \
            is not None

    def find(self, namespace: str, name: str) -> WorkflowRecord:
        check_namespace(namespace)
        row = self.db.execute(
            f"SELECT {self._COLUMNS} FROM workflows WHERE namespace = ? AND name = ?",
            (namespace, name)).fetchone()
        if row is None:
            raise NotFound(f'workflows.argoproj.io "{name}" not found')
        return self._record(row)

    def list(self, namespace: str | None = None, *, prefix: str | None = None,
             phases: Sequence[str] | None = None, after: ListKey | None = None,
             limit: int | None = None,
             where: Callable[[Listed], bool] | None = None) -> list[WorkflowRecord]:
        """Workflows newest first, then by namespace and name; only returned rows are parsed.

        ``after`` continues past the workflow with that key (keyset paging); ``where`` filters
        on each row's :class:`Listed` (labels read by SQLite, not by Python's JSON parser)
        before its manifest is parsed; at most ``limit`` come back.
        """
        if namespace is not None:
            check_namespace(namespace)
        sql, args = self._list_query(namespace, prefix, phases, after, labels=where is not None)
        if where is None:
            if limit:
                sql += f" LIMIT {int(limit)}"
            return [self._record(r) for r in self.db.execute(sql, args)]
        out: list[WorkflowRecord] = []
        for row in self.db.execute(sql, args):
            labels = json.loads(row[-1]) if row[-1] else {}
            listed = Listed(row[1], row[2], row[4], row[10],
                            labels if isinstance(labels, dict) else {})
            if where(listed):
                out.append(self._record(row[:-1]))
                if limit and len(out) >= limit:
                    break
        return out

    def _list_query(self, namespace: str | None, prefix: str | None,
                    phases: Sequence[str] | None, after: ListKey | None, *,
                    labels: bool) -> tuple[str, list[Any]]:
        terms: list[str] = []
        args: list[Any] = []
        if namespace:
            terms.append("namespace = ?")
            args.append(namespace)
        if prefix:
            terms.append("substr(name, 1, ?) = ?")
            args += [len(prefix), prefix]
        if phases:
            terms.append(f"phase IN ({', '.join('?' for _ in phases)})")
            args += list(phases)
        if after:
            created, ns, name = after
            # The first term bounds the index range; the second is the exact keyset order.
            terms.append("created_at <= ? AND (created_at < ? OR (created_at = ? AND"
                         " (namespace, name) > (?, ?)))")
            args += [created, created, created, ns, name]
        extra = ", json_extract(manifest, '$.metadata.labels')" if labels else ""
        sql = f"SELECT {self._COLUMNS}, {self._VERSION}{extra} FROM workflows"
        if terms:
            sql += " WHERE " + " AND ".join(terms)
        return sql + " ORDER BY created_at DESC, namespace, name", args

    def active(self) -> list[WorkflowRecord]:
        rows = self.db.execute(
            f"SELECT {self._COLUMNS} FROM workflows WHERE phase IN ('Pending', 'Running')"
            " ORDER BY created_at")
        return [self._record(r) for r in rows]

    def update_status(self, uid: str, **fields: Any) -> None:
        """Update top-level status: phase, started_at, finished_at, message, progress, extra."""
        extra = fields.pop("status_extra", None)
        cols = list(fields)
        values = [fields[c] for c in cols]
        if extra is not None:
            cols.append("status_extra")
            values.append(json.dumps(extra))
        if not cols:
            return
        sets = ", ".join(f"{c} = ?" for c in cols)
        self.db.execute(f"UPDATE workflows SET {sets} WHERE uid = ?", (*values, uid))

    def update_manifest(self, uid: str, manifest: dict[str, Any]) -> None:
        self.db.execute("UPDATE workflows SET manifest = ? WHERE uid = ?",
                        (json.dumps(manifest), uid))

    def memo_cache(self) -> Any:
        """The memoization caches (``memoize``), rows of this database's ``memo`` table."""
        from argosy.memo import MemoCache

        return MemoCache(self.db)

    def claims_dir(self, uid: str) -> Path:
        """The workflow's volumeClaimTemplates claims, a directory each (they outlast a failed
        run, as Argo's PVCs do under volumeClaimGC OnWorkflowSuccess)."""
        return self.home / "claims" / uid

    def delete(self, uid: str) -> None:
        for tree in (self.run_dir(uid), self.claims_dir(uid), self.home / "logs" / uid):
            remove_tree(tree)
        with self.transaction() as db:
            for table in ("nodes", "edges", "logs", "artifacts", "actions", "metrics"):
                db.execute(f"DELETE FROM {table} WHERE uid = ?", (uid,))
            db.execute("DELETE FROM workflows WHERE uid = ?", (uid,))

    # ---- who executes what: engine leases ------------------------------------------------------

    def claim(self, uid: str, engine: str, lease_seconds: float) -> bool:
        """Take the lease on an active workflow unless a live engine holds it."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT w.owner, w.lease, e.pid FROM workflows w LEFT JOIN engines e"
                             " ON e.id = w.owner WHERE w.uid = ? AND w.phase IN"
                             " ('Pending', 'Running')", (uid,)).fetchone()
            if row is None:
                return False
            owner, lease, pid = row
            if owner not in (None, engine) and lease >= now and (pid is None or _alive(pid)):
                return False
            db.execute("UPDATE workflows SET owner = ?, lease = ? WHERE uid = ?",
                       (engine, now + lease_seconds, uid))
        return True

    def set_expiry(self, uid: str, at: float | None) -> None:
        self.db.execute("UPDATE workflows SET expires_at = ? WHERE uid = ?", (at, uid))

    def expired(self) -> list[str]:
        """Finished workflows whose ttlStrategy has run out."""
        rows = self.db.execute("SELECT uid FROM workflows WHERE expires_at IS NOT NULL AND"
                               " expires_at < ?", (time.time(),))
        return [r[0] for r in rows]

    def set_applied_action(self, uid: str, action_id: int) -> None:
        self.db.execute("UPDATE workflows SET applied_action = ? WHERE uid = ?", (action_id, uid))

    def release(self, uid: str, engine: str) -> None:
        self.db.execute("UPDATE workflows SET owner = NULL, lease = 0 WHERE uid = ? AND owner = ?",
                        (uid, engine))

    def heartbeat(self, engine: str, lease_seconds: float, *, serving: bool = False) -> None:
        """Renew the engine's liveness and the leases of every workflow it holds."""
        now = time.time()
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO engines (id, pid, heartbeat, serving)"
                       " VALUES (?, ?, ?, ?)", (engine, os.getpid(), now, int(serving)))
            db.execute("UPDATE workflows SET lease = ? WHERE owner = ?",
                       (now + lease_seconds, engine))

    def engine_gone(self, engine: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM engines WHERE id = ?", (engine,))
            db.execute("UPDATE workflows SET owner = NULL, lease = 0 WHERE owner = ?", (engine,))

    def serving_engines(self, within: float) -> int:
        """Engines serving the store that beat within ``within`` seconds and still live."""
        rows = self.db.execute("SELECT pid FROM engines WHERE serving = 1 AND heartbeat > ?",
                               (time.time() - within,)).fetchall()
        return sum(1 for (pid,) in rows if _alive(pid))

    def claimable(self) -> list[str]:
        """Active workflows no live engine holds, oldest first.

        A lease whose engine's process is gone from this host is free at once, so a restarted
        engine adopts its workflows without waiting for the lease to lapse.
        """
        rows = self.db.execute(
            "SELECT w.uid, w.owner, w.lease, e.pid FROM workflows w LEFT JOIN engines e"
            " ON e.id = w.owner WHERE w.phase IN ('Pending', 'Running')"
            " ORDER BY w.created_at, w.name").fetchall()
        now = time.time()
        return [uid for uid, owner, lease, pid in rows
                if owner is None or lease < now or (pid is not None and not _alive(pid))]

    # ---- actions: how verbs reach the engine executing a workflow -----------------------------

    def add_action(self, uid: str, kind: str, payload: dict[str, Any] | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO actions (uid, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            (uid, kind, json.dumps(payload or {}), now_rfc3339()))
        return int(cur.lastrowid or 0)

    def actions_after(self, uid: str, after: int) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT id, kind, payload FROM actions WHERE uid = ? AND id > ? ORDER BY id",
            (uid, after))
        return [(i, k, json.loads(p)) for i, k, p in rows]

    # ---- nodes --------------------------------------------------------------------------------

    def put_node(self, uid: str, node_id: str, body: str,
                 edges: list[tuple[str, int, str]] | None = None) -> None:
        """Write one node and any new ``(parent, seq, child)`` edges, in one transaction with
        the other writes held back (:meth:`defer`)."""
        node = ("INSERT OR REPLACE INTO nodes (uid, id, body) VALUES (?, ?, ?)",
                [(uid, node_id, body)])
        if edges:
            self.defer(node, (_ADD_EDGE, _edge_rows(uid, edges)))
        else:
            self.defer(node)

    def add_edges(self, uid: str, edges: list[tuple[str, int, str]]) -> None:
        with self.transaction() as db:
            self._add_edges(db, uid, edges)

    @staticmethod
    def _add_edges(db: sqlite3.Connection, uid: str, edges: list[tuple[str, int, str]]) -> None:
        # The caller numbers the edges (it holds the children in memory), so appending one
        # never scans a parent's existing children.
        db.executemany(_ADD_EDGE, _edge_rows(uid, edges))

    def delete_nodes(self, uid: str, ids: list[str]) -> None:
        """Forget nodes and their edges; a retry creates them again under the same ids."""
        with self.transaction() as db:
            db.executemany("DELETE FROM nodes WHERE uid = ? AND id = ?", [(uid, i) for i in ids])
            db.executemany("DELETE FROM edges WHERE uid = ? AND (child = ? OR parent = ?)",
                           [(uid, i, i) for i in ids])
            for table in ("logs", "artifacts"):
                db.executemany(f"DELETE FROM {table} WHERE uid = ? AND node_id = ?",
                               [(uid, i) for i in ids])
        for i in ids:
            self.log_path(uid, i).unlink(missing_ok=True)

    def nodes(self, uid: str) -> dict[str, dict[str, Any]]:
        """All nodes in Argo's shape, with ``children`` from the edge table."""
        nodes = {nid: json.loads(body) for nid, body in
                 self.db.execute("SELECT id, body FROM nodes WHERE uid = ?", (uid,))}
        for parent, child in self.db.execute(
                "SELECT parent, child FROM edges WHERE uid = ? ORDER BY parent, seq", (uid,)):
            if parent in nodes:
                nodes[parent].setdefault("children", []).append(child)
        return nodes

    # ---- custom metrics -----------------------------------------------------------------------

    def add_metrics(self, uid: str, rows: list[tuple[str, str, str, str, float, str]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT INTO metrics (uid, name, kind, help, labels, value, buckets)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)", [(uid, *r) for r in rows])

    def metrics(self, uid: str | None = None) -> list[tuple[str, str, str, str, float, str]]:
        """Stored samples ``(name, kind, help, labels JSON, value, buckets JSON)``."""
        sql = "SELECT name, kind, help, labels, value, buckets FROM metrics"
        rows = self.db.execute(sql + " WHERE uid = ?", (uid,)) if uid else self.db.execute(sql)
        return list(rows)

    # ---- logs ---------------------------------------------------------------------------------
    # A node's log within log_limit() is in the store alone. A longer one is kept twice: the
    # store keeps its first and last halves of the limit with a marker saying how much was
    # cut, and the whole log is a file under the home's ``logs`` directory, which goes with its
    # workflow (as Argo keeps a pod's log until the pod is garbage-collected).

    def container_log(self, node_id: str, container: str) -> tuple[str, str]:
        """(the store's key of a pod's container's log, its process dir under the run dir):
        the node's own for its main container, ``NODE:NAME`` and ``NODE/containers/NAME`` for
        a sidecar or init container."""
        if container in ("", "main"):
            return node_id, node_id
        return f"{node_id}:{container}", f"{node_id}/containers/{container}"

    def log_path(self, uid: str, node_id: str) -> Path:
        """Where a node's whole log is kept when the store's copy of it is cut."""
        return self.home / "logs" / uid / node_id

    def put_log(self, uid: str, node_id: str, content: str) -> None:
        self.keep_log(uid, node_id, [content])

    def keep_log(self, uid: str, node_id: str, parts: Sequence[str | Path]) -> None:
        """Keep a node's log: ``parts`` one after the other (texts, or files such as a
        process's stdout and stderr), read piece by piece, never whole."""
        sources = [_LogPart(p) for p in parts]
        total = sum(s.size for s in sources)
        limit = log_limit()
        if total <= limit:
            content = _span(sources, 0, total)
            with contextlib.suppress(FileNotFoundError):  # what an earlier attempt kept
                os.unlink(self.log_path(uid, node_id))
        else:
            full = self.log_path(uid, node_id)
            content = _cut(_span(sources, 0, limit // 2),
                           _span(sources, total - limit // 2, limit // 2), total, limit)
            _private_dirs(full.parent)
            part = full.with_name(full.name + ".part")
            with open(part, "wb", buffering=0) as out:
                for source in sources:
                    source.copy_to(out)
            os.replace(part, full)
        self.defer(("INSERT OR REPLACE INTO logs (uid, node_id, content) VALUES (?, ?, ?)",
                    [(uid, node_id, content.decode("utf-8", errors="replace"))]))

    def copy_log(self, uid: str, node_id: str, to_uid: str, to_node_id: str) -> None:
        """Give another node (a resubmitted workflow's) the same log."""
        self.db.execute("INSERT OR REPLACE INTO logs (uid, node_id, content) SELECT ?, ?,"
                        " content FROM logs WHERE uid = ? AND node_id = ?",
                        (to_uid, to_node_id, uid, node_id))
        full = self.log_path(uid, node_id)
        if full.exists():
            target = self.log_path(to_uid, to_node_id)
            _private_dirs(target.parent)
            shutil.copyfile(full, target)

    def log(self, uid: str, node_id: str) -> str | None:
        """The node's whole log, or None if it left none (yet)."""
        with contextlib.suppress(FileNotFoundError):
            return self.log_path(uid, node_id).read_bytes().decode("utf-8", errors="replace")
        row = self.db.execute("SELECT content FROM logs WHERE uid = ? AND node_id = ?",
                              (uid, node_id)).fetchone()
        return row[0] if row else None

    def log_lines(self, uid: str, node_id: str) -> Iterable[str] | None:
        """The node's whole log as lines without their newline, read from its file as they
        are taken when it is long; None if it left none (yet)."""
        full = self.log_path(uid, node_id)
        if full.exists():
            return _file_lines(full)
        row = self.db.execute("SELECT content FROM logs WHERE uid = ? AND node_id = ?",
                              (uid, node_id)).fetchone()
        if row is None:
            return None
        lines = row[0].split("\n")
        return lines[:-1] if lines[-1] == "" else lines

    def logged(self, uid: str) -> set[str]:
        """The nodes that left a log."""
        return {r[0] for r in self.db.execute("SELECT node_id FROM logs WHERE uid = ?", (uid,))}

    # ---- output artifacts -------------------------------------------------------------------

    def put_artifact(self, uid: str, node_id: str, name: str, path: str,
                     content: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO artifacts (uid, node_id, name, path, content)"
                        " VALUES (?, ?, ?, ?, ?)", (uid, node_id, name, path, content))

    def artifact(self, uid: str, node_id: str, name: str) -> tuple[str, bytes] | None:
        """(the path the node wrote it to, its content)."""
        row = self.db.execute("SELECT path, content FROM artifacts WHERE uid = ?"
                              " AND node_id = ? AND name = ?", (uid, node_id, name)).fetchone()
        return (row[0], row[1]) if row else None

    def changes(self) -> dict[str, int]:
        """Every workflow's change counter (0 if unchanged since created), by uid."""
        return dict(self.db.execute("SELECT w.uid, COALESCE(c.seq, 0) FROM workflows w"
                                    " LEFT JOIN changes c ON c.uid = w.uid"))

    # ---- the Argo object ----------------------------------------------------------------------

    def workflow(self, record: WorkflowRecord, *, nodes: bool = True) -> dict[str, Any]:
        """The Workflow as Argo shows it (``argo get -o json``).

        ``metadata.resourceVersion`` is the workflow's change counter, read before the record
        and nodes: the object is at least as new as its version, so a client that keeps the
        highest version it saw never goes back to older state (an action's reply that arrives
        after a newer event). A listed record carries the counter read with it; else both are
        read again here.
        """
        version = record.version
        if version is None:
            row = self.db.execute("SELECT seq FROM changes WHERE uid = ?",
                                  (record.uid,)).fetchone()
            version = row[0] if row else 0
            with contextlib.suppress(NotFound):
                record = self.get(record.uid)
        wf = dict(record.manifest)
        wf["metadata"] = dict(wf.get("metadata", {}), name=record.name,
                              namespace=record.namespace, uid=record.uid,
                              creationTimestamp=record.created_at,
                              resourceVersion=str(version))
        status = record.status()
        if nodes:
            found = self.nodes(record.uid)
            if found:
                status["nodes"] = found
        wf["status"] = status
        return wf


class _LogPart:
    """One piece of a log: a text, or a file read up to the size it had when first seen."""

    def __init__(self, part: str | Path) -> None:
        self.path: Path | None = None
        self.data = b""
        if isinstance(part, str):
            self.data = part.encode("utf-8", errors="surrogatepass")
            self.size = len(self.data)
            return
        try:
            self.size = os.stat(part).st_size
            self.path = part
        except FileNotFoundError:
            self.size = 0

    def read(self, start: int, length: int) -> bytes:
        if self.path is None:
            return self.data[start:start + length]
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(length)

    def copy_to(self, out: Any) -> None:
        if self.path is None:
            out.write(self.data)
            return
        with open(self.path, "rb") as f:
            offset = 0
            while offset < self.size:  # in the kernel: no copy of it passes through Python
                sent = os.sendfile(out.fileno(), f.fileno(), offset, self.size - offset)
                if not sent:
                    break
                offset += sent


def _span(parts: list[_LogPart], start: int, length: int) -> bytes:
    """``length`` bytes from ``start`` of the parts laid end to end."""
    out = []
    for part in parts:
        if length <= 0:
            break
        if start >= part.size:
            start -= part.size
            continue
        chunk = part.read(start, min(length, part.size - start))
        out.append(chunk)
        length -= len(chunk)
        start = 0
    return b"".join(out)


def _cut(head: bytes, tail: bytes, total: int, limit: int) -> bytes:
    """Head and tail of a log with a line saying how much is cut between them; the cut falls
    between lines where a line ends in the outer half of either part."""
    end = head.rfind(b"\n")
    if end >= len(head) // 2:
        head = head[:end + 1]
    start = tail.find(b"\n")
    if 0 <= start < len(tail) // 2:
        tail = tail[start + 1:]
    cut = total - len(head) - len(tail)
    marker = (f"... {cut} bytes ({_human(cut)}) of this log cut here: the store keeps the first"
              f" and last {_human(limit // 2)} of a node's log ({LOG_LIMIT_ENV}); `argosy logs`"
              " shows it whole while its workflow exists ...\n")
    return head + (b"" if head.endswith(b"\n") or not head else b"\n") + marker.encode() + tail


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _private_dirs(path: Path) -> None:
    """``path`` and its missing parents, readable by this user only: logs are the steps'."""
    if not path.is_dir():
        _private_dirs(path.parent)
        path.mkdir(mode=0o700, exist_ok=True)


def _file_lines(path: Path) -> Iterator[str]:
    with contextlib.suppress(FileNotFoundError), \
            open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            yield line.removesuffix("\n")


class _SQLite:
    """argosy's own store, a plugin like any other (entry point ``sqlite``)."""

    name = "sqlite"

    def open(self, home: Path) -> Store:
        return Store(home)

    @pluggy.HookimplMarker("argosy")
    def argosy_stores(self) -> list[_SQLite]:
        return [self]


sqlite = _SQLite()


def open_store(home: Path | str | None = None) -> Store:
    """The store ``config.yaml`` names, opened on ``home``. argosy's own (``sqlite``, a claim
    no plugin can take) opens without loading any plugin, so verbs that only read the store
    start fast; another goes through the plugin registry."""
    where = Path(home) if home else argosy_home()
    if _configured_store(where) == sqlite.name:
        return sqlite.open(where)
    from argosy.registry import default_registry

    return default_registry().open_store(where)


def _configured_store(home: Path) -> str:
    """``config.yaml``'s ``store`` (``sqlite`` when there is none), the file checked."""
    path = home / "config.yaml"
    if not path.exists():
        return sqlite.name
    return str(read_config(path).get("store", sqlite.name))


def read_config(path: Path) -> dict[str, Any]:
    """``$ARGOSY_HOME/config.yaml``, checked: an error naming the file and its fault."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        text = " ".join(str(exc).split())  # one line: YAML's errors span several
        raise ArgosyError(f"{path}: cannot read the configuration: {type(exc).__name__}: "
                          f"{text}") from None
    if not isinstance(data, dict):
        raise ArgosyError(f"{path}: must be a mapping (store, plugins)")
    plugins = data.get("plugins") or {}
    if not isinstance(plugins, dict) or not all(
            isinstance(v, dict) or v is None for v in plugins.values()):
        raise ArgosyError(f"{path}: plugins: must map each plugin's name to a mapping of its "
                          "settings")
    for key, default in (("store", sqlite.name), ("executor", "local")):
        if not isinstance(data.get(key, default), str):
            raise ArgosyError(f"{path}: {key}: must be the name of one (e.g. {default})")
    return {**data, "plugins": plugins}
