"""The container type's image entrypoints, and the argosay stand-in for Argo's test images."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from argosy.engine.run import NodeError
from argosy.plugins.container import Container, argv_of, env_of, image_config
from tests.conftest import REPO, CliResult, run_cli

TOOLS = REPO / "tests" / "tools"
ARGOSAY = TOOLS / "argosay"


def container(**fields: object) -> Container:
    return Container.model_validate(fields)


def write_images(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def images(argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ARGOSY_IMAGE_ENTRYPOINTS", raising=False)
    return argosy_home / "images.yaml"


# ---- matching an image to its entry -----------------------------------------------------------


def test_exact_untagged_and_wildcard_entries(images: Path) -> None:
    write_images(images, """
        argoproj/argosay:v2: {entrypoint: [exact]}
        argoproj/argosay: {entrypoint: [any-tag]}
        "argoproj/*": {entrypoint: [short-pattern]}
        "argoproj/argosay:v*": {entrypoint: [long-pattern]}
        python: {entrypoint: [python3]}
    """)

    def entry(image: str) -> list[str] | None:
        found = image_config(image)
        return found.entrypoint if found else None

    assert entry("argoproj/argosay:v2") == ["exact"]
    assert entry("argoproj/argosay:v1") == ["any-tag"]
    assert entry("argoproj/argosay") == ["any-tag"]
    assert entry("argoproj/other:v9") == ["short-pattern"]
    assert entry("python:alpine3.23") == ["python3"]
    assert entry("docker.io/library/python:3.12") == ["python3"]
    assert entry("busybox") is None
    assert entry(None) is None


def test_longest_wildcard_wins_when_no_exact_or_untagged(images: Path) -> None:
    write_images(images, """
        "argoproj/*": {entrypoint: [short]}
        "argoproj/argosay:*": {entrypoint: [long]}
    """)
    assert image_config("argoproj/argosay:v1").entrypoint == ["long"]
    assert image_config("argoproj/argocli:latest").entrypoint == ["short"]


def test_a_tag_less_image_is_latest(images: Path) -> None:
    write_images(images, "alpine:latest: {entrypoint: [sh]}\n")
    assert image_config("alpine").entrypoint == ["sh"]
    assert image_config("alpine:3.23") is None


def test_env_file_overrides_home_file(images: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_images(images, """
        a:1: {entrypoint: [from-home]}
        b:1: {entrypoint: [only-home]}
    """)
    extra = write_images(tmp_path / "extra.yaml", "a:1: {entrypoint: [from-env]}\n")
    monkeypatch.setenv("ARGOSY_IMAGE_ENTRYPOINTS", str(extra))
    assert image_config("a:1").entrypoint == ["from-env"]
    assert image_config("b:1").entrypoint == ["only-home"]


def test_relative_programs_are_relative_to_their_file(images: Path) -> None:
    write_images(images, """
        a:1: {entrypoint: [./bin/tool, --flag], commands: {/tool: ../other}}
    """)
    found = image_config("a:1")
    assert found.entrypoint == [str(images.parent / "bin" / "tool"), "--flag"]
    assert found.commands == {"/tool": str(images.parent.parent / "other")}


def test_an_edited_file_is_read_again(images: Path) -> None:
    write_images(images, "a:1: {entrypoint: [old]}\n")
    assert image_config("a:1").entrypoint == ["old"]
    write_images(images, "a:1: {entrypoint: [newer-and-longer]}\n")
    assert image_config("a:1").entrypoint == ["newer-and-longer"]


def test_the_file_follows_the_home(images: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The files' names are worked out once per setting: a new ARGOSY_HOME (or HOME, when
    it is unset) is a new images.yaml."""
    write_images(images, "a:1: {entrypoint: [first]}\n")
    assert image_config("a:1").entrypoint == ["first"]
    other = tmp_path / "other-home"
    write_images(other / "images.yaml", "a:1: {entrypoint: [second]}\n")
    monkeypatch.setenv("ARGOSY_HOME", str(other))
    assert image_config("a:1").entrypoint == ["second"]
    monkeypatch.delenv("ARGOSY_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    write_images(tmp_path / "user" / ".argosy" / "images.yaml", "a:1: {entrypoint: [third]}\n")
    assert image_config("a:1").entrypoint == ["third"]


def test_a_malformed_entry_names_the_file(images: Path) -> None:
    write_images(images, "a:1: {entrypoint: sh, cmd: []}\n")
    with pytest.raises(NodeError) as info:
        image_config("a:1")
    assert str(info.value) == f"{images}: 'a:1'.entrypoint: expected a list of strings"
    write_images(images, "a:1: {entrypiont: [sh]}\n")
    with pytest.raises(NodeError) as info:
        image_config("a:1")
    assert str(info.value) == f"{images}: 'a:1': unknown field(s) entrypiont"


# ---- argv and env, Kubernetes' rules ----------------------------------------------------------


def test_argv_follows_kubernetes_command_and_args(images: Path) -> None:
    write_images(images, """
        img:1: {entrypoint: [ep, -x], cmd: [default-arg], commands: {/ep: ep}}
        noentry:1: {cmd: [cowsay]}
    """)
    assert argv_of(container(image="img:1")) == ["ep", "-x", "default-arg"]
    assert argv_of(container(image="img:1", args=["a", "b"])) == ["ep", "-x", "a", "b"]
    assert argv_of(container(image="img:1", command=["sh", "-c"], args=["true"])) == \
        ["sh", "-c", "true"]
    # An in-image program a command names is run as the host program it is mapped to.
    assert argv_of(container(image="img:1", command=["/ep"], args=["y"])) == ["ep", "y"]
    assert argv_of(container(image="noentry:1")) == ["cowsay"]
    assert argv_of(container(image="noentry:1", args=["echo", "hi"])) == ["echo", "hi"]
    # Unmapped images still run whatever command the container gives.
    assert argv_of(container(image="busybox", command=["echo"], args=["x"])) == ["echo", "x"]


def test_no_command_and_no_mapping_says_what_to_edit(images: Path) -> None:
    with pytest.raises(NodeError) as info:
        argv_of(container(image="acme/tool:2", args=["run"]))
    assert str(info.value) == (
        'container has no command and the entrypoint of image "acme/tool:2" is not known: '
        "this executor runs host commands and pulls no images, so give the container a "
        f'command, or map the image to a host command in {images}, e.g. "acme/tool:2": '
        "{entrypoint: [my-command]}")


def test_a_mapping_with_nothing_to_run(images: Path) -> None:
    write_images(images, "empty:1: {env: {A: b}}\n")
    with pytest.raises(NodeError) as info:
        argv_of(container(image="empty:1"))
    assert str(info.value) == (f'image "empty:1" has neither entrypoint nor cmd in {images}, '
                               "and the container gives no command")


def test_image_env_lies_under_the_container_env(images: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASE_DIR", "/opt/base")
    write_images(images, """
        img:1: {entrypoint: [x], env: {TOOLS: "$BASE_DIR/tools", MODE: image}}
    """)
    env = env_of(container(image="img:1", env=[{"name": "MODE", "value": "container"}]))
    assert env == {"TOOLS": "/opt/base/tools", "MODE": "container"}
    assert env_of(container(image="other", env=[{"name": "A", "value": "1"}])) == {"A": "1"}


# ---- end to end, through `argosy run` ---------------------------------------------------------


def run_workflow(home: Path, tmp_path: Path, manifest: str) -> tuple[CliResult, dict]:
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(manifest))
    env = {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli("run", str(path), "-o", "json", home=home, env=env)
    return result, (json.loads(result.stdout) if result.stdout.strip() else {})


def test_args_run_through_the_mapped_entrypoint(argosy_home: Path, tmp_path: Path) -> None:
    write_images(argosy_home / "images.yaml",
                 "argoproj/argosay:v2: {entrypoint: [argosay]}\n")
    result, wf = run_workflow(argosy_home, tmp_path, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: say}
        spec:
          entrypoint: main
          templates:
            - name: main
              container:
                image: argoproj/argosay:v2
                args: [echo, hello from args]
    """)
    assert result.code == 0, result.stderr
    assert wf["status"]["nodes"]["say"]["outputs"]["result"] == "hello from args"


def test_missing_mapping_errors_the_node(argosy_home: Path, tmp_path: Path) -> None:
    result, wf = run_workflow(argosy_home, tmp_path, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: unmapped}
        spec:
          entrypoint: main
          templates:
            - name: main
              container: {image: "acme/tool:2", args: [run]}
    """)
    assert result.code == 1
    node = wf["status"]["nodes"]["unmapped"]
    assert node["phase"] == "Error"
    assert node["message"].startswith('container has no command and the entrypoint of image '
                                      '"acme/tool:2" is not known')
    assert f"map the image to a host command in {argosy_home / 'images.yaml'}" in \
        node["message"]


# ---- the argosay stand-in ---------------------------------------------------------------------


def argosay(*args: str, cwd: Path | None = None, program: Path = ARGOSAY,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program), *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin, timeout=30)


