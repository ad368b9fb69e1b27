"""Broken plugins are reported by name and never take the others down.

Each test installs plugins the way pip would leave them, without pip: a ``*.dist-info`` with an
``entry_points.txt`` in a directory on ``PYTHONPATH``, which ``importlib.metadata`` finds like any
installed distribution. Everything runs through the real ``argosy`` command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from argosy import __version__
from tests.conftest import REPO

PLUGINS = {
    # An entry point whose module cannot be imported.
    "bad-import": ("bad_import", "import argosy_no_such_module_xyz\n"),
    # A providing hook that raises.
    "raises": ("raises_plugin", """
        from argosy.plugin import hookimpl

        @hookimpl
        def argosy_template_types():
            raise RuntimeError("boom at start")
    """),
    # A providing hook that returns garbage.
    "garbage": ("garbage_plugin", """
        from argosy.plugin import hookimpl

        @hookimpl
        def argosy_template_types():
            return "not a list"

        @hookimpl
        def argosy_executors():
            return [object()]
    """),
    # A hook name no spec declares.
    "typo": ("typo_plugin", """
        from argosy.plugin import hookimpl

        @hookimpl
        def argosy_template_type():
            return []
    """),
    # A hook whose arguments do not match its spec.
    "bad-signature": ("signature_plugin", """
        from argosy.plugin import hookimpl

        @hookimpl
        def argosy_node_event(workflow_name, colour):
            pass
    """),
    # An observer that raises on every event.
    "noisy-observer": ("observer_plugin", """
        from argosy.plugin import hookimpl

        @hookimpl
        def argosy_node_event(workflow_name, namespace, node):
            raise RuntimeError("observer bug")
    """),
    # A template type whose run raises something argosy does not expect.
    "crashing": ("crashing_plugin", """
        from argosy.plugin import TemplateType, hookimpl

        async def run(ctx):
            raise ValueError("kaboom")

        @hookimpl
        def argosy_template_types():
            return [TemplateType("crash", "Pod", run)]
    """),
}

EXPECTED_STATUS = {
    "bad-import": "failed to load: ModuleNotFoundError: No module named "
                  "'argosy_no_such_module_xyz'",
    "raises": "hook argosy_template_types raised RuntimeError: boom at start",
    "garbage": "hook argosy_template_types returned 'not a list', not a list",
    "typo": "implements unknown hook(s) argosy_template_type",
    "bad-signature": "failed to load: PluginValidationError:",
}


def install_plugins(root: Path, plugins: dict[str, tuple[str, str]],
                    distribution: str = "broken-plugins") -> dict[str, str]:
    """Write the modules and a dist-info declaring them; return the env that makes them found."""
    dist = root / f"{distribution.replace('-', '_')}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    lines = ["[argosy]"]
    for name, (module, source) in plugins.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{name} = {module}")
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    # A wide console, so that the plugins table is not truncated.
    return {"PYTHONPATH": str(root), "COLUMNS": "500"}


@pytest.fixture
def broken_env(tmp_path: Path) -> dict[str, str]:
    return install_plugins(tmp_path / "site", PLUGINS)


def table_rows(stdout: str) -> dict[str, str]:
    return {line.split()[0]: line for line in stdout.splitlines()[1:] if line.strip()}


def test_plugins_lists_each_broken_plugin_with_its_fault(cli, broken_env) -> None:
    result = cli("plugins", env=broken_env)
    assert result.code == 1, result.stderr
    rows = table_rows(result.stdout)
    for name, status in EXPECTED_STATUS.items():
        assert f"error: {status}" in rows[name], rows[name]
        assert "broken-plugins 1.0" in rows[name]
    assert "not an executor" not in rows["garbage"]  # left out at its first fault
    for builtin, provides in [("container", "container"), ("dag", "dag"), ("local", "local")]:
        assert rows[builtin].split()[-1] == "ok"
        assert provides in rows[builtin]
    assert rows["crashing"].split()[-1] == "ok"
    assert " crash " in rows["crashing"]


def test_every_problem_is_a_warning_on_stderr_naming_the_plugin(cli, broken_env) -> None:
    result = cli("plugins", env=broken_env)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    for name, status in EXPECTED_STATUS.items():
        assert any(w.startswith(f"warning: plugin {name!r}") and status in w
                   for w in warnings), (name, warnings)
    # Left out at its first fault: its other hooks are not called at all.
    assert not any("hook argosy_executors" in w for w in warnings)
    assert any("plugin 'bad-import' (bad_import): failed to load" in w for w in warnings)
    # Reported once each, not once per use.
    assert len(warnings) == len(set(warnings))


def test_builtins_still_run_workflows(cli, broken_env) -> None:
    result = cli("run", str(REPO / "examples" / "hello-world.yaml"), "-o", "json", env=broken_env)
    assert result.code == 0, result.stderr
    wf = result.json()
    assert wf["status"]["phase"] == "Succeeded"
    assert "warning: plugin 'bad-import'" in result.stderr
    # The raising observer saw every node, was logged once, and changed nothing.
    assert result.stderr.count("observer argosy_node_event raised") == 1


CRASH_WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: crash-and-continue}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: crash, template: crash, continueOn: {error: true}}
      - {name: fine, template: fine}
  - name: crash
    crash: {}
  - name: fine
    container: {image: busybox, command: [echo, fine]}
"""


