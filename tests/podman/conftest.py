"""The podman executor's suites: a real podman, and small images built here from a static
busybox (no registry is reachable), tagged as the names the examples use.

Skipped, saying why, without podman or a static busybox. ``runc`` is preferred when installed
(crun fails on kernels with hybrid cgroups), through a ``CONTAINERS_CONF`` file of the session,
and the images live in a storage of the session's own (``CONTAINERS_STORAGE_CONF``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The names the examples use; each is the same busybox image.
TAGS = ("busybox", "busybox:latest", "alpine", "alpine:3.23", "alpine:3.19", "alpine:3.7",
        "debian:latest")
# Argo's test image: /argosay, a shell script with its sub-commands (see tests/tools/argosay).
ARGOSAY_TAG = "argoproj/argosay:v2"
ARGOSAY = r"""#!/bin/sh
case "$1" in
  "") echo "hello argo" ;;
  echo) if [ -n "$3" ]; then mkdir -p "$(dirname "$3")"; echo "${2-hello argo}" > "$3"
        else echo "${2-hello argo}"; fi ;;
  cat) cat "$2" ;;
  assert_contains) grep -F -- "$3" "$2" || exit 1 ;;
  sleep) sleep "$2" ;;
  exit) exit "${2:-0}" ;;
  sh) sh "$2" ;;
  *) exit 1 ;;
esac
"""
BASH = '#!/bin/sh\nexec sh "$@"\n'
# An image with an entrypoint and a cmd, to check how command and args combine with them.
ENTRYPOINT_TAG = "argosy-test/entrypoint:1"
STORAGE = """\
[storage]
driver = "overlay"
graphroot = "{root}"
runroot = "{run}"
"""
CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "{runtime}"
"""


def _static_busybox() -> str | None:
    path = shutil.which("busybox")
    if path is None:
        return None
    kind = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout \
        if shutil.which("file") else "statically linked"
    return path if "static" in kind else None


def _rootfs_tar(tmp: Path, busybox: str, extra: dict[str, str] | None = None) -> Path:
    """A busybox root file system as a tar, with ``extra`` executables (path: text)."""
    root = tmp / f"rootfs-{len(list(tmp.glob('rootfs-*')))}"
    (root / "bin").mkdir(parents=True)
    for name in ("tmp", "etc", "root"):
        (root / name).mkdir()
    (root / "tmp").chmod(0o1777)
    shutil.copy(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
        (root / name).chmod(0o755)
    tar = root.with_suffix(".tar")
    with tarfile.open(tar, "w") as out:
        out.add(root, arcname=".")
    return tar


def _podman(*args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, input=stdin, check=False)
    if done.returncode:
        raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.decode().strip()}")
    return done.stdout.decode()


def build_images(tmp: Path) -> str | None:
    """Podman ready and the busybox images built and tagged; else why they cannot be."""
    if shutil.which("podman") is None:
        return "podman is not installed (apt-get install -y podman runc busybox-static)"
    busybox = _static_busybox()
    if busybox is None:
        return "a static busybox is needed to build the test images (apt-get install -y " \
               "busybox-static)"
    # For this process and the CLIs it runs: runc, and a storage of the session's own, so the
    # tags below never replace a developer's own busybox or alpine images.
    if "CONTAINERS_CONF" not in os.environ and shutil.which("runc"):
        conf = tmp / "containers.conf"
        conf.write_text(CONF.format(runtime="runc"))
        os.environ["CONTAINERS_CONF"] = str(conf)
    if "CONTAINERS_STORAGE_CONF" not in os.environ:
        conf = tmp / "storage.conf"
        conf.write_text(STORAGE.format(root=tmp / "storage", run=tmp / "run"))
        os.environ["CONTAINERS_STORAGE_CONF"] = str(conf)
    tar = _rootfs_tar(tmp, busybox)
    # Argo's argosay image has bash, which examples call: busybox's sh stands in for it.
    argosay = _rootfs_tar(tmp, busybox, {"argosay": ARGOSAY, "bin/bash": BASH})
    image = "localhost/argosy-test/busybox:1"
    try:
        _podman("import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin",
                str(tar), image)
        _podman("import", "--change", 'ENTRYPOINT ["/bin/echo", "entrypoint"]', "--change",
                'CMD ["cmd"]', "--change", "ENV PATH=/bin", str(tar), ENTRYPOINT_TAG)
        _podman("import", "--change", 'ENTRYPOINT ["/argosay"]', "--change", "ENV PATH=/bin",
                str(argosay), ARGOSAY_TAG)
        for tag in TAGS:
            _podman("tag", image, tag)
        _podman("run", "--rm", "--network", "none", image, "true")
    except RuntimeError as exc:
        return f"podman cannot run a container here: {exc}"
    return None


@pytest.fixture(scope="session")
def podman_images() -> Iterator[None]:
    """The images, once per session (and xdist worker), in a directory of the session's own
    outside pytest's base temp (which other pytest runs rotate away); removed at its end."""
    tmp = Path(tempfile.mkdtemp(prefix="argosy-podman-"))
    try:
        reason = build_images(tmp)
        if reason:
            pytest.skip(reason)
        yield
    finally:
        if os.environ.get("CONTAINERS_STORAGE_CONF", "").startswith(str(tmp)):
            subprocess.run(["podman", "rm", "--all", "--force", "--time=0"],
                           capture_output=True, check=False)
            subprocess.run(["podman", "rmi", "--all", "--force"], capture_output=True,
                           check=False)
            del os.environ["CONTAINERS_STORAGE_CONF"]
        shutil.rmtree(tmp, ignore_errors=True)


def leftover_containers(uid: str) -> list[str]:
    """The containers of a workflow that are still there."""
    return _podman("ps", "-a", "--filter", f"label=argosy.io/workflow-uid={uid}",
                   "--format", "{{.Names}}").split()
