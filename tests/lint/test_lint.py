"""``lint``: each fault Argo's validator knows, found in small manifests, with its path."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path
from typing import Any

import pytest

from argosy.errors import ExpressionError, Fault
from argosy.registry import default_registry
from argosy.spec.lint import lint, lint_documents
from argosy.spec.loader import load_documents, load_file

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "argo-examples"

HEADER = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: t-
"""
ECHO = """\
  - name: echo
    inputs:
      parameters: [{name: msg}]
    container:
      image: busybox
      args: ["{{inputs.parameters.msg}}"]
"""


def run(spec: str, header: str = HEADER, plugins: bool = False) -> list[Fault]:
    """Lint ``header`` + ``spec`` (YAML text, dedented) as one file; with ``plugins``, with the
    installed template types' own checks, as argosy does."""
    [doc] = load_documents(header + textwrap.dedent(spec), "wf.yaml")
    types = default_registry().validators() if plugins else None
    return lint(doc.data, file=doc.file, locate=doc.locate, template_types=types)


def workflow(templates: str, extra: str = "", entrypoint: str = "main",
             plugins: bool = False) -> list[Fault]:
    """A Workflow with these templates (YAML list items indented by two spaces)."""
    spec = f"spec:\n  entrypoint: {entrypoint}\n{textwrap.indent(textwrap.dedent(extra), '  ')}"
    return run(spec + "  templates:\n" + templates, plugins=plugins)


def find(faults: list[Fault], path: str, fragment: str) -> Fault:
    matches = [f for f in faults if f.path == path and fragment in f.message]
    assert matches, f"no fault at {path} containing {fragment!r}; got:\n" + "\n".join(
        map(str, faults)
    )
    return matches[0]


def only(faults: list[Fault], path: str, fragment: str) -> Fault:
    assert len(faults) == 1, "\n".join(map(str, faults))
    return find(faults, path, fragment)


# --- clean manifests ---------------------------------------------------------------------------


def test_hello_world_is_clean() -> None:
    assert workflow("  - name: main\n    container: {image: busybox}\n") == []


def test_steps_dag_loops_and_outputs_are_clean() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - name: gen
          template: gen
      - - name: each
          template: echo
          arguments:
            parameters: [{name: msg, value: "{{item.a}} {{steps.gen.outputs.result}}"}]
          withItems: [{a: 1}, {a: 2}]
        - name: seq
          template: echo
          arguments: {parameters: [{name: msg, value: "{{item}} {{=sprig.trim(x)}}"}]}
          withSequence: {count: "3"}
      - - name: graph
          template: graph
  - name: gen
    script: {image: python, source: "print(1)"}
  - name: graph
    dag:
      tasks:
        - {name: a, template: gen}
        - name: b
          template: echo
          depends: a.Succeeded || a.Failed
          arguments: {parameters: [{name: msg, value: "{{tasks.a.outputs.result}}"}]}
        - name: c
          template: echo
          depends: b
          arguments: {parameters: [{name: msg, value: "{{tasks.a.status}} {{workflow.name}}"}]}
          when: "{{tasks.b.status}} == Succeeded"
