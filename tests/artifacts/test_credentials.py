"""Artifact credentials from Secrets, against real servers that check them.

http (basic, OAuth2 client credentials, client certificates over TLS) and artifactory against
local HTTP(S) servers; git over ``git http-backend`` behind basic authentication and over an
``ssh`` that checks the key it is given. Each test also looks through everything the run left in
``$ARGOSY_HOME`` (store, logs, node directories): no credential is there in plain text.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import os
import ssl
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from argosy.objects import ObjectService
from argosy.store import Store
from tests.artifacts.test_artifacts import nodes, serving
from tests.engine.test_semantics import run_workflow

USER, PASSWORD = "ada", "pa55-w0rd-17"
CLIENT_ID, CLIENT_SECRET, TOKEN = "argosy-client", "cl13nt-s3cret", "t0ken-4-argosy"
#: Every credential value the tests hand out; none may be written anywhere by argosy.
VALUES = (PASSWORD, CLIENT_SECRET, TOKEN)


def put_secret(home: Path, name: str, **data: str) -> None:
    store = Store(home)
    try:
        ObjectService(store).put({"apiVersion": "v1", "kind": "Secret",
                                  "metadata": {"name": name}, "stringData": data})
    finally:
        store.close()


def assert_nowhere(home: Path, *values: str) -> None:
    """No file under ``home`` holds any of ``values`` (Secrets are kept base64-encoded)."""
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            for value in values:
                assert value.encode() not in content, f"{value!r} written to {path}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---- http and artifactory ------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/basic`` wants the basic credentials, ``/bearer`` the token and header ``X-Team``,
    ``/token`` issues the token for the client's credentials and the expected form."""

    tokens: list[dict[str, list[str]]] = []
    uploads: dict[str, bytes] = {}

    def do_PUT(self) -> None:
        if self.headers.get("Authorization") != basic(USER, PASSWORD):
            self.send_error(401, "Unauthorized")
            return
        type(self).uploads[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(b"", "text/plain")

    def do_GET(self) -> None:
        if self.path in self.uploads and self.headers.get("Authorization") == basic(
                USER, PASSWORD):
            self._reply(self.uploads[self.path], "application/octet-stream")
            return
        wanted = {"/basic": basic(USER, PASSWORD), "/bearer": f"Bearer {TOKEN}"}.get(self.path)
        if wanted is None:
            self.send_error(404, "Not Found")
        elif self.headers.get("Authorization") != wanted or (
                self.path == "/bearer" and self.headers.get("X-Team") != "blue"):
            self.send_error(401, "Unauthorized")
        else:
            self._reply(b"content of " + self.path.encode(), "text/plain")

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        type(self).tokens.append(form)
        in_header = self.headers.get("Authorization") == basic(CLIENT_ID, CLIENT_SECRET)
        # /token-form takes the client's credentials only in the form (RFC 6749 2.3.1).
        in_form = (form.get("client_id"), form.get("client_secret")) == (
            [CLIENT_ID], [CLIENT_SECRET]) and "Authorization" not in self.headers
        if (in_header, in_form) != (self.path == "/token", self.path == "/token-form"):
            self.send_error(401, "Unauthorized")
            return
        self._reply(f'{{"access_token": "{TOKEN}", "token_type": "bearer"}}'.encode(),
                    "application/json")

    def _reply(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def fetches(*steps: str) -> str:
    """A workflow whose steps (``name: source``) each show the input artifact ``a``."""
    listed = "\n".join(f"""      - name: {step.split(":", 1)[0]}
        template: show
        arguments: {{artifacts: [{{name: a, {step.split(":", 1)[1].strip()}}}]}}"""
                       for step in steps)
    return f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    -
{listed}
  - name: show
    inputs: {{artifacts: [{{name: a, path: /tmp/a}}]}}
    container: {{image: alpine, command: [cat, /tmp/a]}}
"""


def sel(name: str, key: str) -> str:
    return f"{{name: {name}, key: {key}}}"


def test_http_basic_oauth2_and_artifactory_credentials_from_secrets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    put_secret(home, "web", user=USER, password=PASSWORD)
    put_secret(home, "web-wrong", user=USER, password="not-it")
    _Handler.tokens = []
    with serving(_Handler) as web:
        put_secret(home, "oauth", id=CLIENT_ID, secret=CLIENT_SECRET, url=f"{web}/token")
        put_secret(home, "oauth-wrong", id=CLIENT_ID, secret="not-it", url=f"{web}/token")
        put_secret(home, "oauth-form", id=CLIENT_ID, secret=CLIENT_SECRET,
                   url=f"{web}/token-form")
        basic_auth = (f"basicAuth: {{usernameSecret: {sel('web', 'user')}, "
                      f"passwordSecret: {sel('web', 'password')}}}")
        oauth2 = (f"oauth2: {{clientIDSecret: {sel('oauth', 'id')}, clientSecretSecret: "
                  f"{sel('oauth', 'secret')}, tokenURLSecret: {sel('oauth', 'url')}, "
                  "scopes: [read, write], endpointParams: [{key: audience, value: argosy}]}")
        wrong, missing = basic_auth.replace("web", "web-wrong"), basic_auth.replace("web", "nope")
        wf = run_workflow(fetches(
            f"basic: http: {{url: '{web}/basic', auth: {{{basic_auth}}}}}",
            f"oauth2: http: {{url: '{web}/bearer', headers: [{{name: X-Team, value: blue}}], "
            f"auth: {{{oauth2}}}}}",
            f"artifactory: artifactory: {{url: '{web}/basic', usernameSecret: "
            f"{sel('web', 'user')}, passwordSecret: {sel('web', 'password')}}}",
            f"wrong: http: {{url: '{web}/basic', auth: {{{wrong}}}}}",
            f"oauth2-form: http: {{url: '{web}/bearer', headers: [{{name: X-Team, value: blue}}], "
            f"auth: {{{oauth2.replace('name: oauth,', 'name: oauth-form,')}}}}}",
            f"wrong-client: http: {{url: '{web}/bearer', "
            f"auth: {{{oauth2.replace('name: oauth,', 'name: oauth-wrong,')}}}}}",
            f"no-secret: http: {{url: '{web}/basic', auth: {{{missing}}}}}",
            f"no-key: artifactory: {{url: '{web}/basic', usernameSecret: {sel('web', 'user')}, "
            f"passwordSecret: {sel('web', 'pass')}}}",
        ), home)
    by = nodes(wf)
    assert by["basic"]["outputs"]["result"] == "content of /basic", by["basic"].get("message")
    assert by["oauth2"]["outputs"]["result"] == "content of /bearer", by["oauth2"].get("message")
    assert by["artifactory"]["outputs"]["result"] == "content of /basic"
    # The token request: client credentials, the scopes and the endpoint's parameters.
    assert {"grant_type": ["client_credentials"], "scope": ["read write"],
            "audience": ["argosy"]} in _Handler.tokens
    # A server that wants the client's credentials in the form gets them there next.
    assert by["oauth2-form"]["outputs"]["result"] == "content of /bearer", by["oauth2-form"]
    assert by["wrong"]["phase"] == "Error"
    assert by["wrong"]["message"] == f'artifact "a": GET {web}/basic: 401 Unauthorized'
    assert by["wrong-client"]["message"] == (
        'artifact "a": http.auth.oauth2: token request: 401 Unauthorized')
    assert by["no-secret"]["phase"] == "Error"
    assert by["no-secret"]["message"] == ('artifact "a": http.auth.basicAuth.usernameSecret: '
                                          'secrets "nope" not found in namespace "default"')
    assert by["no-key"]["message"] == ('artifact "a": artifactory.passwordSecret: '
                                       "secret 'web' does not have the key 'pass'")
    assert_nowhere(home, *VALUES)


def test_outputs_are_put_to_http_and_artifactory_and_read_back(tmp_path: Path) -> None:
    """Argo's http driver saves an output with PUT, with the location's credentials; the
    node records the location (Secrets by name) and the next step reads it from there."""
    home = tmp_path / "home"
    put_secret(home, "web", user=USER, password=PASSWORD)
    _Handler.uploads = {}
    auth = f"auth: {{basicAuth: {{usernameSecret: {sel('web', 'user')}, " \
           f"passwordSecret: {sel('web', 'password')}}}}}"
    with serving(_Handler) as web:
        wf = run_workflow(f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: put, template: put}}
    - - name: get
        template: get
        arguments: {{artifacts: [{{name: h, from: "{{{{steps.put.outputs.artifacts.h}}}}"}},
                                {{name: a, from: "{{{{steps.put.outputs.artifacts.a}}}}"}}]}}
    - - {{name: dir, template: dir}}
  - name: put
    container: {{image: alpine, command: [sh, -c, "echo via http > /tmp/h; echo via af > /tmp/a"]}}
    outputs:
      artifacts:
      - {{name: h, path: /tmp/h, archive: {{none: {{}}}}, http: {{url: "{web}/upload/h", {auth}}}}}
      - name: a
        path: /tmp/a
        artifactory: {{url: "{web}/upload/a.tgz", usernameSecret: {sel('web', 'user')},
                      passwordSecret: {sel('web', 'password')}}}
  - name: get
    inputs: {{artifacts: [{{name: h, path: /tmp/h}}, {{name: a, path: /tmp/a}}]}}
    container: {{image: alpine, command: [sh, -c, "cat /tmp/h /tmp/a"]}}
  - name: dir
    container: {{image: alpine, command: [mkdir, /tmp/d]}}
    outputs:
      artifacts:
      - {{name: d, path: /tmp/d, archive: {{none: {{}}}}, http: {{url: "{web}/upload/d", {auth}}}}}
""", home)
    by = nodes(wf)
    assert by["get"]["outputs"]["result"] == "via http\nvia af", by["get"].get("message")
    assert _Handler.uploads["/upload/h"] == b"via http\n"
    assert _Handler.uploads["/upload/a.tgz"][:2] == b"\x1f\x8b"  # Argo's default: a tarball
    h = {a["name"]: a for a in by["put"]["outputs"]["artifacts"]}["h"]
    assert h["http"]["url"] == f"{web}/upload/h"
    assert h["http"]["auth"]["basicAuth"]["passwordSecret"] == {"name": "web", "key": "password"}
    assert by["dir"]["message"] == (
        'failed to save outputs: artifact "d": a directory goes to an http or artifactory '
        "location archived (archive: tar or zip), not as it is")
    assert_nowhere(home, PASSWORD)


# ---- client certificates ---------------------------------------------------------------------


def _pem_pair(name: str, issuer: tuple[Any, Any] | None, **extra: Any) -> tuple[Any, Any]:
    """(certificate, key) named ``name``, signed by ``issuer`` (itself when None)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_cert, signer_key = issuer or (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(signer_cert.subject if signer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None),
                              critical=True))
    if extra.get("ip"):
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(extra["ip"]))]), critical=False)
    return builder.sign(signer_key, hashes.SHA256()), key


def _pem(cert: Any, key: Any) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


class _CertHandler(_Handler):
    def do_GET(self) -> None:
        peer = self.connection.getpeercert() or {}
        names = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
        if names != ["argosy-client"]:
            self.send_error(403, "Forbidden")
            return
        self._reply(b"for the client", "text/plain")


def test_http_client_certificate_from_secrets_over_tls(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography")
    ca = _pem_pair("argosy-test-ca", None)
    server_cert, server_key = _pem(*_pem_pair("127.0.0.1", ca, ip="127.0.0.1"))
    client_cert, client_key = _pem(*_pem_pair("argosy-client", ca))
    other_cert, other_key = _pem(*_pem_pair("argosy-client", _pem_pair("other-ca", None)))
    files = {}
    for label, text in {"ca": _pem(*ca)[0], "cert": server_cert, "key": server_key}.items():
        files[label] = tmp_path / f"{label}.pem"
        files[label].write_text(text)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["cert"], files["key"])
    context.load_verify_locations(files["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    monkeypatch.setenv("SSL_CERT_FILE", str(files["ca"]))  # the step's side trusts the CA
    home = tmp_path / "home"
    put_secret(home, "tls", cert=client_cert, key=client_key)
    put_secret(home, "tls-other", cert=other_cert, key=other_key)
    put_secret(home, "tls-mixed", cert=client_cert, key=other_key)
    auth = f"clientCert: {{clientCertSecret: {sel('tls', 'cert')}, clientKeySecret: " \
           f"{sel('tls', 'key')}}}"
    with serving(_CertHandler, context) as web:
        wf = run_workflow(fetches(
            f"cert: http: {{url: '{web}/x', auth: {{{auth}}}}}",
            f"none: http: {{url: '{web}/x'}}",
            f"other: http: {{url: '{web}/x', auth: {{{auth.replace('tls', 'tls-other')}}}}}",
            f"mixed: http: {{url: '{web}/x', auth: {{{auth.replace('tls', 'tls-mixed')}}}}}",
        ), home)
    by = nodes(wf)
    assert by["cert"]["outputs"]["result"] == "for the client", by["cert"].get("message")
    for refused in ("none", "other"):
        assert by[refused]["phase"] == "Error"
        assert by[refused]["message"].startswith(f'artifact "a": GET {web}/x: '), by[refused]
    assert by["mixed"]["message"].startswith(
        'artifact "a": http.auth.clientCert: the certificate and key are not a PEM pair: ')
    key_body = client_key.splitlines()[1]
    assert_nowhere(home, key_body)


# ---- git -------------------------------------------------------------------------------------

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}


def bare_repo(tmp_path: Path) -> Path:
    """A bare repository: ``v`` is "main" on main; refs/changes/1 and /2 hold other commits,
    reachable from no branch (as review systems keep them)."""
    work, bare = tmp_path / "work", tmp_path / "served" / "repo.git"

    def git(*args: str, where: Path = work) -> str:
        return subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True,
                              text=True, env={**GIT_ENV, "HOME": str(tmp_path)}).stdout.strip()

    work.mkdir()
    git("init", "-q", "-b", "main")
    for text in ("change 1", "change 2", "main"):
        (work / "v").write_text(text + "\n")
        git("add", "v")
        git("commit", "-qm", text)
        if text != "main":
            git("update-ref", f"refs/changes/{text[-1]}", "HEAD")
            git("reset", "-q", "--hard", "HEAD~1") if text == "change 2" else None
    bare.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True,
                   env={**GIT_ENV, "HOME": str(tmp_path)})
    for n in ("1", "2"):
        git("update-ref", f"refs/changes/{n}", git("rev-parse", f"refs/changes/{n}"), where=bare)
    return bare


class _GitHandler(http.server.BaseHTTPRequestHandler):
    """``git http-backend`` (smart HTTP) behind basic authentication."""

    root = Path()

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        if self.headers.get("Authorization") != basic(USER, PASSWORD):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {**GIT_ENV, "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
               "CONTENT_TYPE": self.headers.get("Content-Type") or "", "REMOTE_USER": USER,
               "REMOTE_ADDR": "127.0.0.1", "GIT_PROTOCOL": self.headers.get("Git-Protocol") or "",
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding") or ""}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                             check=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        fields = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((int(v.split()[0]) for k, v in fields if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in fields:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


CLONE_SHOW = """
  - name: show
    inputs: {artifacts: [{name: a, path: /src}]}
    container: {image: alpine, command: [sh, -c,
      "cat /src/v; git -C /src for-each-ref --format='%(refname)' refs/changes"]}
"""


def test_git_over_http_with_basic_credentials_and_fetch_refspecs(tmp_path: Path) -> None:
    _GitHandler.root = bare_repo(tmp_path).parent
    home = tmp_path / "home"
    put_secret(home, "git", user=USER, password=PASSWORD)
    put_secret(home, "git-wrong", user=USER, password="not-it")
    creds = f"usernameSecret: {sel('git', 'user')}, passwordSecret: {sel('git', 'password')}"
    with serving(_GitHandler) as web:
        url = f"{web}/repo.git"
        wf = run_workflow(fetches(
            f"plain: git: {{repo: '{url}', {creds}}}",
            f"change: git: {{repo: '{url}', {creds}, fetch: ['refs/changes/*:refs/changes/*'], "
            "revision: refs/changes/1}",
            f"wrong: git: {{repo: '{url}', {creds.replace('git', 'git-wrong')}}}",
            f"anonymous: git: {{repo: '{url}'}}",
            f"no-key: git: {{repo: '{url}', {creds.replace('password}', 'pass}')}}}",
        ).replace("""
  - name: show
    inputs: {artifacts: [{name: a, path: /tmp/a}]}
    container: {image: alpine, command: [cat, /tmp/a]}
""", CLONE_SHOW), home)
    by = nodes(wf)
    assert by["plain"]["outputs"]["result"] == "main", by["plain"].get("message")
    assert by["change"]["outputs"]["result"] == (
        "change 1\nrefs/changes/1\nrefs/changes/2"), by["change"].get("message")
    for refused in ("wrong", "anonymous"):
        assert by[refused]["phase"] == "Error"
        assert by[refused]["message"].startswith(f'artifact "a": git clone {url}: fatal: ')
    assert "Authentication failed" in by["wrong"]["message"]
    assert by["no-key"]["message"] == ('artifact "a": git.passwordSecret: '
                                       "secret 'git' does not have the key 'pass'")
    assert_nowhere(home, PASSWORD)


# An ssh that, like a server, takes only the key it knows (compared with the file beside it),
# checks the private key file's mode and the user, then serves git's command locally.
FAKE_SSH = """#!PYTHON
import os, stat, sys
args = sys.argv[1:]
known = open(os.path.join(os.path.dirname(__file__), "known-key")).read()
key = args[args.index("-i") + 1] if "-i" in args else None
with open(os.path.join(os.path.dirname(__file__), "calls"), "a") as log:
    log.write(" ".join(args[:-2]) + "\\n")
if key is None or open(key).read() != known or stat.S_IMODE(os.stat(key).st_mode) != 0o600 \\
        or args[args.index("-l") + 1] != "git":
    sys.exit("git@" + args[-2] + ": Permission denied (publickey).")
os.execvp("sh", ["sh", "-c", args[-1]])
"""
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nk3y-material-of-the-test\n" \
      "-----END OPENSSH PRIVATE KEY-----\n"


def test_git_over_ssh_with_a_private_key_from_a_secret(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No sshd here: the ``ssh`` git runs is one that checks the key it is handed; what it
    serves is git's own upload-pack, as an sshd would run it."""
    bare = bare_repo(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH.replace("PYTHON", sys.executable))
    (bin_dir / "ssh").chmod(0o755)
    (bin_dir / "known-key").write_text(KEY)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    home = tmp_path / "home"
    put_secret(home, "deploy", key=KEY.rstrip("\n"))  # a trailing newline is added back
    put_secret(home, "other", key=KEY.replace("k3y", "another"))
    url = f"ssh://git.example{bare}"
    wf = run_workflow(fetches(
        f"key: git: {{repo: '{url}', sshPrivateKeySecret: {sel('deploy', 'key')}, "
        "insecureIgnoreHostKey: true}",
        f"other: git: {{repo: '{url}', sshPrivateKeySecret: {sel('other', 'key')}}}",
    ).replace("[cat, /tmp/a]", "[cat, /tmp/a/v]"), home)
    by = nodes(wf)
    assert by["key"]["outputs"]["result"] == "main", by["key"].get("message")
    assert by["other"]["phase"] == "Error"
    assert by["other"]["message"] == (f'artifact "a": git clone {url}: git@git.example: '
                                      "Permission denied (publickey). fatal: Could not read "
                                      "from remote repository.")
    calls = (bin_dir / "calls").read_text().splitlines()
    key_files = {c.split()[c.split().index("-i") + 1] for c in calls}
    assert key_files and not any(Path(k).exists() for k in key_files)
    assert any("StrictHostKeyChecking=no" in c for c in calls)
    assert any("BatchMode=yes" in c and "StrictHostKeyChecking" not in c for c in calls)
    assert_nowhere(home, "k3y-material-of-the-test", "another-material")
