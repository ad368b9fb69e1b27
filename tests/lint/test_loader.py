"""Loading manifests: documents, source positions, YAML quirks and errors."""

from __future__ import annotations

import textwrap

import pytest

from argosy.errors import InvalidWorkflow
from argosy.spec.loader import check_value, load_documents, load_file, load_workflow

HELLO = textwrap.dedent(
    """\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata:
      generateName: hello-
    spec:
      entrypoint: main
      templates:
        - name: main
          container:
            image: busybox
            args: ["hello"]
    """
)
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"


def test_single_document_is_plain_data() -> None:
    [doc] = load_documents(HELLO, "hello.yaml")
    assert doc.file == "hello.yaml"
    assert type(doc.data) is dict
    assert doc.data["spec"]["templates"][0]["container"]["args"] == ["hello"]


def test_locate_maps_paths_to_line_and_column() -> None:
    [doc] = load_documents(HELLO)
    assert doc.locate("spec") == (5, 1)
    assert doc.locate("spec.templates[0]") == (8, 7)
    assert doc.locate("spec.templates[0].container.image") == (10, 9)
    assert doc.locate("spec.templates[0].container.args[0]") == (11, 16)


def test_locate_falls_back_to_the_nearest_ancestor() -> None:
    [doc] = load_documents(HELLO)
    assert doc.locate("spec.onExit") == (5, 1)
    assert doc.locate("spec.templates[0].script.source") == (8, 7)


def test_multiple_documents_and_empty_ones_skipped() -> None:
    docs = load_documents(HELLO + "---\n---\n" + CONFIGMAP)
    assert [d.data["kind"] for d in docs] == ["Workflow", "ConfigMap"]
    assert docs[1].locate("data.a") == (17, 8)  # lines count from the top of the file


def test_json_is_accepted() -> None:
    [doc] = load_documents('{"kind": "Workflow", "spec": {"entrypoint": "main"}}')
    assert doc.data == {"kind": "Workflow", "spec": {"entrypoint": "main"}}


def test_syntax_error_has_line_and_column() -> None:
    text = "kind: Workflow\nspec:\n  entrypoint: main\n   templates: []\n"
    with pytest.raises(InvalidWorkflow) as info:
        load_documents(text, "bad.yaml")
    [fault] = info.value.faults
    assert fault.message.startswith("YAML syntax error: ")
    assert (fault.file, fault.line, fault.column) == ("bad.yaml", 4, 13)
    assert str(fault).startswith("bad.yaml:4:13: YAML syntax error")


def test_unclosed_flow_sequence_is_a_syntax_error() -> None:
    with pytest.raises(InvalidWorkflow) as info:
        load_documents("a: [1, 2\nb: 3\n")
    assert info.value.faults[0].line == 2


def test_scalars_resolve_as_go_yaml_v2_does() -> None:
    [doc] = load_documents(
        "a: yes\nb: 'yes'\nc: y\nd: N\ne: off\nf: 2024-01-02\ng: 1:30\nh: 1e3\ni: =\nj: 0x1F\n"
    )
    assert doc.data == {
        "a": True,
        "b": "yes",
        "c": True,
        "d": False,
        "e": False,
        "f": "2024-01-02",
        "g": "1:30",
        "h": 1000.0,
        "i": "=",
        "j": 31,
    }


def test_mapping_keys_become_strings_as_in_json() -> None:
    [doc] = load_documents("1: a\ntrue: b\n~: c\n")
    assert doc.data == {"1": "a", "true": "b", "null": "c"}


def test_merge_keys_and_anchors() -> None:
    [doc] = load_documents("base: &b {image: busybox}\nc:\n  <<: *b\n  args: [x]\n")
    assert doc.data["c"] == {"image": "busybox", "args": ["x"]}


def test_load_file_missing_is_a_clear_error(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidWorkflow) as info:
        load_file(missing)
    assert info.value.faults[0].file == str(missing)
    assert "no such file" in str(info.value)


def test_load_file_reads_and_names_the_file(tmp_path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    [doc] = load_file(path)
    assert doc.file == str(path)
    assert doc.data["metadata"]["generateName"] == "hello-"


def test_load_workflow_accepts_path_text_and_dict(tmp_path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(CONFIGMAP + "---\n" + HELLO)
    from_path = load_workflow(str(path))
    assert from_path["kind"] == "Workflow"
    assert load_workflow(path) == from_path
    assert load_workflow(HELLO) == from_path
    assert load_workflow(from_path) == from_path


def test_load_workflow_needs_exactly_one_workflow() -> None:
    with pytest.raises(InvalidWorkflow, match="no Workflow found"):
        load_workflow(CONFIGMAP)
    with pytest.raises(InvalidWorkflow, match="expected one Workflow, found 2"):
        load_workflow(HELLO + "---\n" + HELLO)


# ---- hostile text: refused before anything walks it -------------------------------------------

BOMB = "".join([
    "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: bomb}\n",
    "spec:\n  entrypoint: main\n  arguments:\n    parameters:\n",
    '    - {name: a, value: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]}\n',
    *(f"    - {{name: {b}, value: &{b} [{','.join([f'*{a}'] * 9)}]}}\n"
      for a, b in zip("abcdefgh", "bcdefghi", strict=True)),
    "  templates:\n  - name: main\n    container: {image: busybox, command: [echo, *i]}\n"])


@pytest.mark.parametrize("verb", ["lint", "run"])
def test_alias_bomb_is_refused_by_the_cli(tmp_path, verb: str) -> None:
    """A billion laughs expands to 10^9 values: refused from the node graph, not expanded.
    (Before: minutes and gigabytes; the child's address space is capped so that a regression
    fails here instead of swapping.)"""
    import os
    import resource
    import subprocess
    import sys

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = dict(os.environ, ARGOSY_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-m", "argosy.cli", verb, str(path)], env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=cap)
    assert "YAML aliases expand to 926177169 values" in proc.stderr + proc.stdout
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    if (tmp_path / "home" / "argosy.db").exists():
        from argosy.store import Store

        assert Store(tmp_path / "home").list(None) == []


def test_aliases_within_the_bound_still_load() -> None:
    [doc] = load_documents("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n")
    assert doc.data["b"] == [[1, 2, 3]] * 3


def test_an_alias_into_its_own_node_is_refused() -> None:
    with pytest.raises(InvalidWorkflow, match=r":1:4: an alias refers to a node that contains"):
        load_documents("a: &a [*a]\n", "loop.yaml")


@pytest.mark.parametrize("depth", [101, 500, 999])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(InvalidWorkflow, match="nested more than 100 levels deep"):
        load_documents("a: " + "[" * depth + "]" * depth)


def test_nesting_up_to_the_bound_loads() -> None:
    [doc] = load_documents("[" * 100 + "]" * 100)
    assert isinstance(doc.data, list)


@pytest.mark.parametrize(("value", "path"), [({"a": ["ok", "\udfff"]}, "a[1]"),
                                           ({"a": {"\ud800": 1}}, "a")])
def test_lone_surrogates_are_refused(value: dict, path: str) -> None:
    # YAML's parser refuses them in text already; parsed JSON and Python dicts may hold them.
    with pytest.raises(InvalidWorkflow, match="lone UTF-16 surrogate") as info:
        check_value(value)
    assert info.value.faults[0].path == path
