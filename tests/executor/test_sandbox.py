"""Where a step's private /tmp comes from: mount namespaces as root, a user namespace of the
fork server's own without CAP_SYS_ADMIN, and an unisolated run, said once, where the kernel
allows neither or ``ARGOSY_SANDBOX=off`` says so. Each case runs the executor in a child
process with the privileges it is about."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

# Runs two nodes, each writing /tmp/<marker>, and prints what happened as JSON.
PROBE = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from argosy.plugins.local import LocalExecutor, ProcessSpec

    root, marker = Path(sys.argv[1]), sys.argv[2]
    ex = LocalExecutor()
    out = []
    for name in ("a", "b"):
        argv = ["sh", "-c", f'echo {name} > /tmp/{marker}; cat /tmp/{marker}; id -u; pwd']
        r = asyncio.run(ex.run(ProcessSpec(argv, {}, None, root / name)))
        out.append([r.exit_code, r.stdout, r.stderr])
    print(json.dumps({"isolated": ex._isolated(), "runs": out}))
""")

NO_SYS_ADMIN = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"]


def needs_tools() -> None:
    if not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("needs setpriv and unshare to take privileges away")


def probe(tmp_path: Path, prefix: list[str], env: dict[str, str] | None = None
          ) -> tuple[dict, str, str]:  # type: ignore[type-arg]
    """(the probe's report, its stderr, the marker) run under ``prefix``."""
    marker = f"argosy-sandbox-{uuid.uuid4().hex}"
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, str(tmp_path), marker],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr, marker


def test_without_cap_sys_admin_a_user_namespace_gives_the_private_tmp(tmp_path: Path) -> None:
    needs_tools()
    # Root without CAP_SYS_ADMIN; any other user as it is.
    report, stderr, marker = probe(tmp_path, NO_SYS_ADMIN if os.geteuid() == 0 else [])
    assert report["isolated"], stderr
    uid = os.geteuid()  # steps run as the engine's user
    assert report["runs"] == [[0, f"{n}\n{uid}\n/tmp\n", ""] for n in ("a", "b")]
    assert [(tmp_path / n / "tmp" / marker).read_text() for n in ("a", "b")] == ["a\n", "b\n"]
    assert not Path("/tmp", marker).exists()
    assert "unisolated" not in stderr


def test_where_the_kernel_allows_no_namespace_one_notice_and_an_unisolated_run(
        tmp_path: Path) -> None:
    needs_tools()
    # In a user namespace of its own, with no user namespace left to make below it and no
    # CAP_SYS_ADMIN: as an ordinary user where user namespaces are disabled.
    script = ('echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"')
    report, stderr, marker = probe(tmp_path, ["unshare", "-Ur", "sh", "-c", script, "sh",
                                              *NO_SYS_ADMIN])
    assert not report["isolated"]
    assert [run[0] for run in report["runs"]] == [0, 0]
    assert [run[1].split("\n")[2] for run in report["runs"]] == [
        str(tmp_path / n / "tmp") for n in ("a", "b")]  # the node's own directory as its cwd
    assert stderr.count("argosy: steps run unisolated") == 1, stderr
    assert "set ARGOSY_SANDBOX=off" in stderr
    Path("/tmp", marker).unlink()  # unisolated: /tmp is the host's, so it landed there


def test_argosy_sandbox_off_runs_unisolated_without_a_notice(tmp_path: Path) -> None:
    report, stderr, marker = probe(tmp_path, [], {"ARGOSY_SANDBOX": "off"})
    assert not report["isolated"]
    assert [run[0] for run in report["runs"]] == [0, 0]
    assert "unisolated" not in stderr
    Path("/tmp", marker).unlink()


def test_a_bad_argosy_sandbox_value_is_an_error_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from argosy.errors import ArgosyError
    from argosy.plugins.local import LocalExecutor

    monkeypatch.setenv("ARGOSY_SANDBOX", "maybe")
    with pytest.raises(ArgosyError, match="ARGOSY_SANDBOX='maybe': expected on, tmp or off"):
        LocalExecutor()._isolated()


@pytest.mark.parametrize("value", ["many", "300", "-1", str((1 << 22) + 1)])
def test_a_bad_argosy_pids_limit_is_an_error_naming_it(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from argosy.errors import ArgosyError
    from argosy.plugins.local import pids_limit

    monkeypatch.setenv("ARGOSY_PIDS_LIMIT", value)
    with pytest.raises(ArgosyError, match=f"ARGOSY_PIDS_LIMIT='{value}': expected a number of "
                       "processes from 301"):
        pids_limit()


@pytest.mark.parametrize(("value", "limit"), [("", 1024), ("0", 0), ("301", 301), ("5000", 5000)])
def test_argosy_pids_limit_bounds_a_node_or_not(
        value: str, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from argosy.plugins.local import pids_limit

    monkeypatch.setenv("ARGOSY_PIDS_LIMIT", value)
    assert pids_limit() == limit