"""
        + ECHO,
    )
    assert faults == []


# --- document level ----------------------------------------------------------------------------


def test_not_a_workflow() -> None:
    header = "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: x}\n"
    faults = run("spec: {}\n", header)
    only(faults, "kind", 'not a Workflow: kind is "WorkflowTemplate"')


def test_unknown_api_version() -> None:
    header = HEADER.replace("v1alpha1", "v2")
    faults = run("spec:\n  entrypoint: main\n  templates: [{name: main, suspend: {}}]\n", header)
    fault = only(faults, "apiVersion", 'unknown apiVersion "argoproj.io/v2"')
    assert (fault.file, fault.line, fault.column) == ("wf.yaml", 1, 1)


def test_missing_name_and_generate_name() -> None:
    header = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {labels: {a: b}}\n"
    faults = run("spec:\n  entrypoint: main\n  templates: [{name: main, suspend: {}}]\n", header)
    only(faults, "metadata", "metadata.name or metadata.generateName is required")


def test_missing_spec() -> None:
    only(run(""), "spec", "spec is required")


def test_missing_entrypoint() -> None:
    faults = run("spec:\n  templates: [{name: main, suspend: {}}]\n")
    fault = only(faults, "spec.entrypoint", "spec.entrypoint is required")
    assert fault.line == 5  # a missing field points at the mapping that should hold it


def test_unknown_entrypoint() -> None:
    faults = workflow("  - {name: main, suspend: {}}\n", entrypoint="mian")
    only(faults, "spec.entrypoint", 'unknown template "mian"')


def test_unknown_on_exit() -> None:
    faults = workflow("  - {name: main, suspend: {}}\n", extra="onExit: bye\n")
    only(faults, "spec.onExit", 'unknown template "bye"')


# --- templates ---------------------------------------------------------------------------------


def test_template_name_missing_invalid_too_long_and_duplicate() -> None:
    long = "a" * 129
    faults = workflow(
        f"""\
  - {{name: main, suspend: {{}}}}
  - {{suspend: {{}}}}
  - {{name: bad_name, suspend: {{}}}}
  - {{name: {long}, suspend: {{}}}}
  - {{name: main, suspend: {{}}}}
"""
    )
    find(faults, "spec.templates[1].name", "template name is required")
    find(faults, "spec.templates[2].name", 'invalid template name "bad_name"')
    find(faults, "spec.templates[3].name", "longer than 128 characters")
    find(faults, "spec.templates[4].name", 'duplicate template name "main"')
    assert len(faults) == 4


def test_template_without_type() -> None:
    faults = workflow("  - name: main\n    inputs: {}\n")
    only(faults, "spec.templates[0]", 'template "main" has no type')


def test_template_with_two_types() -> None:
    faults = workflow(
        "  - name: main\n    container: {image: a}\n    script: {image: a, source: x}\n"
    )
    only(faults, "spec.templates[0]", 'template "main" has both "container" and "script"')


def test_script_needs_image_but_not_source() -> None:
    # Argo runs a script without source as a container: its command and args.
    faults = workflow("  - name: main\n    script: {command: [python], args: [-V]}\n", plugins=True)
    only(faults, "spec.templates[0].script.image", "image is required")
    templates = "  - name: main\n    script: {image: python, command: [python], args: [-V]}\n"
    assert workflow(templates, plugins=True) == []


def test_container_needs_image_unless_template_defaults_give_one() -> None:
    templates = "  - name: main\n    container: {args: [x]}\n"
    only(workflow(templates, plugins=True), "spec.templates[0].container.image",
         "image is required")
    defaults = "templateDefaults:\n  container: {image: busybox}\n"
    assert workflow(templates, extra=defaults, plugins=True) == []
    # A plugin's validator sees the body with the defaults under it, as the engine runs it.
    text = f"spec:\n  entrypoint: main\n  {defaults.replace(chr(10), chr(10) + '  ')}" \
        f"templates:\n{templates}"
    [doc] = load_documents(HEADER + text, "wf.yaml")
    validators = default_registry().validators()
    assert lint(doc.data, template_types=validators) == []


def test_unknown_third_party_type_and_custom_validators() -> None:
    text = HEADER + textwrap.dedent(
        """\
        spec:
          entrypoint: main
          templates:
            - name: main
              http: {url: ""}
            - name: other
              container: {image: busybox}
        """
    )
    [doc] = load_documents(text, "wf.yaml")
    faults = lint(doc.data, file=doc.file, locate=doc.locate)
    assert faults == []  # http is a built-in type key

    def check_http(body: Any, path: str) -> list[Fault]:
        return [Fault(f"{path}.url", "url is required")] if not body.get("url") else []

    types = {"container": lambda body, path: [], "http": check_http}
    fault = only(lint(doc.data, locate=doc.locate, file="wf.yaml", template_types=types),
                 "spec.templates[0].http.url", "url is required")  # fmt: skip
    assert (fault.file, fault.line) == ("wf.yaml", 9)
    faults = lint(doc.data, template_types={"container": lambda body, path: []})
    only(faults, "spec.templates[0].http", 'template type "http" is not supported')


# --- steps -------------------------------------------------------------------------------------


def test_steps_must_be_a_list_of_lists() -> None:
    faults = workflow("  - name: main\n    steps:\n      - {name: a, template: main}\n")
    only(faults, "spec.templates[0].steps[0]", "steps must be a list of lists")


def test_steps_type_error() -> None:
    faults = workflow("  - name: main\n    steps: {a: 1}\n")
    only(faults, "spec.templates[0].steps", "steps must be a list, not a mapping")


def test_step_name_and_duplicates() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - {template: leaf}
        - {name: a, template: leaf}
      - - {name: a, template: leaf}
  - {name: leaf, suspend: {}}
"""
    )
    find(faults, "spec.templates[0].steps[0][0].name", "step name is required")
    find(faults, "spec.templates[0].steps[1][0].name", 'duplicate step name "a"')
    assert len(faults) == 2


