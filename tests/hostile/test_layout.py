"""A node's view of the host's mounts, with mounts made on the host for it (so as root only,
as the rest of this directory)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from argosy.plugins.local import LocalExecutor
from tests.conftest import REPO
from tests.executor.test_local import run, spec
from tests.hostile.test_hostile import pytestmark  # noqa: F401  (root, unshare)


def test_other_containers_roots_are_read_only_and_self_binds_layered_with_their_disk(
        tmp_path: Path) -> None:
    # An overlay below / (a container's root) is bound read-only, not layered again per node;
    # a directory bound onto itself (as container engines bind their storage) is shown by the
    # overlay of the disk it is on, so a write there lands in the node's layer as well.
    base = Path("/var/tmp", f"argosy-test-{uuid.uuid4().hex}")  # outside the private /tmp
    for name in ("lower", "upper", "work", "root", "store"):
        (base / name).mkdir(parents=True)
    (base / "lower" / "f").write_text("lower\n")
    options = f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work"
    mounted = []
    try:
        for argv in (["mount", "-t", "overlay", "overlay", "-o", options, str(base / "root")],
                     ["mount", "--bind", str(base / "store"), str(base / "store")]):
            subprocess.run(argv, check=True)
            mounted.append(argv[-1])
        script = (f"cat {base}/root/f; echo x > {base}/root/g 2>/dev/null || echo read-only; "
                  f"echo y > {base}/store/h; cat {base}/store/h")
        r = run(LocalExecutor(), spec(tmp_path, ["sh", "-c", script]))
        assert r.stdout == "lower\nread-only\ny\n", r.stderr
        assert not (base / "store" / "h").exists() and not (base / "root" / "g").exists()
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", point], check=True)
        shutil.rmtree(base)


# Runs one node listing its /tmp and the mount points under it, in the directory it is given.
LIST_TMP = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from argosy.plugins.local import LocalExecutor, ProcessSpec

    script = "ls -A /tmp; echo --; cut -d' ' -f5 /proc/self/mountinfo | grep ^/tmp/ || true"
    r = asyncio.run(LocalExecutor().run(ProcessSpec(["sh", "-c", script], {}, None,
                                                    Path(sys.argv[1]))))
    print(json.dumps([r.exit_code, r.stdout, r.stderr]))
""")


def test_a_nodes_tmp_is_empty_whatever_the_host_mounted_under_its_tmp_or_runs_from(
        tmp_path: Path) -> None:
    # The engine runs from a directory under the host's /tmp with a mount below it (as podman's
    # overlays under /tmp are): the node sees neither, nor is that mount laid out underneath
    # its /tmp, where it could only fail the node by vanishing while the node is set up.
    host = Path("/tmp", f"argosy-test-{uuid.uuid4().hex}")
    (host / "mnt").mkdir(parents=True)
    try:
        # In a mount namespace of the test's own: the mount goes with it.
        script = f'mount -t tmpfs none {host}/mnt && exec "$@"'
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             sys.executable, "-c", LIST_TMP, str(tmp_path / "node")],
            capture_output=True, text=True, timeout=60, cwd=host,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [0, "--\n", ""]
    finally:
        shutil.rmtree(host)


# Runs a node, mounts a tmpfs holding a file, runs another node reading that file.
MOUNT_BETWEEN = textwrap.dedent("""
    import asyncio, json, subprocess, sys
    from pathlib import Path
    from argosy.plugins.local import LocalExecutor, ProcessSpec

    nodes, point = Path(sys.argv[1]), sys.argv[2]
    ex, out = LocalExecutor(), []
    for name in ("before", "after"):
        r = asyncio.run(ex.run(ProcessSpec(["sh", "-c", f"cat {point}/f || true"], {}, None,
                                           nodes / name)))
        out.append(r.stdout)
        if name == "before":
            subprocess.run(["mount", "-t", "tmpfs", "none", point], check=True)
            Path(point, "f").write_text("mounted\\n")
    print(json.dumps(out))
""")


def test_a_mount_made_after_the_fork_server_read_the_table_is_in_the_next_nodes_view(
        tmp_path: Path) -> None:
    point = Path("/var/tmp", f"argosy-test-{uuid.uuid4().hex}")  # outside the private /tmp
    point.mkdir()
    try:
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
             MOUNT_BETWEEN, str(tmp_path), str(point)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == ["", "mounted\n"]
    finally:
        point.rmdir()
