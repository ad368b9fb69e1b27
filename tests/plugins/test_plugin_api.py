"""The plugin API as a third-party author meets it: claims, broken hooks, functions, config.

Plugins are installed as pip would leave them (see ``test_registry.install_plugins``) and driven
through the real ``argosy`` command, or registered in-process on a fresh registry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import types
from pathlib import Path
from typing import Any

import pytest

from argosy.engine.run import Engine
from argosy.plugin import Outcome, TemplateType, hookimpl
from argosy.registry import Registry
from argosy.store import Store
from tests.plugins.test_registry import install_plugins, table_rows

SQL_A = ("sql_a", """
    from argosy.plugin import Outcome, TemplateType, hookimpl

    async def run(ctx):
        return Outcome(result="a")

    @hookimpl
    def argosy_template_types():
        return [TemplateType("sql", "Plugin", run)]
""")
SQL_B = ("sql_b", SQL_A[1].replace('"a"', '"b"'))


def workflow(template: dict[str, Any], name: str = "wf") -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", **template}]}}


def write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_two_distributions_claiming_one_template_key_are_both_left_out(cli, tmp_path) -> None:
    install_plugins(tmp_path / "site", {"sql-a": SQL_A}, distribution="sql-alpha")
    env = install_plugins(tmp_path / "site", {"sql-b": SQL_B}, distribution="sql-beta")
    result = cli("plugins", env=env)
    assert result.code == 1
    rows = table_rows(result.stdout)
    assert ("error: left out: template type 'sql' is also claimed by plugin 'sql-b' "
            "(distribution sql-beta 1.0)") in rows["sql-a"]
    assert ("error: left out: template type 'sql' is also claimed by plugin 'sql-a' "
            "(distribution sql-alpha 1.0)") in rows["sql-b"]
    # Neither wins, whatever the order: a workflow using the key is rejected.
    run = cli("run", write(tmp_path, workflow({"sql": {}})), env=env)
    assert run.code == 2
    assert "spec.templates[0]" in run.stderr and "sql" in run.stderr


def test_a_plugin_cannot_take_a_built_in_template_key(cli, tmp_path) -> None:
    env = install_plugins(tmp_path / "site", {"mine": ("mine", SQL_A[1].replace(
        '"sql", "Plugin"', '"container", "Pod"'))}, distribution="my-containers")
    result = cli("plugins", env=env)
    assert result.code == 1
    rows = table_rows(result.stdout)
    assert ("error: left out: template type 'container' is also claimed by plugin 'container' "
            "(distribution argosy") in rows["mine"]
    assert rows["container"].split()[-1] == "ok"


FUNCTIONS = """
    from argosy.plugin import hookimpl

    @hookimpl
    def argosy_expression_functions():
        return {NAME: lambda s: s.upper()}