def test_step_needs_exactly_one_of_template_inline_template_ref() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - {name: a}
        - name: b
          template: leaf
          inline: {suspend: {}}
        - name: c
          templateRef: {name: wt, template: t}
  - {name: leaf, suspend: {}}
"""
    )
    find(faults, "spec.templates[0].steps[0][0]", 'step "a" needs one of template, inline')
    find(faults, "spec.templates[0].steps[0][1]", 'step "b" has both "template" and "inline"')
    # A templateRef is checked where it is resolved (tests/lint/test_refs.py).
    assert len(faults) == 2


def test_unknown_template_in_step() -> None:
    faults = workflow("  - name: main\n    steps: [[{name: a, template: whalesay}]]\n")
    fault = only(faults, "spec.templates[0].steps[0][0].template", 'unknown template "whalesay"')
    assert str(fault).startswith("wf.yaml:9:")
    assert 'spec.templates[0].steps[0][0].template: unknown template "whalesay"' in str(fault)


def test_inline_template_is_linted() -> None:
    faults = workflow("  - name: main\n    steps: [[{name: a, inline: {container: {}}}]]\n",
                      plugins=True)
    only(faults, "spec.templates[0].steps[0][0].inline.container.image", "image is required")


def test_only_one_loop_kind() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - {name: a, template: leaf, withItems: [1], withParam: "[1]"}
  - {name: leaf, suspend: {}}
"""
    )
    only(faults, "spec.templates[0].steps[0][0]", "only one of withItems, withParam and")


@pytest.mark.parametrize(
    ("sequence", "message"),
    [("{count: 2, end: 3}", "count or end, not both"), ("{start: 1}", "needs count or end")],
)
def test_with_sequence_count_and_end(sequence: str, message: str) -> None:
    faults = workflow(
        f"""\
  - name: main
    steps:
      - - {{name: a, template: leaf, withSequence: {sequence}}}
  - {{name: leaf, suspend: {{}}}}
"""
    )
    only(faults, "spec.templates[0].steps[0][0].withSequence", message)


def test_missing_input_argument() -> None:
    faults = workflow("  - name: main\n    steps: [[{name: a, template: echo}]]\n" + ECHO)
    only(faults, "spec.templates[0].steps[0][0]", 'template "echo" needs input parameter "msg"')


# --- dag ---------------------------------------------------------------------------------------


def dag(tasks: str) -> list[Fault]:
    body = textwrap.indent(textwrap.dedent(tasks), " " * 8)
    leaf = "  - {name: leaf, suspend: {}}\n"
    return workflow(f"  - name: main\n    dag:\n      tasks:\n{body}" + leaf)


def test_duplicate_task_names() -> None:
    faults = dag("- {name: a, template: leaf}\n- {name: a, template: leaf}\n")
    only(faults, "spec.templates[0].dag.tasks[1].name", 'duplicate task name "a"')