def test_a_crashing_template_type_errors_its_node_only(cli, broken_env, tmp_path) -> None:
    wf_file = tmp_path / "wf.yaml"
    wf_file.write_text(CRASH_WF)
    result = cli("run", str(wf_file), "-o", "json", env=broken_env)
    assert result.code == 0, result.stderr
    nodes = {n["displayName"]: n for n in result.json()["status"]["nodes"].values()}
    assert nodes["crash"]["phase"] == "Error"
    assert nodes["crash"]["message"] == (
        "template type 'crash' (plugin 'crashing') failed: ValueError: kaboom")
    assert nodes["fine"]["phase"] == "Succeeded"
    assert nodes["fine"]["outputs"]["result"] == "fine"


def test_lint_reports_a_crashing_validator_as_a_fault(cli, tmp_path) -> None:
    env = install_plugins(tmp_path / "site", {"strict": ("strict_plugin", """
        from argosy.plugin import TemplateType, hookimpl

        def validate(body, path):
            raise KeyError("oops")

        async def run(ctx):
            raise AssertionError("never run")

        @hookimpl
        def argosy_template_types():
            return [TemplateType("strict", "Pod", run, validate=validate)]
    """)})
    wf_file = tmp_path / "wf.yaml"
    wf_file.write_text(json.dumps({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "strict"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "strict": {}}]}}))
    result = cli("lint", "-o", "simple", str(wf_file), env=env)
    assert result.code == 2
    assert ("spec.templates[0].strict: the 'strict' template type's validation failed: "
            "KeyError: 'oops'") in result.stdout


def test_two_plugins_claiming_one_name(cli, tmp_path) -> None:
    """A second distribution reusing an entry-point name is reported, the first one kept."""
    first = install_plugins(tmp_path / "a", {"dag": ("shadow_dag", "")})
    result = cli("plugins", env=first)
    rows = table_rows(result.stdout)
    assert rows["dag"].split()[-1] == "ok"
    assert rows["dag"].split()[:4] == ["dag", "argosy.plugins.dag", "argosy", __version__]
    assert "warning: plugin 'dag' (shadow_dag) is ignored: the name is taken by " \
           "argosy.plugins.dag" in result.stderr


def test_each_distributions_metadata_is_read_once(monkeypatch: pytest.MonkeyPatch,
                                                  argosy_home: Path) -> None:
    """Parsing a distribution's metadata costs a millisecond: argosy's fifteen plugins share
    one distribution, whose metadata is read once, not two or three times per plugin (a new
    home: nothing is cached)."""
    import importlib.metadata

    from argosy.registry import Registry

    reads: list[str] = []
    read_text = importlib.metadata.PathDistribution.read_text

    def counting(self: importlib.metadata.PathDistribution, filename: str) -> str | None:
        text = read_text(self, filename)
        # An egg-info has no METADATA: its PKG-INFO is read after trying that.
        if filename in ("METADATA", "PKG-INFO") and text is not None:
            reads.append(str(self._path))
        return text

    monkeypatch.setattr(importlib.metadata.PathDistribution, "read_text", counting)
    registry = Registry()
    assert registry.plugins["container"].distribution == "argosy"
    assert registry.plugins["container"].version == __version__
    assert reads and len(reads) == len(set(reads))


LATER = ("later_plugin", """
    from argosy.plugin import TemplateType, hookimpl

    async def run(ctx):
        raise NotImplementedError

    @hookimpl
    def argosy_template_types():
        return [TemplateType("later", "Pod", run)]
""")


def settled(path: Path) -> None:
    """Make ``path`` look unchanged for a while, as an environment is between installs."""
    os.utime(path, ns=(time.time_ns() - 60 * 10**9,) * 2)


