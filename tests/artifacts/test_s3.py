"""S3 artifacts against a real S3-protocol server (moto's server mode, over HTTP on loopback).

Each test runs a small workflow with the engine in this process; the steps' files go to and
come from the server through boto3, as they would from AWS or MinIO.
"""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from argosy.objects import ObjectService
from argosy.store import Store
from tests.artifacts.s3server import CREDENTIALS, client, s3_server
from tests.artifacts.test_artifacts import nodes
from tests.engine.test_semantics import run_workflow

pytest.importorskip("boto3")
pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as where:
        yield where


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A client of the server; the environment's credentials are the SDK chain's."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return client(endpoint)


def bucket(s3: Any, name: str) -> str:
    s3.create_bucket(Bucket=name)
    return name


def apply(home: Path, body: dict[str, Any]) -> None:
    store = Store(home)
    try:
        ObjectService(store).put(body)
    finally:
        store.close()


def secret(home: Path) -> None:
    apply(home, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-s3-credentials"},
                 "stringData": {"accessKey": "AKIDEXAMPLE", "secretKey": "s3cr3t"}})


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}


def get(s3: Any, bucket_name: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket_name, Key=key)["Body"].read()


def test_explicit_s3_inputs_and_outputs_with_credentials_from_secrets(
        tmp_path: Path, s3: Any, endpoint: str) -> None:
    bucket(s3, "explicit")
    s3.put_object(Bucket="explicit", Key="in/plain.txt", Body=b"from the bucket\n")
    secret(tmp_path)
    location = f"""endpoint: "{endpoint}"
          bucket: explicit
          region: us-east-1
          insecure: true
          accessKeySecret: {{name: my-s3-credentials, key: accessKey}}
          secretKeySecret: {{name: my-s3-credentials, key: secretKey}}"""
    wf = run_workflow(f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: put, template: put}}
    - - name: get
        template: get
        arguments: {{artifacts: [{{name: m, from: "{{{{steps.put.outputs.artifacts.out}}}}"}}]}}
  - name: put
    inputs:
      artifacts:
      - name: plain
        path: /tmp/plain.txt
        s3:
          {location}
          key: in/plain.txt
    container: {{image: alpine, command: [sh, -c, "cat /tmp/plain.txt > /tmp/out.txt"]}}
    outputs:
      artifacts:
      - name: out
        path: /tmp/out.txt
        s3:
          {location}
          key: "results/{{{{workflow.name}}}}/out.tgz"
  - name: get
    inputs: {{artifacts: [{{name: m, path: /tmp/m}}]}}
    container: {{image: alpine, command: [cat, /tmp/m]}}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert untar(get(s3, "explicit", "results/wf/out.tgz")) == {"out.txt": b"from the bucket\n"}
    [out] = nodes(wf)["put"]["outputs"]["artifacts"]
    assert out["s3"]["key"] == "results/wf/out.tgz" and out["s3"]["bucket"] == "explicit"
    assert out["s3"]["accessKeySecret"] == {"name": "my-s3-credentials", "key": "accessKey"}
    assert nodes(wf)["get"]["outputs"]["result"] == "from the bucket"
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").iterdir())


def configure(home: Path, endpoint: str, bucket_name: str, extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        f"artifactRepository: {{s3: {{endpoint: '{endpoint}', bucket: {bucket_name}, "
        f"insecure: true{extra}}}}}\n")


PASS_ALONG = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: put, template: put}
    - - name: get
        template: get
        arguments: {artifacts: [{name: m, from: "{{steps.put.outputs.artifacts.out}}"},
                                {name: k, s3: {key: "shared/{{workflow.name}}.txt"}}]}
  - name: put
    container: {image: alpine, command: [sh, -c,
      "mkdir /tmp/d && echo one > /tmp/d/1 && echo two > /tmp/d/2 && echo by key > /tmp/k"]}
    outputs:
      artifacts:
      - {name: out, path: /tmp/d}
      - {name: k, path: /tmp/k, s3: {key: "shared/{{workflow.name}}.txt"}, archive: {none: {}}}
  - name: get
    inputs: {artifacts: [{name: m, path: /tmp/m}, {name: k, path: /tmp/k}]}
    container: {image: alpine, command: [sh, -c, "cat /tmp/m/1 /tmp/m/2 /tmp/k"]}
