"""``argosy.Client`` against both backends: the local store (with the background engine it
starts) and a real ``argosy server`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jupyter_harness import echo, failing, gate, sleeper

from argosy import Client
from argosy.client import Workflow
from argosy.errors import ArgosyError, InvalidWorkflow, NotFound
from argosy.spec.models import Workflow as WorkflowModel
from argosy.store import Store
from tests.server.rest_harness import Server, start_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "word-lengths.yaml"


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("client-remote") / "home")
    yield srv
    srv.stop()


@pytest.fixture(params=["local", "remote"])
def client(request: pytest.FixtureRequest, argosy_home: Path,
           monkeypatch: pytest.MonkeyPatch) -> Client:
    # The background engine a local submit starts should not outlive the test for long.
    monkeypatch.setenv("ARGOSY_ENGINE_IDLE_SECONDS", "3")
    monkeypatch.delenv("ARGOSY_SERVER", raising=False)
    if request.param == "local":
        return Client(home=argosy_home, poll=0.1)
    srv: Server = request.getfixturevalue("remote")
    return Client(url=srv.url, token=srv.token, poll=0.1)


def unique(client: Client, name: str) -> str:
    # The remote server is shared by the module's tests.
    return f"{name}-{'r' if client.url else 'l'}"


def test_submit_wait_outputs_logs(client: Client) -> None:
    wf = client.submit(EXAMPLE, parameters={"sentence": "one two three"})
    assert isinstance(wf, Workflow)
    assert wf.name.startswith("word-lengths-")
    done = client.wait(wf, timeout=120)
    assert done.phase == "Succeeded"
    assert wf.phase == "Succeeded"  # the object waited on is brought up to date
    assert done.parameters == {"letters": "11"}
    assert done.outputs["total"] == {"parameters": {"letters": "11"},
                                     "result": "3 words, 11 letters", "exitCode": 0}
    assert done.outputs["measure(1:two)"]["parameters"] == {"length": "3"}
    assert done.node("split").result == '["one", "two", "three"]'
    assert done.node("total").exit_code == 0
    assert client.logs(done, node="total") == "3 words, 11 letters\n"
    assert "measure(2:three): three has 5 letters\n" in done.logs()
    assert [w.name for w in client.list() if w.name == done.name] == [done.name]


def test_artifact(client: Client, request: pytest.FixtureRequest, argosy_home: Path) -> None:
    wf = client.wait(client.submit(echo(unique(client, "artifact"))), timeout=120)
    node = wf.node(wf.name)
    home = request.getfixturevalue("remote").home if client.url else argosy_home
    store = Store(home)
    store.put_artifact(wf.metadata["uid"], node.id, "notebook", "/tmp/nb.ipynb", b"executed")
    store.close()
    assert client.artifact(wf.name, wf.name, "notebook") == b"executed"
    assert wf.artifact(node.id, "notebook") == b"executed"
    with pytest.raises(NotFound, match='artifact "model" of node'):
        wf.artifact(wf.name, "model")
    with pytest.raises(KeyError, match="has no node 'nope'"):
        wf.artifact("nope", "notebook")


def test_submit_forms(client: Client, tmp_path: Path) -> None:
    text = yaml.safe_dump(echo(unique(client, "from-yaml")))
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(echo(unique(client, "from-path"))))
    other = tmp_path / "other.yml"
    other.write_text(yaml.safe_dump(echo(unique(client, "from-str-path"))))
    model = WorkflowModel.model_validate(echo(unique(client, "from-model")))
    submitted = [client.submit(text), client.submit(path), client.submit(str(other)),
                 client.submit(model), client.submit(echo("x"), name=unique(client, "named"))]
    assert [wf.name for wf in submitted] == [
        unique(client, n) for n in ("from-yaml", "from-path", "from-str-path", "from-model",
                                    "named")]
    for wf in submitted:
        assert client.wait(wf, timeout=60).phase == "Succeeded"
        assert wf.outputs[wf.name]["parameters"] == {"said": "hello from argosy"}


def test_invalid_input_names_every_fault(client: Client) -> None:
    bad = echo("bad")
    bad["spec"]["entrypoint"] = "nowhere"
    del bad["spec"]["templates"][0]["container"]["image"]
    with pytest.raises(InvalidWorkflow) as caught:
        client.submit(bad)
    lines = str(caught.value).splitlines()
    assert lines[0] == 'spec.entrypoint: unknown template "nowhere"'
    assert "spec.templates[0].container.image: image is required" in lines
    assert len(caught.value.faults) == len(lines)
    # The faults are the story: the traceback stops at the Client.
    assert caught.value.__suppress_context__
    with pytest.raises(ArgosyError, match=r"no such file: missing\.yaml"):
        client.submit("missing.yaml")
    with pytest.raises(TypeError, match="cannot submit a int"):
        client.submit(3)


def test_lifecycle(client: Client) -> None:
    nap = client.submit(sleeper(unique(client, "nap")))
    _until(client, nap.name, lambda wf: any(n.phase == "Running" and n.type == "Pod"
                                            for n in wf.nodes.values()))
    assert client.suspend(nap).name == nap.name
    _until(client, nap.name, lambda wf: wf.raw["spec"].get("suspend") is True)
    client.resume(nap)
    _until(client, nap.name, lambda wf: not wf.raw["spec"].get("suspend"))
    client.terminate(nap)
    ended = client.wait(nap, timeout=60)
    assert (ended.phase, ended.message) == ("Failed", "Stopped with strategy 'Terminate'")
    with pytest.raises(ArgosyError, match=f"cannot stop workflow {nap.name}: it is Failed"):
        client.stop(nap)

    gated = client.submit(gate(unique(client, "gated")))
    _until(client, gated.name, lambda wf: any(n.display_name == "approve" and
                                              n.phase == "Running"
                                              for n in wf.nodes.values()))
    client.resume(gated, node_field_selector="displayName=approve")
    assert client.wait(gated, timeout=60).phase == "Succeeded"

    flaky = client.submit(failing(unique(client, "flaky")))
    assert client.wait(flaky, timeout=60).phase == "Failed"
    assert client.retry(flaky).phase == "Running"
    assert client.wait(flaky, timeout=60).phase == "Failed"
    again = client.resubmit(flaky)
    assert again.name.startswith(f"{flaky.name}-")
    assert client.wait(again, timeout=60).phase == "Failed"
    client.delete(again)
    with pytest.raises(NotFound):
        client.get(again.name)

    halted = client.submit(sleeper(unique(client, "halt")))
    with pytest.raises(TimeoutError, match=f"workflow {halted.name} is still"):
        client.wait(halted, timeout=0.3)
    client.stop(halted, message="enough")
    assert client.wait(halted, timeout=60).message == "Stopped with strategy 'Stop'"


def _until(client: Client, name: str, test: object, timeout: float = 60) -> Workflow:
    import time

    deadline = time.monotonic() + timeout
    while True:
        wf = client.get(name)
        if test(wf):  # type: ignore[operator]
            return wf
        assert time.monotonic() < deadline, wf.status
        time.sleep(0.1)


def test_client_from_environment(monkeypatch: pytest.MonkeyPatch, remote: Server,
                                 argosy_home: Path) -> None:
    monkeypatch.setenv("ARGOSY_SERVER", remote.url)
    monkeypatch.setenv("ARGOSY_TOKEN", remote.token or "")
    assert Client().url == remote.url
    assert Client(home=argosy_home).url is None  # an explicit home wins over the environment
    monkeypatch.delenv("ARGOSY_SERVER")
    assert repr(Client()) == f"<argosy.Client local store {argosy_home}>"


def test_templates_create_list_get_submit_from_and_delete(client: Client) -> None:
    name = unique(client, "greet")
    template = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
                "metadata": {"name": name}, "spec": {
                    "entrypoint": "say",
                    "arguments": {"parameters": [{"name": "message", "value": "hello"}]},
                    "templates": [{"name": "say", "inputs": {"parameters": [{"name": "message"}]},
                                   "container": {"image": "busybox", "command": ["echo"],
                                                 "args": ["{{inputs.parameters.message}}"]}}]}}
    created = client.create_template(yaml.safe_dump(template))
    assert created["metadata"]["name"] == name
    assert name in [t["metadata"]["name"] for t in client.list_templates()]
    assert client.get_template(name)["spec"]["entrypoint"] == "say"
    done = client.submit_from(name, parameters={"message": "from a template"}).wait(
        timeout=120, display=False)
    assert done.phase == "Succeeded"
    assert client.logs(done).strip().endswith("from a template")
    client.delete_template(name)
    with pytest.raises(NotFound):
        client.get_template(name)
    with pytest.raises(ArgosyError, match='WorkflowTemplate "nope" not found'):
        client.submit_from("nope")


def test_crons_create_list_get_suspend_resume_and_delete(client: Client) -> None:
    name = unique(client, "nightly")
    cron = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
            "metadata": {"name": name}, "spec": {
                "schedules": ["0 3 * * *"], "timezone": "UTC",
                "workflowSpec": {"entrypoint": "main", "templates": [
                    {"name": "main", "container": {"image": "busybox", "command": ["true"]}}]}}}
    assert client.create_cron(yaml.safe_dump(cron))["metadata"]["name"] == name
    assert name in [c["metadata"]["name"] for c in client.list_crons()]
    assert client.get_cron(name)["spec"]["schedules"] == ["0 3 * * *"]
    assert client.suspend_cron(name)["spec"]["suspend"] is True
    assert not client.resume_cron(name)["spec"].get("suspend")
    client.delete_cron(name)
    with pytest.raises(NotFound):
        client.get_cron(name)