def test_a_start_on_an_unchanged_sys_path_reads_no_distribution(
        monkeypatch: pytest.MonkeyPatch, argosy_home: Path, tmp_path: Path) -> None:
    import importlib.metadata

    from argosy.registry import Registry

    argosy_home.mkdir()
    site = tmp_path / "site"
    install_plugins(site, {"later": LATER})
    settled(site)
    monkeypatch.syspath_prepend(str(site))
    first = Registry()
    assert list(argosy_home.glob("cache/entry-points-*.json"))

    def scan(**_: object) -> None:
        raise AssertionError("the distributions were read again")

    monkeypatch.setattr(importlib.metadata, "entry_points", scan)
    again = Registry()
    assert again.plugins.keys() == first.plugins.keys() and "later" in again.plugins
    assert again.plugins["later"].origin == "distribution broken-plugins 1.0"
    assert again.plugins["container"].origin == f"distribution argosy {__version__}"
    assert "later" in again.template_types
    os.utime(site)  # what an install does to the directory: now it is read again
    with pytest.raises(AssertionError, match="read again"):
        Registry()


def test_installing_or_removing_a_plugin_is_seen_by_the_next_start(cli, argosy_home,
                                                                    tmp_path) -> None:
    """The check above can fail: the cache is dropped when a distribution comes or goes."""
    argosy_home.mkdir()
    site = tmp_path / "site"
    env = install_plugins(site, {"first": LATER}, distribution="first-plugin")
    settled(site)
    assert "first" in table_rows(cli("plugins", env=env).stdout)
    assert list(argosy_home.glob("cache/entry-points-*.json"))  # made by that start

    install_plugins(site, {"second": ("second_plugin", "")}, distribution="second-plugin")
    rows = table_rows(cli("plugins", env=env).stdout)
    assert "first" in rows and "second" in rows
    settled(site)
    assert "second" in table_rows(cli("plugins", env=env).stdout)

    shutil.rmtree(site / "second_plugin-1.0.dist-info")
    rows = table_rows(cli("plugins", env=env).stdout)
    assert "first" in rows and "second" not in rows


def test_a_module_plugins_hooks_are_found_by_their_marker(cli, tmp_path) -> None:
    """pluggy is handed a module's marked functions only: one implementing a hook under another
    name (``specname``) is one of them, and a module's other functions are not hooks."""
    env = install_plugins(tmp_path / "site", {"renamed": ("renamed_plugin", """
        from argosy.plugin import TemplateType, hookimpl

        async def run(ctx):
            raise NotImplementedError

        def argosy_executors():  # not marked: not a hook
            raise AssertionError("called")

        @hookimpl(specname="argosy_template_types")
        def types_of_this_plugin():
            return [TemplateType("renamed", "Pod", run)]
    """)}, distribution="renamed-plugin")
    result = cli("plugins", env=env)
    assert result.code == 0, result.stderr
    row = table_rows(result.stdout)["renamed"]
    assert row.split()[-1] == "ok" and " renamed " in row


#: In a fresh process: the registry loads, then a model is built; prints the entry-point groups
#: read from the distributions meanwhile, and whether a pydantic plugin saw the model.
PYDANTIC_PROBE = """
import importlib.metadata, json, sys
scanned = []
scan = importlib.metadata.entry_points
def counting(**params):
    scanned.append(params.get("group"))
    return scan(**params)
importlib.metadata.entry_points = counting
from argosy.registry import Registry
import pydantic
Registry()
class Probe(pydantic.BaseModel):
    x: int = 0
Probe(x=1)
print(json.dumps([scanned, "seen_models" in sys.modules and sys.modules["seen_models"].SEEN]))
"""

PYDANTIC_PLUGIN = """
SEEN = []

class Plugin:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        SEEN.append(schema_type.__name__)
        return None, None, None

plugin = Plugin()
"""


def probe_pydantic(home: Path, site: Path) -> tuple[list[str], list[str] | bool]:
    env = dict(os.environ, ARGOSY_HOME=str(home), PYTHONPATH=str(site))
    proc = subprocess.run([sys.executable, "-c", PYDANTIC_PROBE], env=env, capture_output=True,
                          text=True, check=True)
    scanned, seen = json.loads(proc.stdout)
    return scanned, seen


def test_pydantic_is_told_it_has_no_plugins_from_the_cache(argosy_home: Path,
                                                            tmp_path: Path) -> None:
    """pydantic reads every distribution for its own plugins when a process builds its first
    model: with the cache saying there are none, the second start reads nothing."""
    argosy_home.mkdir()
    site = tmp_path / "site"
    site.mkdir()
    settled(site)
    first, _ = probe_pydantic(argosy_home, site)
    assert "pydantic" in first  # found out once, by argosy, and cached
    again, seen = probe_pydantic(argosy_home, site)
    assert again == [] and seen is False