"""


def test_the_configured_repository_keeps_outputs_under_its_key_format(
        tmp_path: Path, s3: Any, endpoint: str) -> None:
    # No bucket yet: createBucketIfNotPresent makes it; credentials are the environment's.
    configure(tmp_path, endpoint, "configured", ", useSDKCreds: true, createBucketIfNotPresent: "
              "{}, keyFormat: 'runs/{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}'")
    wf = run_workflow(PASS_ALONG, tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    put = nodes(wf)["put"]
    pod = put["id"].replace("wf-", "wf-put-")
    out, k = put["outputs"]["artifacts"]
    assert out == {"name": "out", "path": "/tmp/d", "s3": {
        "endpoint": endpoint, "bucket": "configured", "insecure": True,
        "key": f"runs/default/wf/{pod}/out.tgz"}}
    assert untar(get(s3, "configured", out["s3"]["key"])) == {"d/1": b"one\n", "d/2": b"two\n"}
    assert k["s3"]["key"] == "shared/wf.txt"
    assert get(s3, "configured", "shared/wf.txt") == b"by key\n"
    assert nodes(wf)["get"]["outputs"]["result"] == "one\ntwo\nby key"


def test_artifact_repository_ref_chooses_a_config_map_key(tmp_path: Path, s3: Any,
                                                          endpoint: str) -> None:
    bucket(s3, "by-ref")
    bucket(s3, "by-default")
    secret(tmp_path)
    creds = ("accessKeySecret: {name: my-s3-credentials, key: accessKey}, "
             "secretKeySecret: {name: my-s3-credentials, key: secretKey}")
    apply(tmp_path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "artifact-repositories",
        "annotations": {"workflows.argoproj.io/default-artifact-repository": "main"}},
        "data": {
            "main": f"s3: {{endpoint: '{endpoint}', bucket: by-default, insecure: true, "
                    f"{creds}}}",
            "other": f"archiveLogs: false\ns3: {{endpoint: '{endpoint}', bucket: by-ref, "
                     f"insecure: true, keyFormat: 'ref/{{{{workflow.name}}}}', {creds}}}"}})
    wf = run_workflow(PASS_ALONG, tmp_path)  # the namespace's default
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert get(s3, "by-default", "shared/wf.txt") == b"by key\n"
    wf = run_workflow(PASS_ALONG.replace("entrypoint: main", "entrypoint: main\n"
                                         "  artifactRepositoryRef: {key: other}"), tmp_path,
                      name="wf2")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert get(s3, "by-ref", "shared/wf2.txt") == b"by key\n"
    assert untar(get(s3, "by-ref", "ref/wf2/out.tgz"))["d/1"] == b"one\n"
    assert nodes(wf)["get"]["outputs"]["result"] == "one\ntwo\nby key"

    wf = run_workflow(PASS_ALONG.replace("entrypoint: main", "entrypoint: main\n"
                                         "  artifactRepositoryRef: {key: absent}"), tmp_path,
                      name="wf3")
    put = nodes(wf)["put"]
    assert wf["status"]["phase"] == "Failed" and put["phase"] == "Error", put
    assert 'ConfigMap "artifact-repositories" key "absent" not found' in put["message"], put


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_endpoint_and_a_missing_key_end_the_node_clearly(
        tmp_path: Path, s3: Any, endpoint: str) -> None:
    bucket(s3, "failures")
    nowhere = f"127.0.0.1:{free_port()}"
    wf = run_workflow(f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: missing, template: missing}}
      - {{name: unreachable, template: unreachable}}
      - {{name: cannot-save, template: cannot-save}}
  - name: missing
    inputs:
      artifacts:
      - {{name: a, path: /tmp/a, s3: {{endpoint: "{endpoint}", bucket: failures,
          insecure: true, key: no/such/key}}}}
    container: {{image: alpine, command: [cat, /tmp/a]}}
  - name: unreachable
    inputs:
      artifacts:
      - {{name: a, path: /tmp/a, s3: {{endpoint: "{nowhere}", bucket: failures,
          insecure: true, key: some/key}}}}
    container: {{image: alpine, command: [cat, /tmp/a]}}
  - name: cannot-save
    container: {{image: alpine, command: [sh, -c, "echo x > /tmp/x"]}}
    outputs:
      artifacts:
      - {{name: x, path: /tmp/x, s3: {{endpoint: "{nowhere}", bucket: failures,
          insecure: true, key: out/x.tgz}}}}
""", tmp_path)
    assert wf["status"]["phase"] in ("Failed", "Error")
    by_name = nodes(wf)
    missing = str(by_name["missing"].get("message"))
    assert "s3://failures/no/such/key" in missing, missing
    assert "the specified key does not exist" in missing, missing
    for name in ("unreachable", "cannot-save"):
        message = str(by_name[name].get("message"))
        assert f"cannot reach the S3 endpoint {nowhere}" in message, message
    assert "failed to save outputs" in str(by_name["cannot-save"].get("message"))
    assert s3.list_objects_v2(Bucket="failures").get("KeyCount") == 0  # nothing half-written


