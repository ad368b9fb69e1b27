"""Strict lint, as ``argo lint --strict``: a field Argo's schema does not know is a fault."""

from __future__ import annotations

import csv
import os
import textwrap
from pathlib import Path

import pytest

from argosy.errors import Fault
from argosy.registry import default_registry
from argosy.spec.lint import lint, lint_documents
from argosy.spec.loader import load_documents, load_file
from tests.conftest import ARGO_EXAMPLES, run_cli
from tests.lint.schema import SCHEMA, TABLE, field_table, load_schema, table_text

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: t-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: a
        template: leaf
  - name: leaf
    container: {image: busybox, command: [echo], args: [hi]}
"""


def faults(text: str, **options) -> list[str]:
    [doc] = load_documents(textwrap.dedent(text), "wf.yaml")
    found: list[Fault] = lint(doc.data, file=doc.file, locate=doc.locate, **options)
    return [f"{f.path}: {f.message}" for f in found]


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"Argo's schema is not present at {SCHEMA}")
def test_shipped_field_table_is_derived_from_argos_schema() -> None:
    expected = table_text(field_table(load_schema()))
    if os.environ.get("ARGOSY_UPDATE_FIELDS"):
        TABLE.write_text(expected)
    assert TABLE.read_text() == expected, "run ARGOSY_UPDATE_FIELDS=1 pytest " + __file__


def test_a_clean_workflow_has_no_faults() -> None:
    assert faults(WORKFLOW) == []


def test_misspelled_fields_are_faults_with_a_hint() -> None:
    text = WORKFLOW.replace("  entrypoint: main\n", "  entrypoint: main\n  paralelism: 2\n")
    text = text.replace("template: leaf\n", "template: leaf\n        whenn: 'true'\n"
                        "        withItem: [1]\n")
    assert faults(text) == [
        'spec.paralelism: unknown field; did you mean "parallelism"?',
        'spec.templates[0].steps[0][0].whenn: unknown field; did you mean "when"?',
        'spec.templates[0].steps[0][0].withItem: unknown field; did you mean "withItems"?',
    ]


def test_field_names_are_case_sensitive() -> None:
    text = WORKFLOW.replace("args: [hi]", "Args: [hi]").replace("generateName", "GenerateName")
    assert faults(text) == [
        "metadata: metadata.name or metadata.generateName is required",
        'metadata.GenerateName: unknown field; did you mean "generateName"?',
        'spec.templates[1].container.Args: unknown field; did you mean "args"?',
    ]


def test_unknown_fields_are_found_at_any_depth_and_without_a_close_match() -> None:
    text = WORKFLOW.replace("template: leaf\n", "template: leaf\n        arguments:\n"
                            "          parameters: [{name: x, value: '1', colour: red}]\n")
    text = text.replace("    container:", "    bogus: 1\n    container:")
    assert faults(text) == [
        "spec.templates[0].steps[0][0].arguments.parameters[0].colour: unknown field",
        "spec.templates[1].bogus: unknown field (nor a template type of an installed plugin)",
    ]


def test_map_values_and_inline_templates_are_checked() -> None:
    text = WORKFLOW.replace("  entrypoint: main\n", "  entrypoint: main\n  hooks:\n"
                            "    exit: {template: leaf, argument: {}}\n")
    text = text.replace("template: leaf\n", "inline: {container: {image: b, comand: [x]}}\n")
    assert faults(text) == [
        'spec.hooks.exit.argument: unknown field; did you mean "arguments"?',
        'spec.templates[0].steps[0][0].inline.container.comand: unknown field; did you mean '
        '"command"?',
    ]


def test_a_plugins_template_type_is_a_known_field() -> None:
    text = WORKFLOW.replace("    container: {image: busybox, command: [echo], args: [hi]}\n",
                            "    notebook: {path: nb.ipynb}\n")
    types = {"container": lambda body, path: [], "steps": None, "notebook": lambda b, p: []}
    assert faults(text, template_types=types) == []


def test_legacy_synchronization_fields_are_known() -> None:
    text = WORKFLOW.replace("  entrypoint: main\n", "  entrypoint: main\n  synchronization:\n"
                            "    mutex: {name: m}\n")
    assert faults(text) == []


def test_strict_false_allows_unknown_fields_but_not_unsupported_ones() -> None:
    text = WORKFLOW.replace("    container:", "    hostAliases: [{ip: 10.0.0.1}]\n    colour: red\n"
                            "    container:")
    assert faults(text, strict=False) == [
        "spec.templates[1].hostAliases: hostAliases is not supported here: steps resolve names "
        "through the host's /etc/hosts"]


def test_cli_lint_is_strict_unless_told_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW.replace("template: leaf\n", "template: leaf\n        whenn: 'x'\n"))
    home = tmp_path / "home"
    for flags in ((), ("--strict",), ("--strict=true",)):
        result = run_cli("lint", "-o", "simple", *flags, str(path), home=home)
        assert result.code == 2, flags
        assert 'whenn: unknown field; did you mean "when"?' in result.stdout
    for flags in (("--strict=false",), ("--no-strict",)):
        result = run_cli("lint", "-o", "simple", *flags, str(path), home=home)
        assert (result.code, result.stdout) == (0, "no linting errors found!\n"), flags


# Argo examples whose manifest is broken upstream (Argo rejects them too).
BROKEN_UPSTREAM = {
    "fun-with-gifs.yaml": "generateName is indented under metadata.labels",
    "k8s-jobs.yaml": "generateName is indented under metadata.labels",
}


def argo_workflow_examples() -> list[str]:
    table = ARGO_EXAMPLES / "CLASSES.tsv"
    if not table.is_file():
        return []
    with table.open() as f:
        return [row["file"] for row in csv.DictReader(f, delimiter="\t")
                if row["kinds"] == "Workflow" and row["file"] not in BROKEN_UPSTREAM]


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason=f"no Argo examples at {ARGO_EXAMPLES}")
def test_argo_examples_lint_clean_or_say_what_is_not_supported() -> None:
    names = argo_workflow_examples()
    assert len(names) > 150
    validators = default_registry().validators()
    for name in names:
        found = lint_documents(load_file(ARGO_EXAMPLES / name), template_types=validators)
        other = [str(f) for f in found if "not supported" not in f.message]
        assert not other, "\n".join(other)


def test_volume_sources_the_local_executor_cannot_mount_are_rejected_by_name() -> None:
    text = WORKFLOW.replace("  entrypoint: main\n", "  entrypoint: main\n  volumes:\n"
                            "  - {name: ok, emptyDir: {}}\n  - {name: cm, configMap: {name: c}}\n"
                            "  - {name: n, nfs: {server: s, path: /x}}\n")
    found = faults(text)
    assert len(found) == 1
    assert found[0].startswith("spec.volumes[2].nfs: nfs is not supported by the local executor:")


def test_volume_claim_gc_strategy_is_one_of_argos() -> None:
    text = WORKFLOW.replace("  entrypoint: main\n", "  entrypoint: main\n"
                            "  volumeClaimGC: {strategy: OnSuccess}\n")
    assert faults(text) == ['spec.volumeClaimGC.strategy: strategy must be "OnWorkflowCompletion"'
                            ' or "OnWorkflowSuccess", not string "OnSuccess"']
    assert faults(text.replace("OnSuccess", "OnWorkflowCompletion")) == []