def test_an_installed_pydantic_plugin_still_sees_every_model(argosy_home: Path,
                                                             tmp_path: Path) -> None:
    argosy_home.mkdir()
    site = tmp_path / "site"
    dist = site / "seen_models-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: seen-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nseen = seen_models:plugin\n")
    (site / "seen_models.py").write_text(PYDANTIC_PLUGIN)
    settled(site)
    for _ in range(2):  # without the cache, then with it
        _, seen = probe_pydantic(argosy_home, site)
        assert isinstance(seen, list) and "Probe" in seen


#: In a fresh process: a registry, then what a one-node container run looks up; prints which
#: plugin modules were imported at each point.
CLAIMS_PROBE = """
import json, sys
from argosy.registry import Registry
def imported():
    return sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("argosy.plugins."))
registry = Registry()
at_start = imported()
table = {name: [info.template_types, info.executors, info.hooks, info.error]
         for name, info in registry.plugins.items()}
assert "resource" in registry.template_types and "podman" in registry.executors
validators = registry.validators()
validators["container"]({"image": "busybox"}, "spec.templates[0].container")
registry.executors["local"]
used = imported()
steps = registry.template_types["steps"]
print(json.dumps([at_start, used, imported(), table, steps.key, registry.problems]))
"""


def probe_claims(home: Path, site: Path | None = None) -> list:
    env = dict(os.environ, ARGOSY_HOME=str(home))
    if site is not None:
        env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", CLAIMS_PROBE], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_start_with_saved_claims_imports_only_the_plugins_used(argosy_home: Path) -> None:
    argosy_home.mkdir()
    first = probe_claims(argosy_home)
    assert {"resource", "steps", "dag", "script"} <= set(first[0])  # all loaded, then saved
    assert list(argosy_home.glob("cache/claims-*.json"))
    at_start, used, later, table, key, problems = probe_claims(argosy_home)
    # Observers hear every event from the start: the kubernetes plugin's workflow_event.
    assert "kubernetes" in at_start and not {"resource", "steps", "local"} & set(at_start)
    assert {"container", "local"} <= set(used) and not {"resource", "steps"} & set(used)
    assert "steps" in later and key == "steps"
    assert table == first[3] and problems == []  # `argosy plugins` says the same


def test_a_plugin_changed_since_its_claims_were_saved_is_loaded_again(
        argosy_home: Path, tmp_path: Path) -> None:
    argosy_home.mkdir()
    site = tmp_path / "site"
    install_plugins(site, {"later": LATER})
    settled(site)
    assert probe_claims(argosy_home, site)[3]["later"][0] == ["later"]
    module = site / "later_plugin.py"
    module.write_text(module.read_text().replace('"later"', '"sooner"'))
    assert probe_claims(argosy_home, site)[3]["later"][0] == ["sooner"]


@pytest.mark.parametrize(("source", "error"), [
    ("import argosy_no_such_module_xyz\n", "failed to load: ModuleNotFoundError"),
    (textwrap.dedent(PLUGINS["typo"][1]), EXPECTED_STATUS["typo"]),
], ids=["import fails", "unknown hook"])
def test_a_plugin_failing_when_first_used_is_reported_and_its_names_go(
        argosy_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
        error: str) -> None:
    """Its module breaks without its file changing (a dependency went): the start trusts the
    claims, and the first lookup of its type finds it broken, and leaves it out."""
    from argosy.registry import Registry

    argosy_home.mkdir()
    site = tmp_path / "site"
    install_plugins(site, {"later": LATER})
    settled(site)
    monkeypatch.syspath_prepend(str(site))
    assert "later" in Registry().template_types  # loads it, and saves the claims
    monkeypatch.delitem(sys.modules, "later_plugin")
    module = site / "later_plugin.py"
    stat = module.stat()
    module.write_text(source)
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    registry = Registry()
    assert "later" in registry.template_types and registry.problems == []
    with pytest.raises(KeyError):
        registry.template_types["later"]
    assert "later" not in registry.template_types
    assert registry.plugins["later"].error.startswith(error)
    assert any("plugin 'later'" in problem for problem in registry.problems)
    assert registry.provider_of("template_types", "later") is None


def test_claims_saved_by_another_argosy_are_not_trusted(argosy_home: Path) -> None:
    """A claims file without a kind this argosy knows (an older one wrote it) means a full
    load, not a start that fails on the missing kind."""
    argosy_home.mkdir()
    probe_claims(argosy_home)
    [path] = argosy_home.glob("cache/claims-*.json")
    saved = json.loads(path.read_text())
    for claim in saved["plugins"].values():
        del claim["artifact_repositories"]
    path.write_text(json.dumps(saved))
    at_start, _, _, table, _, problems = probe_claims(argosy_home)
    assert "resource" in at_start and problems == []  # every plugin loaded
    assert table["repository"][2] == ["argosy_artifact_repositories"]