def test_a_large_file_moves_in_parts(tmp_path: Path, s3: Any, endpoint: str) -> None:
    """Beyond boto3's multipart threshold (8 MiB) an upload goes in parts; the file is never
    read whole (a flat-memory move), and comes back byte for byte."""
    from argosy.plugins.s3 import S3RepositoryFactory

    bucket(s3, "large")
    repo = S3RepositoryFactory().open(tmp_path, {"endpoint": endpoint, "bucket": "large",
                                                 "insecure": True})
    source = tmp_path / "big"
    with open(source, "wb") as out:
        for index in range(20):
            out.write(os.urandom(1 << 20) if index % 2 else bytes([index]) * (1 << 20))
    repo.save(source, "big/file")
    etag = s3.head_object(Bucket="large", Key="big/file")["ETag"]
    assert etag.strip('"').endswith("-3"), etag  # three parts of 8 MiB at most
    back = tmp_path / "back"
    repo.load("big/file", back)
    assert back.read_bytes() == source.read_bytes()
    repo.delete("big/file")
    assert s3.list_objects_v2(Bucket="large").get("KeyCount") == 0
    with pytest.raises(FileNotFoundError, match="s3://large/big/file"):
        repo.load("big/file", back)
    assert not back.exists() or back.read_bytes() == source.read_bytes()


def test_settings_argosy_cannot_honour_are_refused(tmp_path: Path) -> None:
    from argosy.errors import ArgosyError
    from argosy.plugins.s3 import S3RepositoryFactory

    with pytest.raises(ArgosyError, match="roleARN is not supported here"):
        S3RepositoryFactory().open(tmp_path, {"bucket": "b", "roleARN": "arn:aws:iam::1:role/r"})
    with pytest.raises(ArgosyError, match="caSecret: a Secret's value was expected"):
        S3RepositoryFactory().open(tmp_path, {"bucket": "b", "caSecret": {"name": "x"}})
    with pytest.raises(ArgosyError, match=r"unknown setting.*bukket"):
        S3RepositoryFactory().open(tmp_path, {"bukket": "b"})
    with pytest.raises(ArgosyError, match="bucket is required"):
        S3RepositoryFactory().open(tmp_path, {"endpoint": "x"})


