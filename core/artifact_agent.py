"""The kubernetes executor's in-pod artifact steps, Argo's ``init`` and ``wait`` containers:
``python -m argosy.artifact_agent init|wait NODE_DIR``, in argosy's own image.

Both read the node's ``ProcessRequest.artifact_plan`` from ``$ARGOSY_ARTIFACT_PLAN`` (a
repository's Secrets as ``{"env": VAR}``, which the pod fills from the Secret). NODE_DIR is
an emptyDir the pod's containers share.

* ``init`` places each input artifact at ``NODE_DIR/artifacts/N`` (fetched, unpacked, its
  ``mode`` set), whence the main container mounts it at its path, and makes ``outputs/`` for
  the main container's wrapper; it writes the pod's token last, which the wrapper checks.
* ``wait`` waits for the wrapper's done-marker (``$ARGOSY_DONE_FILE``), then archives and
  uploads each output artifact the wrapper copied to ``outputs/N`` and reports what it saved as
  JSON in its termination message: ``{"saved": [i...]}`` (indexes into the plan's outputs), or
  ``{"error": "..."}`` when one could not be saved.

A failure is one line on stderr and in the termination message, naming the artifact.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from argosy.artifacts import load_artifact, pack, private_dir, set_mode
from argosy.errors import ArgosyError
from argosy.kube import token_path

PLAN_ENV = "ARGOSY_ARTIFACT_PLAN"
MESSAGE = Path("/dev/termination-log")  # the agent containers' terminationMessagePath
_MESSAGE_CHARS = 3000  # within the kubelet's 4096 bytes


def _plan() -> dict[str, Any]:
    try:
        return json.loads(os.environ[PLAN_ENV])
    except (KeyError, ValueError) as exc:
        raise ArgosyError(f"${PLAN_ENV} holds no artifact plan: {exc}") from None


def _open(location: dict[str, Any]) -> tuple[Any, str]:
    """The repository and key a plan's ``{KIND: {settings, key}}`` names."""
    from argosy.registry import default_registry

    [(kind, body)] = location.items()
    factory = default_registry().artifact_repositories.get(kind)
    if factory is None:
        raise ArgosyError(f"artifact repository {kind!r} is not provided by any plugin "
                          "in this image")
    settings = {k: _secret(v) for k, v in body.items() if k != "key"}
    return factory.open(Path(tempfile.gettempdir()), settings), str(body["key"])


def _secret(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"env"}:
        return os.environ.get(str(value["env"]), "")
    return value


class _Planned:
    """What ``load_artifact`` resolves an input's repository and credentials through: the
    plan's location, and Secrets as the env vars the pod filled from them."""

    @staticmethod
    def secret(selector: Any, where: str) -> str | None:
        if not selector:
            return None
        return _secret(selector) or None

    @staticmethod
    def resolve(art: dict[str, Any]) -> tuple[Any, str]:
        if not art.get("repository"):
            raise ArgosyError(f'artifact "{art.get("name")}": the plan gives no repository')
        return _open(art["repository"])


def init(node_dir: Path) -> None:
    outputs = node_dir / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    outputs.chmod(0o777)  # the main container may run as another user
    root = node_dir / "artifacts"
    for n, art in enumerate(_plan()["inputs"]):
        with private_dir(root, f".{n}-") as work:
            content = work / "content"
            load_artifact(_Planned(), art, content, work)  # type: ignore[arg-type]
            if art.get("mode") is not None:
                set_mode(content, int(art["mode"]))
            os.replace(content, root / str(n))
    if os.environ.get("ARGOSY_ALIVE"):  # for wait: the wrapper holds it open while it lives
        os.mkfifo(os.environ["ARGOSY_ALIVE"])
        os.chmod(os.environ["ARGOSY_ALIVE"], 0o666)
    token_path(node_dir).write_text(os.environ.get("ARGOSY_POD_TOKEN", ""))


def _done(marker: Path) -> bool:
    return marker.exists() and bool(marker.read_text().strip())


def _wrapper_gone(alive: int) -> bool:
    """End-of-file from the wrapper's FIFO: nobody holds it open any more."""
    try:
        return os.read(alive, 1) == b""
    except BlockingIOError:  # a writer holds it: the wrapper lives
        return False


def wait(node_dir: Path) -> dict[str, Any]:
    done = Path(os.environ.get("ARGOSY_DONE_FILE", "/var/run/argo/main.done"))
    started = done.with_suffix(".started")
    alive = None
    pause = 0.05
    try:
        while not _done(done):
            if alive is None and os.environ.get("ARGOSY_ALIVE") and started.exists():
                alive = os.open(os.environ["ARGOSY_ALIVE"], os.O_RDONLY | os.O_NONBLOCK)
            if alive is not None and _wrapper_gone(alive) and not _done(done):
                return {"error": "the main container's wrapper ended before it copied the "
                                 "output artifacts (was the container killed?)"}
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
    finally:
        if alive is not None:
            os.close(alive)
    saved = []
    for i, out in enumerate(_plan()["outputs"]):
        copy = node_dir / "outputs" / str(out["n"])
        if Path(f"{copy}.failed").exists():
            return {"error": f"the main container could not copy {out['path']} with cp (its "
                             "log says why; artifacts need cp in the image)"}
        if not (copy.exists() or copy.is_symlink()):
            continue  # missing: the engine says so unless it is optional
        try:
            with private_dir(node_dir / "work", f"{i}-") as work:
                repository, key = _open(out["repository"])
                repository.save(pack(copy, out, work), key)
        except (OSError, ArgosyError) as exc:
            return {"error": f'artifact "{out["name"]}": {exc}'}
        saved.append(i)
    return {"saved": saved}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("init", "wait"):
        print("usage: python -m argosy.artifact_agent init|wait NODE_DIR", file=sys.stderr)
        return 2
    step, node_dir = argv[0], Path(argv[1])
    try:
        if step == "init":
            init(node_dir)
            return 0
        report = wait(node_dir)
    except (OSError, ArgosyError) as exc:
        _say(str(exc))
        return 1
    if report.get("error"):
        print(report["error"], file=sys.stderr)
    MESSAGE.write_text(json.dumps({k: (v[:_MESSAGE_CHARS] if isinstance(v, str) else v)
                                   for k, v in report.items()}))
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr)
    with contextlib.suppress(OSError):
        MESSAGE.write_text(message[:_MESSAGE_CHARS])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