"""


def test_expression_function_clashes_are_start_up_errors(cli, tmp_path) -> None:
    install_plugins(tmp_path / "site", {
        "shout-1": ("shout_1", FUNCTIONS.replace("NAME", "'shout'")),
        "shout-2": ("shout_2", FUNCTIONS.replace("NAME", "'shout'"))}, distribution="shouts")
    env = install_plugins(tmp_path / "site", {
        "as-int": ("as_int", FUNCTIONS.replace("NAME", "'asInt'"))}, distribution="ints")
    result = cli("plugins", env=env)
    assert result.code == 1
    rows = table_rows(result.stdout)
    assert ("error: left out: expression function 'shout' is also claimed by plugin 'shout-2' "
            "(distribution shouts 1.0)") in rows["shout-1"]
    assert "is also claimed by plugin 'shout-1'" in rows["shout-2"]
    assert ("error: left out: expression function 'asInt' is built in (Argo's); a plugin "
            "cannot override it") in rows["as-int"]
    assert "warning: plugin 'as-int': left out: expression function 'asInt'" in result.stderr
    # Argo's asInt is still the one expressions call.
    doc = workflow({"container": {"image": "x", "command": ["echo", "{{=asInt('7') + 1}}"]}})
    run = cli("run", write(tmp_path, doc), "-o", "json", env=env)
    assert run.code == 0, run.stderr
    node = next(iter(run.json()["status"]["nodes"].values()))
    assert node["outputs"]["result"] == "8"


def test_a_plugin_whose_hook_fails_is_left_out_entirely(cli, tmp_path) -> None:
    """Its observer, which works, is not called: the plugin is not half-loaded."""
    seen = tmp_path / "seen"
    env = install_plugins(tmp_path / "site", {"half": ("half", f"""
        from argosy.plugin import hookimpl

        @hookimpl
        def argosy_expression_functions():
            raise RuntimeError("no functions today")

        @hookimpl
        def argosy_node_event(workflow_name, namespace, node):
            with open({str(seen)!r}, "a") as f:
                f.write(node["id"] + "\\n")
    """)})
    result = cli("plugins", env=env)
    assert result.code == 1
    rows = table_rows(result.stdout)
    assert "error: hook argosy_expression_functions raised RuntimeError: no functions today" \
        in rows["half"]
    doc = workflow({"container": {"image": "x", "command": ["true"]}})
    run = cli("run", write(tmp_path, doc), "-o", "json", env=env)
    assert run.code == 0, run.stderr
    assert not seen.exists()


def test_plugins_shows_the_hooks_each_plugin_implements(cli, tmp_path) -> None:
    env = install_plugins(tmp_path / "site", {"two": ("two_hooks", FUNCTIONS.replace(
        "NAME", "'shout'") + """
    @hookimpl
    def argosy_workflow_event(event, workflow):
        pass
    """)}, distribution="two-hooks")
    result = cli("plugins", env=env)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("two "))
    assert lines[first].split()[-3:] == ["shout", "expression_functions", "ok"]
    assert lines[first + 1].split() == ["workflow_event"]
    assert "function" in lines[first]


# ---- in-process: functions and configuration ----------------------------------------------


def run_in_process(tmp_path: Path, plugin: object, doc: dict[str, Any]) -> dict[str, Any]:
    """Record ``doc`` as it is (no lint: what a store could hold) and run it to its end."""
    registry = Registry()
    registry.register(plugin, "under-test")
    assert registry.plugins["under-test"].error is None, registry.problems
    store = Store(tmp_path / "home")
    record = store.create_workflow(doc)
    asyncio.run(Engine(store, registry).run(record.uid))
    return next(iter(store.nodes(record.uid).values()))


def functions_plugin(**functions: Any) -> object:
    @hookimpl
    def argosy_expression_functions() -> dict[str, Any]:
        return functions

    return types.SimpleNamespace(argosy_expression_functions=argosy_expression_functions)


def echo(text: str) -> dict[str, Any]:
    return {"container": {"image": "x", "command": ["echo", text]}}


def test_an_unknown_expression_function_errors_the_node_naming_it(tmp_path) -> None:
    node = run_in_process(tmp_path, functions_plugin(), workflow(echo("{{= nosuch(1) }}")))
    assert node["phase"] == "Error"
    assert "unknown func nosuch" in node["message"]


def test_a_raising_plugin_function_errors_the_node_naming_it(tmp_path) -> None:
    def explode(value: Any) -> str:
        raise ValueError(f"cannot explode {value}")

    node = run_in_process(tmp_path, functions_plugin(explode=explode),
                          workflow(echo("{{= explode('x') }}")))
    assert node["phase"] == "Error"
    assert "explode: cannot explode x" in node["message"]


def test_a_plugin_function_is_called(tmp_path) -> None:
    node = run_in_process(tmp_path, functions_plugin(shout=str.upper),
                          workflow(echo("{{= shout('hi') }}")))
    assert node["phase"] == "Succeeded", node
    assert node["outputs"]["result"] == "HI"


def config_plugin() -> object:
    async def run(ctx: Any) -> Outcome:
        return Outcome(result=json.dumps(ctx.config, sort_keys=True))

    @hookimpl
    def argosy_template_types() -> list[TemplateType]:
        return [TemplateType("greet", "Plugin", run)]

    return types.SimpleNamespace(argosy_template_types=argosy_template_types)


def test_a_plugin_reads_its_own_section_of_the_config_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARGOSY_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.yaml").write_text(
        "plugins:\n  under-test: {greeting: hello, times: 2}\n  other: {greeting: no}\n")
    node = run_in_process(tmp_path, config_plugin(), workflow({"greet": {}}))
    assert node["outputs"]["result"] == '{"greeting": "hello", "times": 2}'


def test_no_config_file_is_an_empty_section(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARGOSY_HOME", str(tmp_path / "home"))
    node = run_in_process(tmp_path, config_plugin(), workflow({"greet": {}}))
    assert node["outputs"]["result"] == "{}"


@pytest.mark.parametrize(("text", "fault"), [
    ("plugins: [a, b]\n", "plugins: must map each plugin's name to a mapping of its settings"),
    ("store: [sqlite]\n", "store: must be the name of one (e.g. sqlite)"),
    ("store: nosuch\n", "store 'nosuch' is not provided by any plugin (loaded: sqlite)"),
    ("executor: [local]\n", "executor: must be the name of one (e.g. local)"),
    ("plugins: {a: 1\n", "cannot read the configuration: "),
])
def test_a_bad_config_file_is_named_with_its_fault(cli, argosy_home, text, fault) -> None:
    argosy_home.mkdir(parents=True)
    (argosy_home / "config.yaml").write_text(text)
    result = cli("list")
    assert result.code == 2
    assert f"{argosy_home / 'config.yaml'}: {fault}" in result.stderr


def test_config_chooses_the_executor(cli, argosy_home, tmp_path) -> None:
    argosy_home.mkdir(parents=True)
    (argosy_home / "config.yaml").write_text("executor: nosuch\n")
    result = cli("run", write(tmp_path, workflow(echo("hi"))))
    assert result.code == 2
    assert (f"{argosy_home / 'config.yaml'}: executor 'nosuch' is not provided by any plugin "
            "(loaded: ") in result.stderr
    assert "local" in result.stderr.rsplit("(loaded: ", 1)[1]
    (argosy_home / "config.yaml").write_text("executor: local\n")
    assert cli("run", write(tmp_path, workflow(echo("hi")))).code == 0


# ---- remote submit: the server's plugins decide ---------------------------------------------

GREET = ("greet_plugin", """
    from argosy.plugin import ArgoModel, Fault, Outcome, TemplateType, hookimpl

    class Greet(ArgoModel):
        name: str

    def validate(body, path):
        return [Fault(path + ".name", "must not be empty")] if not body.name else []

    async def run(ctx):
        return Outcome(result="hello " + ctx.body.name)

    @hookimpl
    def argosy_template_types():
        return [TemplateType("greet", "Plugin", run, body=Greet, validate=validate)]