def test_unknown_task_in_dependencies_and_depends() -> None:
    faults = dag(
        """\
- {name: a, template: leaf, dependencies: [x]}
- {name: b, template: leaf}
"""
    )
    only(faults, "spec.templates[0].dag.tasks[0].dependencies[0]", 'unknown task "x"')
    faults = dag(
        "- {name: a, template: leaf, depends: b.Succeeded && y}\n- {name: b, template: leaf}\n"
    )
    only(faults, "spec.templates[0].dag.tasks[0].depends", 'unknown task "y"')


def test_depends_with_dependencies() -> None:
    faults = dag(
        """\
- {name: a, template: leaf}
- {name: b, template: leaf, depends: a, dependencies: [a]}
"""
    )
    only(faults, "spec.templates[0].dag.tasks[1]", 'task "b" has both depends and dependencies')


def test_invalid_task_result() -> None:
    faults = dag("- {name: a, template: leaf}\n- {name: b, template: leaf, depends: a.Sucess}\n")
    only(faults, "spec.templates[0].dag.tasks[1].depends", 'unknown task result "Sucess"')


def test_depends_that_does_not_parse() -> None:
    expr = pytest.importorskip("argosy.expr", reason="argosy.expr is not installed yet")
    if not hasattr(expr, "parse_depends"):
        pytest.skip("argosy.expr.parse_depends is not available yet")
    faults = dag("- {name: a, template: leaf}\n- {name: b, template: leaf, depends: 'a &&'}\n")
    find(faults, "spec.templates[0].dag.tasks[1].depends", "invalid depends expression")


def test_dependency_cycle_is_named() -> None:
    faults = dag(
        """\
- {name: A, template: leaf, dependencies: [B]}
- {name: B, template: leaf, dependencies: [C]}
- {name: C, template: leaf, dependencies: [A]}
- {name: D, template: leaf, dependencies: [D]}
"""
    )
    find(faults, "spec.templates[0].dag.tasks[0]", "dependency cycle: A -> B -> C -> A")
    find(faults, "spec.templates[0].dag.tasks[3]", "dependency cycle: D -> D")
    assert len(faults) == 2


def test_unknown_target() -> None:
    body = "    dag:\n      target: a zz\n      tasks: [{name: a, template: leaf}]\n"
    faults = workflow(f"  - name: main\n{body}  - {{name: leaf, suspend: {{}}}}\n")
    only(faults, "spec.templates[0].dag.target", 'unknown target task "zz"')


# --- variables ---------------------------------------------------------------------------------


def test_undeclared_input_parameter() -> None:
    faults = workflow(
        """\
  - name: main
    inputs: {parameters: [{name: msg, value: hi}]}
    container: {image: busybox, args: ["{{inputs.parameters.mgs}}"]}
"""
    )
    message = 'cannot resolve {{inputs.parameters.mgs}}: template "main" has no input parameter'
    only(faults, "spec.templates[0].container.args[0]", message + ' "mgs"')


def test_all_inputs_parameters_of_a_template_without_inputs() -> None:
    # Argo substitutes `null` (Hera's runner scripts pass it whether or not there are inputs).
    templates = "  - name: main\n    container: {image: busybox, args: ['{{inputs.parameters}}']}\n"
    assert workflow(templates) == []


def test_numbers_and_booleans_in_string_fields_are_text() -> None:
    templates = "  - name: main\n    container: {image: alpine, command: [exit], args: [1, true]}\n"
    [doc] = load_documents(HEADER + f"spec:\n  entrypoint: main\n  templates:\n{templates}", "w")
    assert lint(doc.data, template_types=default_registry().validators()) == []


@pytest.mark.parametrize("strict", [True, False])
def test_misspelt_value_from_source_is_named_not_missing(strict: bool) -> None:
    templates = """\
  - name: main
    steps: [[{name: a, template: leaf}]]
    outputs:
      parameters: [{name: o, valueFrom: {Parameter: "{{steps.a.outputs.result}}"}}]
  - name: leaf
    container: {image: busybox}
"""
    [doc] = load_documents(HEADER + f"spec:\n  entrypoint: main\n  templates:\n{templates}", "w")
    faults = lint(doc.data, strict=strict)
    path = "spec.templates[0].outputs.parameters[0].valueFrom.Parameter"
    only(faults, path, 'unknown field; did you mean "parameter"?')