def test_users_read_and_deletion_collects_what_the_namespace_repository_keeps(
        tmp_path: Path, s3: Any, endpoint: str) -> None:
    """The Client (as argosy cp and argo-server) reads an output from the workflow's own
    repository, with the Secret's credentials; OnWorkflowDeletion deletes it from the bucket."""
    from argosy.client import Client

    bucket(s3, "namespace")
    secret(tmp_path)
    apply(tmp_path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "artifact-repositories",
        "annotations": {"workflows.argoproj.io/default-artifact-repository": "main"}},
        "data": {"main": f"s3: {{endpoint: '{endpoint}', bucket: namespace, insecure: true, "
                         "accessKeySecret: {name: my-s3-credentials, key: accessKey}, "
                         "secretKeySecret: {name: my-s3-credentials, key: secretKey}}"}})
    wf = run_workflow("""
  entrypoint: gen
  artifactGC: {strategy: OnWorkflowDeletion}
  templates:
  - name: gen
    container: {image: alpine, command: [sh, -c, "echo report > /tmp/report.txt"]}
    outputs: {artifacts: [{name: report, path: /tmp/report.txt}]}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    [out] = nodes(wf)["wf"]["outputs"]["artifacts"]
    assert out["s3"]["bucket"] == "namespace"
    client = Client(tmp_path)
    assert client.artifact("wf", "wf", "report") == b"report\n"
    assert s3.list_objects_v2(Bucket="namespace")["KeyCount"] == 1
    client.delete("wf")
    assert s3.list_objects_v2(Bucket="namespace")["KeyCount"] == 0


ALLOW_S3 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


@contextmanager
def iam_keys(endpoint: str) -> Iterator[dict[str, str]]:
    """The keys of an IAM user and of a role's session that may use S3, with the server
    checking every request's signature and keys while the test runs."""
    import boto3
    from moto.core.authorization import enable_iam_authentication

    def aws(service: str) -> Any:
        return boto3.client(service, endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    iam, name = aws("iam"), f"argosy-{os.urandom(4).hex()}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=ALLOW_S3)
    user = iam.create_access_key(UserName=name)["AccessKey"]
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": "*"}}]}))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=ALLOW_S3)
    session = aws("sts").assume_role(RoleArn=role["Arn"], RoleSessionName=name)["Credentials"]
    with enable_iam_authentication():
        yield {"access": user["AccessKeyId"], "secret": user["SecretAccessKey"],
               "session-access": session["AccessKeyId"],
               "session-secret": session["SecretAccessKey"],
               "session-token": session["SessionToken"]}


GUARDED = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: put, template: put}
    - - {name: session, template: show, arguments: {artifacts: [{name: a, s3: {SESSION}}]}}
      - name: wrong-secret
        template: show
        arguments: {artifacts: [{name: a, s3: {LOCATION, accessKeySecret: {name: user, key: id},
          secretKeySecret: {name: user, key: wrong}}}]}
      - name: no-token
        template: show
        arguments: {artifacts: [{name: a, s3: {LOCATION, accessKeySecret: {name: session,
          key: id}, secretKeySecret: {name: session, key: secret}}}]}
      - name: no-key
        template: show
        arguments: {artifacts: [{name: a, s3: {SESSION_NO_KEY}}]}
      - name: get
        template: get
        arguments: {artifacts: [{name: m, from: "{{steps.put.outputs.artifacts.out}}"},
                                {name: k, s3: {key: "shared/{{workflow.name}}.txt"}}]}
  - name: show
    inputs: {artifacts: [{name: a, path: /tmp/a}]}
    container: {image: alpine, command: [cat, /tmp/a]}
""" + PASS_ALONG.split("  - name: put\n", 1)[1].join(["  - name: put\n", ""])


def test_credentials_from_secrets_are_the_ones_the_server_checks(
        tmp_path: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repository's and an explicit location's keys (and a session's token) come from
    Secrets; wrong or missing ones fail the node naming the fault, and no value is kept."""
    for name in (*CREDENTIALS, "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    admin = client(endpoint)
    bucket(admin, "guarded")
    admin.put_object(Bucket="guarded", Key="in/plain.txt", Body=b"guarded content\n")
    configure(tmp_path, endpoint, "guarded", ", accessKeySecret: {name: user, key: id}, "
              "secretKeySecret: {name: user, key: secret}")
    location = f"endpoint: '{endpoint}', bucket: guarded, insecure: true, key: in/plain.txt"
    session = (f"{location}, accessKeySecret: {{name: session, key: id}}, secretKeySecret: "
               "{name: session, key: secret}, sessionTokenSecret: {name: session, key: token}")
    with iam_keys(endpoint) as keys:
        apply(tmp_path, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "user"},
                         "stringData": {"id": keys["access"], "secret": keys["secret"],
                                        "wrong": keys["secret"][::-1]}})
        apply(tmp_path, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "session"},
                         "stringData": {"id": keys["session-access"],
                                        "secret": keys["session-secret"],
                                        "token": keys["session-token"]}})
        wf = run_workflow(GUARDED.replace("SESSION_NO_KEY", session.replace(
            "key: token", "key: nope")).replace("SESSION", session).replace(
            "LOCATION", location), tmp_path)
    by = nodes(wf)
    assert by["get"]["outputs"]["result"] == "one\ntwo\nby key", by["get"].get("message")
    assert by["session"]["outputs"]["result"] == "guarded content", by["session"].get("message")
    assert by["wrong-secret"]["phase"] == "Error"
    for refused in ("wrong-secret", "no-token"):
        assert by[refused]["message"] == (
            f'artifact "a": s3://guarded/in/plain.txt at {endpoint}: 403 Forbidden: the server '
            "refused the credentials (wrong or expired keys, or no permission)")
    assert by["no-key"]["message"] == ('artifact "a": s3.sessionTokenSecret: '
                                       "secret 'session' does not have the key 'nope'")
    for value in (keys["secret"], keys["session-secret"], keys["session-token"]):
        for path in tmp_path.rglob("*"):
            assert not path.is_file() or value.encode() not in path.read_bytes(), path