""")

GREET_WF = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: NAME}
spec:
  entrypoint: main
  templates:
  - name: main
    greet:
      name: WHO
"""


def test_remote_submit_is_linted_by_the_servers_plugins(cli, tmp_path, monkeypatch) -> None:
    """The client lacks the plugin the server has: the server's lint decides, and its faults
    are placed in the client's file."""
    from tests.server.rest_harness import start_server

    env = install_plugins(tmp_path / "site", {"greet": GREET}, distribution="argosy-greet")
    with monkeypatch.context() as server_env:
        server_env.setenv("PYTHONPATH", env["PYTHONPATH"])
        server = start_server(tmp_path / "server-home")
    try:
        remote = ("--server", server.url, "--token", server.token or "")
        good = tmp_path / "good.yaml"
        good.write_text(GREET_WF.replace("NAME", "greet-good").replace("WHO", "world"))
        result = cli("submit", str(good), "--wait", *remote)
        assert result.code == 0, result.stderr
        result = cli("get", "greet-good", "-o", "json", *remote)
        node = next(iter(result.json()["status"]["nodes"].values()))
        assert node["outputs"]["result"] == "hello world"
        bad = tmp_path / "bad.yaml"
        bad.write_text(GREET_WF.replace("NAME", "greet-bad").replace("WHO", "''"))
        result = cli("submit", str(bad), *remote)
        assert result.code == 2
        assert f"{bad}:9:" in result.stderr
        assert "spec.templates[0].greet.name: must not be empty" in result.stderr
        # Locally, without the plugin, the same file is rejected as it should be.
        local = cli("lint", str(good))
        assert local.code == 2 and "greet" in local.stdout
    finally:
        server.stop()