def test_undeclared_workflow_parameter() -> None:
    faults = workflow(
        "  - name: main\n    container: {image: busybox, args: ['{{workflow.parameters.x}}']}\n",
        extra="arguments: {parameters: [{name: z, value: '1'}]}\n",
    )
    only(faults, "spec.templates[0].container.args[0]", 'no workflow parameter "x"')


def test_step_arguments_referencing_undeclared_workflow_parameter() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - name: a
          template: echo
          arguments: {parameters: [{name: msg, value: "{{workflow.parameters.nope}}"}]}
"""
        + ECHO
    )
    only(faults, "spec.templates[0].steps[0][0].arguments.parameters[0].value",
         "cannot resolve {{workflow.parameters.nope}}")  # fmt: skip


def test_steps_reference_only_earlier_steps() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - name: a
          template: echo
          arguments: {parameters: [{name: msg, value: "{{steps.b.outputs.result}}"}]}
      - - name: b
          template: echo
          arguments: {parameters: [{name: msg, value: "{{steps.zz.id}}"}]}
"""
        + ECHO
    )
    path = "spec.templates[0].steps[{}][0].arguments.parameters[0].value"
    find(faults, path.format(0), 'step "b" does not run before this step')
    find(faults, path.format(1), 'no step "zz" in template "main"')
    assert len(faults) == 2


def test_item_only_inside_a_loop() -> None:
    faults = workflow(
        """\
  - name: main
    steps:
      - - name: a
          template: echo
          arguments: {parameters: [{name: msg, value: "{{item}}"}]}
"""
        + ECHO
    )
    only(faults, "spec.templates[0].steps[0][0].arguments.parameters[0].value", "not inside a loop")


def test_task_status_needs_a_dependency_and_pod_name_a_pod() -> None:
    faults = dag(
        """\
- {name: a, template: leaf}
- {name: b, template: leaf, when: "{{tasks.a.status}} == Succeeded {{pod.name}}"}
"""
    )
    find(faults, "spec.templates[0].dag.tasks[1].when", 'task "a" is not a dependency')
    find(faults, "spec.templates[0].dag.tasks[1].when", "{{pod.name}}")
    assert len(faults) == 2


def test_expression_tags_are_not_checked() -> None:
    faults = workflow(
        "  - name: main\n    container: {image: a, args: ['{{=inputs.parameters.nope}}']}\n"
    )
    assert faults == []


# --- parameters and types ----------------------------------------------------------------------


def test_parameter_without_name() -> None:
    faults = workflow(
        "  - {name: main, suspend: {}}\n", extra="arguments: {parameters: [{value: x}]}\n"
    )
    only(faults, "spec.arguments.parameters[0].name", "parameter name is required")


def test_enum_value_and_default_must_be_in_enum() -> None:
    faults = workflow(
        """\
  - name: main
    inputs:
      parameters: [{name: p, default: blue, enum: [red, green]}]
    suspend: {}
""",
        extra="arguments: {parameters: [{name: c, value: mauve, enum: [red]}]}\n",
    )
    find(faults, "spec.arguments.parameters[0].value", 'value "mauve" of parameter "c"')
    find(faults, "spec.templates[0].inputs.parameters[0].default", 'default "blue"')
    assert len(faults) == 2


def test_type_errors_name_the_field() -> None:
    faults = workflow("  - {name: main, suspend: {}}\n", extra="parallelism: x\n")
    fault = only(faults, "spec.parallelism", 'parallelism must be an integer, not string "x"')
    assert (fault.line, fault.column) == (7, 3)


def test_workflow_retry_strategy_fields_are_typed() -> None:
    faults = workflow("  - {name: main, suspend: {}}\n", extra="retryStrategy: {expression: [1]}\n")
    only(faults, "spec.retryStrategy.expression", "expression must be a string, not a list")


# --- many faults, ordering and positions -------------------------------------------------------