def test_a_ca_bundle_from_a_secret_verifies_an_https_endpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's S3 over TLS with a certificate of a CA the test makes: trusted through
    ``caSecret``, refused without it."""
    pytest.importorskip("cryptography")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from tests.artifacts.test_credentials import _pem, _pem_pair

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    ca = _pem_pair("s3-test-ca", None)
    ca_pem = _pem(*ca)[0]
    for label, text in zip(("cert", "key"), _pem(*_pem_pair("127.0.0.1", ca, ip="127.0.0.1")),
                           strict=True):
        (tmp_path / f"{label}.pem").write_text(text)
    (tmp_path / "ca.pem").write_text(ca_pem)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app),
                         threaded=True, ssl_context=(str(tmp_path / "cert.pem"),
                                                     str(tmp_path / "key.pem")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"127.0.0.1:{server.port}"
        import boto3

        admin = boto3.client("s3", endpoint_url=f"https://{endpoint}", region_name="us-east-1",
                             verify=str(tmp_path / "ca.pem"))
        bucket(admin, "over-tls")
        admin.put_object(Bucket="over-tls", Key="in.txt", Body=b"over tls\n")
        home = tmp_path / "home"
        apply(home, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-ca"},
                     "stringData": {"ca.crt": ca_pem}})
        location = f"endpoint: '{endpoint}', bucket: over-tls, key: in.txt"
        wf = run_workflow(f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: trusted, template: show, arguments: {{artifacts: [{{name: a, s3: {{{location},
          caSecret: {{name: s3-ca, key: ca.crt}}}}}}]}}}}
      - {{name: untrusted, template: show, arguments: {{artifacts: [{{name: a,
          s3: {{{location}}}}}]}}}}
  - name: show
    inputs: {{artifacts: [{{name: a, path: /tmp/a}}]}}
    container: {{image: alpine, command: [cat, /tmp/a]}}
""", home)
    finally:
        server.shutdown()
        server.server_close()
    by = nodes(wf)
    assert by["trusted"]["outputs"]["result"] == "over tls", by["trusted"].get("message")
    assert by["untrusted"]["phase"] == "Error"
    assert "CERTIFICATE_VERIFY_FAILED" in by["untrusted"]["message"], by["untrusted"]
