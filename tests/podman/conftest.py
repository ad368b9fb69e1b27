"""The podman executor's suites: a real podman, and small images built here from a static
busybox (no registry is reachable), tagged as the names the examples use.

Skipped, saying why, without podman or a static busybox. ``runc`` is preferred when installed
(crun fails on kernels with hybrid cgroups), through a ``CONTAINERS_CONF`` file of the session,
and the images live in a storage of the session's own (``CONTAINERS_STORAGE_CONF``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
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
# A Python image from the host's python3 and its standard library, with the stand-ins of
# tests/tools for the images of Argo's daemon and sidecar examples (each a Python program), and
# a curl image from the host's curl.
PYTHON_TAGS = ("python:alpine3.23", "python:3.12-alpine", "python:alpine")
PYTHON_SKIP = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
               "__pycache__", "config-*")
STAND_INS = {"nginx:1.13": ["nginx", "-g", "daemon off;"], "influxdb:1.2": ["influxd"]}
CURL_TAG = "curlimages/curl:latest"
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


def _rootfs_tar(tmp: Path, busybox: str, extra: dict[str, str] | None = None,
                host: Iterable[str] = ()) -> Path:
    """A busybox root file system as a tar, with ``extra`` executables (path: text) and the
    ``host``'s files (programs, directories) at their own paths with the libraries they load."""
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
    _copy_host(root, host)
    for name, text in (extra or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        (root / name).chmod(0o755)
    tar = root.with_suffix(".tar")
    with tarfile.open(tar, "w") as out:
        out.add(root, arcname=".")
    return tar


def _copy_host(root: Path, paths: Iterable[str]) -> None:
    """The host's files at the same paths under ``root``, with the shared libraries its programs
    and modules load (as ``ldd`` lists them): the host's own build runs in the image."""
    binaries: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            shutil.copytree(path, root / path.relative_to("/"), symlinks=True,
                            dirs_exist_ok=True, ignore=shutil.ignore_patterns(*PYTHON_SKIP))
            binaries += path.rglob("*.so")
        else:
            (root / path.parent.relative_to("/")).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / path.relative_to("/"))
            binaries.append(path)
    libraries = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        libraries |= {word for word in out.split() if word.startswith("/")}
    for library in libraries:
        target = root / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copy(library, target)


def _python_files() -> list[str] | None:
    """The host's Debian python3 and its standard library (not a virtualenv's or pyenv's,
    whose paths are the host's own), or None without one."""
    program = Path("/usr/bin/python3").resolve()
    stdlib = Path("/usr/lib", program.name)
    if not program.is_file() or not stdlib.is_dir() or shutil.which("ldd") is None:
        return None
    return [str(program), str(stdlib)]


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
        _build_host_images(tmp, busybox)
    except RuntimeError as exc:
        return f"podman cannot run a container here: {exc}"
    return None


def _build_host_images(tmp: Path, busybox: str) -> None:
    """The Python images and the curl image, where the host has a Debian python3 and curl
    (else the examples using them are skipped: ``have_image``)."""
    python = _python_files()
    if python is not None:
        tools = Path(__file__).parents[1] / "tools"
        tar = _rootfs_tar(tmp, busybox, {
            "usr/bin/python": '#!/bin/sh\nexec python3 "$@"\n',
            "usr/bin/env": '#!/bin/sh\nexec /bin/env "$@"\n',
            "usr/bin/nginx": (tools / "nginx").read_text(),
            "usr/bin/influxd": (tools / "influxd").read_text()}, [*python, "/usr/bin/python3"])
        image = "localhost/argosy-test/python:1"
        _podman("import", "--change", 'CMD ["python3"]', "--change",
                "ENV PATH=/usr/local/bin:/usr/bin:/bin", str(tar), image)
        for tag in PYTHON_TAGS:
            _podman("tag", image, tag)
        for tag, cmd in STAND_INS.items():
            _podman("build", "--quiet", "--tag", tag, "-f", "-", str(tmp),
                    stdin=f"FROM {image}\nCMD {json.dumps(cmd)}\n".encode())
    curl = shutil.which("curl")
    if curl is not None and shutil.which("ldd") is not None:
        tar = _rootfs_tar(tmp, busybox, host=[str(Path(curl).resolve())])
        _podman("import", "--change", 'ENTRYPOINT ["curl"]', "--change",
                "ENV PATH=/usr/bin:/bin", str(tar), CURL_TAG)


def have_image(tag: str) -> bool:
    """Whether the session built ``tag`` (the host lacked what some need)."""
    return subprocess.run(["podman", "image", "exists", tag], check=False).returncode == 0


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


def leftover_pods(uid: str) -> list[str]:
    """The pods of a workflow that are still there."""
    return _podman("pod", "ps", "--filter", f"label=argosy.io/workflow-uid={uid}",
                   "--format", "{{.Name}}").split()