def test_argosay_without_arguments_says_hello() -> None:
    assert argosay().stdout == "hello argo\n"
    assert argosay("").stdout == "hello argo\n"
    assert argosay("echo").stdout == "hello argo\n"


def test_argosay_echo_prints_or_writes_a_file(tmp_path: Path) -> None:
    done = argosay("echo", "hi there")
    assert (done.returncode, done.stdout) == (0, "hi there\n")
    target = tmp_path / "deep" / "dir" / "out"
    done = argosay("echo", "to a file", str(target))
    assert (done.returncode, done.stdout) == (0, "")
    assert target.read_text() == "to a file\n"
    assert argosay("echo", "a", "b", "c").returncode == 1


def test_argosay_echo_interprets_escapes_as_the_image_shell_does() -> None:
    assert argosay("echo", r"a\tb\nc").stdout == "a\tb\nc\n"
    assert argosay("echo", r"no newline\c ignored").stdout == "no newline"
    assert argosay("echo", r"octal \0101").stdout == "octal A\n"
    assert argosay("echo", "back\\").stdout == "back\\\n"


def test_argosay_cat_and_assert_contains(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("one hello\ntwo\nthree hello\n")
    assert argosay("cat", str(f)).stdout == "one hello\ntwo\nthree hello\n"
    missing = argosay("cat", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert missing.stderr == f"cat: {tmp_path / 'nope'}: No such file or directory\n"
    found = argosay("assert_contains", str(f), "hello")
    assert (found.returncode, found.stdout) == (0, "one hello\nthree hello\n")
    assert argosay("assert_contains", str(f), "absent").returncode == 1
    assert argosay("assert_contains", str(tmp_path / "nope"), "x").returncode == 2


def test_argosay_exit_sleep_sh_and_unknown(tmp_path: Path) -> None:
    assert argosay("exit").returncode == 0
    assert argosay("exit", "3").returncode == 3
    assert argosay("exit", "257").returncode == 1
    assert argosay("exit", "x").returncode == 2
    assert argosay("sleep", "0").returncode == 0
    assert argosay("sleep", "0.01s").returncode == 0
    assert argosay("sleep", "soon").returncode == 1
    script = tmp_path / "s.sh"
    script.write_text("echo from sh; exit 4\n")
    done = argosay("sh", str(script))
    assert (done.returncode, done.stdout) == (4, "from sh\n")
    assert argosay("dance").returncode == 1


def test_argosay_as_cowsay(tmp_path: Path) -> None:
    cowsay = tmp_path / "cowsay"
    cowsay.symlink_to(ARGOSAY)
    assert argosay("hello", program=cowsay).stdout == textwrap.dedent(r"""
         _______
        < hello >
         -------
                \   ^__^
                 \  (oo)\_______
                    (__)\       )\/\
                        ||----w |
                        ||     ||
        """).lstrip("\n")
    wrapped = argosay("one two three four five six seven eight nine ten", "eleven",
                      program=cowsay).stdout.splitlines()
    assert wrapped[:4] == [
        " " + "_" * 41,
        "/ one two three four five six seven eight \\",
        "\\ nine ten eleven                         /",
        " " + "-" * 41,
    ]