def test_every_fault_is_reported_in_document_order() -> None:
    text = HEADER.replace("v1alpha1", "v9") + textwrap.dedent(
        """\
        spec:
          entrypoint: nope
          templates:
            - name: main
              steps: [[{name: a, template: missing}]]
            - name: leaf
              script: {source: "print(1)"}
        """
    )
    faults = lint_documents(load_documents(text, "many.yaml"),
                            template_types=default_registry().validators())
    assert [(f.path, f.line) for f in faults] == [
        ("apiVersion", 1),
        ("spec.entrypoint", 6),
        ("spec.templates[0].steps[0][0].template", 9),
        ("spec.templates[1].script.image", 11),
    ]
    assert all(f.file == "many.yaml" for f in faults)


# --- Argo's own examples -----------------------------------------------------------------------


def class_a_examples() -> list[str]:
    if not (EXAMPLES / "CLASSES.tsv").is_file():
        return []
    with (EXAMPLES / "CLASSES.tsv").open() as table:
        return [row["file"] for row in csv.DictReader(table, delimiter="\t") if row["class"] == "a"]


@pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason=f"Argo example corpus not present at {EXAMPLES}"
)
def test_class_a_examples_exist() -> None:
    assert len(class_a_examples()) > 50


@pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason=f"Argo example corpus not present at {EXAMPLES}"
)
@pytest.mark.parametrize("name", class_a_examples() or ["(none)"])
def test_argo_class_a_example_lints_clean(name: str) -> None:
    faults = lint_documents(load_file(EXAMPLES / name))
    assert faults == [], "\n".join(map(str, faults))


def test_depends_syntax_errors_come_from_the_expression_engine(monkeypatch) -> None:
    import argosy.expr

    def parse_depends(text: str) -> None:
        if text.endswith("&&"):
            raise ExpressionError("expected a task after '&&'")

    monkeypatch.setattr(argosy.expr, "parse_depends", parse_depends, raising=False)
    faults = dag("- {name: a, template: leaf}\n- {name: b, template: leaf, depends: 'a &&'}\n")
    only(faults, "spec.templates[0].dag.tasks[1].depends",
         "invalid depends expression: expected a task after '&&'")  # fmt: skip


def test_yaml_boolean_words_as_names_are_reported() -> None:
    # `n` is YAML 1.1's false, as in Argo's parser: the name is a boolean, not text.
    faults = workflow(
        "  - name: main\n    container: {image: busybox, args: ['{{workflow.parameters.z}}']}\n",
        extra="arguments: {parameters: [{name: n, value: '1'}, {name: z, value: '2'}]}\n",
    )
    only(faults, "spec.arguments.parameters[0].name", "not boolean false (unquoted")


# --- metadata as Kubernetes types it ------------------------------------------------------------


def test_labels_and_annotations_are_string_maps() -> None:
    faults = run("metadata:\n  name: typed\n  namespace: default\n"
                 "  labels: {num: 1, ok: 'yes', flag: true, map: {a: b}, q: '1'}\n"
                 "  annotations: {l: [x]}\n"
                 "spec: {entrypoint: main, templates: [{name: main, container: {image: a}}]}\n",
                 header="apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n")
    assert sorted(f.path for f in faults) == [
        "metadata.annotations.l", "metadata.labels.flag", "metadata.labels.map",
        "metadata.labels.num"]
    assert "num must be a string, not number 1" in find(faults, "metadata.labels.num", "").message


def test_names_are_strings() -> None:
    faults = run("metadata: {name: 123, generateName: 4.5, namespace: 7}\n"
                 "spec: {entrypoint: main, templates: [{name: main, container: {image: a}}]}\n",
                 header="apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n")
    assert sorted(f.path for f in faults) == [
        "metadata.generateName", "metadata.name", "metadata.namespace"], faults
    assert "name must be a string, not number 123" in find(faults, "metadata.name", "").message


@pytest.mark.parametrize("namespace", ["Team", "a_b", "a.b", "-a", "a-", "x" * 64])
def test_namespace_is_an_rfc1123_label(namespace: str) -> None:
    faults = run(f"  namespace: '{namespace}'\n"
                 "spec: {entrypoint: main, templates: [{name: main, container: {image: a}}]}\n")
    only(faults, "metadata.namespace", "invalid namespace")