# ---- what a third-party type can do, end to end --------------------------------------------

FANOUT = ("fanout_plugin", """
    import asyncio

    from argosy.plugin import ArgoModel, Outcome, TemplateType, hookimpl

    class Fanout(ArgoModel):
        template: str
        count: int

    async def run(ctx):
        slots = ctx.child_slots() or asyncio.Semaphore(ctx.body.count)

        async def one(i):
            async with slots:
                return await ctx.run_child(f"{ctx.node.name}.part-{i}", ctx.body.template,
                                           display_name=f"part-{i}")

        children = await asyncio.gather(*(one(i) for i in range(ctx.body.count)))
        failed = [c.display_name for c in children if c.phase != "Succeeded"]
        if failed:
            return Outcome("Failed", "failed: " + ", ".join(failed))
        return Outcome(log="ran " + str(len(children)) + " parts\\n")

    @hookimpl
    def argosy_template_types():
        return [TemplateType("fanout", "Steps", run, body=Fanout, leaf=False)]
""")

FANOUT_WF = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: fanout}
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    fanout: {template: part, count: 3}
  - name: part
    script:
      image: python
      command: [sh]
      source: |
        echo "part {{pod.name}}"
"""


def test_a_third_party_composite_type_with_parallelism(cli, tmp_path) -> None:
    env = install_plugins(tmp_path / "site", {"fanout": FANOUT}, distribution="argosy-fanout")
    wf_file = tmp_path / "fanout.yaml"
    wf_file.write_text(FANOUT_WF)
    assert cli("lint", str(wf_file), env=env).code == 0
    result = cli("run", str(wf_file), "-o", "json", env=env)
    assert result.code == 0, result.stderr
    nodes = {n["displayName"]: n for n in result.json()["status"]["nodes"].values()}
    assert nodes["fanout"]["type"] == "Steps"
    parts = sorted((nodes[f"part-{i}"] for i in range(3)), key=lambda n: n["startedAt"])
    assert [n["phase"] for n in parts] == ["Succeeded"] * 3
    # parallelism 1: each part started once the one before it had finished.
    for before, after in itertools.pairwise(parts):
        assert after["startedAt"] >= before["finishedAt"]
    # Its log, and its children's, are where argosy logs looks.
    logs = cli("logs", "fanout", env=env)
    assert logs.code == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert "fanout: ran 3 parts" in lines
    pods = [line.split(": ")[0] for line in lines if line.startswith("fanout-part-")]
    assert len(set(pods)) == 3
    assert all(f"{pod}: part {pod}" in lines for pod in pods)


def test_the_first_implementations_have_every_member_of_their_protocols(tmp_path) -> None:
    """The SQLite store and the local executor are what the Store and Executor protocols say."""
    import inspect

    from argosy import plugin
    from argosy.registry import Registry

    registry = Registry()
    implementations = [(plugin.Store, registry.stores["sqlite"].open(tmp_path)),
                       (plugin.Executor, registry.executors["local"])]
    for protocol, implementation in implementations:
        members = [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
        assert members
        for name in members:
            expected = list(inspect.signature(getattr(protocol, name)).parameters)[1:]
            actual = list(inspect.signature(getattr(implementation, name)).parameters)
            assert actual[:len(expected)] == expected, (protocol.__name__, name)
        for name in protocol.__annotations__:
            assert hasattr(implementation, name), (protocol.__name__, name)