def test_valid_namespaces_pass() -> None:
    for namespace in ("default", "team-a", "a", "9" * 63):
        assert run(f"  namespace: '{namespace}'\n" "spec: {entrypoint: main, templates: "
                   "[{name: main, container: {image: a}}]}\n") == []


# --- what plugins tell lint ---------------------------------------------------------------------


def plugin_types(**extra: Any) -> dict[str, Any]:
    """The installed types' checks, with ``extra`` ones: as argosy lints with a plugin."""
    from argosy.registry import TypeCheck

    checks = {key: TypeCheck(lambda body, path: [], leaf, node_type)
              for key, (leaf, node_type) in extra.items()}
    return {**default_registry().validators(), **checks}


def linted(templates: str, types: dict[str, Any]) -> list[Fault]:
    [doc] = load_documents(HEADER + "spec:\n  entrypoint: main\n  templates:\n" + templates,
                           "wf.yaml")
    return lint(doc.data, file=doc.file, locate=doc.locate, template_types=types)


def test_parallelism_and_fail_fast_belong_to_composite_types_of_any_plugin() -> None:
    types = plugin_types(fanout=(False, "DAG"), sql=(True, "Plugin"))
    assert linted("  - name: main\n    parallelism: 2\n    failFast: true\n    fanout: {}\n",
                  types) == []
    faults = linted("  - name: main\n    parallelism: 2\n    failFast: true\n    sql: {}\n", types)
    assert [(f.path, f.message) for f in faults] == [
        ("spec.templates[0].parallelism",
         "parallelism is only valid for steps, dag and fanout templates"),
        ("spec.templates[0].failFast",
         "failFast is only valid for steps, dag and fanout templates"),
    ]
    # Built-ins alone: Argo's words.
    only(workflow("  - name: main\n    parallelism: 2\n    suspend: {}\n", plugins=True),
         "spec.templates[0].parallelism", "parallelism is only valid for steps and dag templates")


def test_pod_name_follows_the_node_type_not_the_key() -> None:
    types = plugin_types(job=(True, "Pod"), sql=(True, "Plugin"))
    uses = "    inputs: {parameters: [{name: p, value: '{{pod.name}}'}]}\n"
    assert linted(f"  - name: main\n{uses}    job: {{}}\n", types) == []
    fault = only(linted(f"  - name: main\n{uses}    sql: {{}}\n", types),
                 "spec.templates[0].inputs.parameters[0].value", "pod name")
    assert fault.line == 9


@pytest.mark.parametrize("key", ["http", "plugin", "sql"])
def test_a_type_no_plugin_provides_gets_one_message(key: str) -> None:
    fault = only(workflow(f"  - name: main\n    {key}: {{url: x}}\n", plugins=True),
                 f"spec.templates[0].{key}", f'template type "{key}" is not supported here: '
                 "no installed plugin provides it (installed: container, containerSet, dag, ")
    assert fault.line == 9


def test_expression_tags_call_only_functions_that_exist() -> None:
    text = HEADER + textwrap.dedent("""\
        spec:
          entrypoint: main
          templates:
            - name: main
              container:
                image: busybox
                args: ["{{= asInt('1') + shout('x') }}", "{{= nosuch(1) + sprig.trim(' a ') }}"]
        """)
    [doc] = load_documents(text, "wf.yaml")
    faults = lint(doc.data, file=doc.file, locate=doc.locate, functions={"shout"})
    fault = only(faults, "spec.templates[0].container.args[1]",
                 'unknown function "nosuch" in {{= nosuch(1) + sprig.trim(\' a \') }}')
    assert fault.line == 11
    assert [f.message for f in lint(doc.data, functions=set())] == [
        "unknown function \"shout\" in {{= asInt('1') + shout('x') }}",
        "unknown function \"nosuch\" in {{= nosuch(1) + sprig.trim(' a ') }}"]
    assert lint(doc.data) == []  # the plugins' functions unknown: not checked
