"""Artifact locations outside an artifact repository: ``raw`` data, ``http`` and
``artifactory`` URLs (read, and written by PUT) and ``git`` repositories (read), with Argo's
credentials from Secrets.

A credential is read from the workflow's namespace (``secret(selector, where)``, see
``Repositories.secret``) when the artifact moves, and lives only in the request, in the
``git`` process's environment, or in a key file of the fetch's private scratch directory
(removed with it): never in a message, a log or the store. Argo's fields: ``http.headers``,
``http.auth.basicAuth`` (usernameSecret, passwordSecret), ``http.auth.oauth2`` (a
client-credentials token from tokenURLSecret with clientIDSecret, clientSecretSecret, scopes,
endpointParams), ``http.auth.clientCert`` (clientCertSecret, clientKeySecret);
``artifactory`` (url, usernameSecret, passwordSecret); ``git`` usernameSecret, passwordSecret,
sshPrivateKeySecret, insecureIgnoreHostKey, insecureSkipTLS, fetch, branch, depth,
singleBranch, disableSubmodules.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argosy.errors import ArtifactError

if TYPE_CHECKING:  # ssl and urllib.request load when an artifact moves over HTTP
    import ssl

#: ``secret(selector, where)``: the value of a SecretKeySelector, None when it is not given (or
#: optional and absent); an ArtifactError naming ``where``, the Secret and the key otherwise.
SecretReader = Callable[[Any, str], str | None]
_CHUNK = 1 << 20
#: Locations an output artifact is PUT to (Argo's http driver), which it cannot delete.
UPLOADED = frozenset({"http", "artifactory"})
# Argo's test for a user in a git URL (``git@host:path``, ``ssh://user@host/path``).
_SSH_USER = re.compile(r"^(ssh://)?([^/:]*?)@[^@]+$")
# Answers git's "get" with the credentials in its environment, never on a command line.
_CREDENTIAL_HELPER = ("!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' "
                      "\"$ARTIFACT_GIT_USERNAME\" \"$ARTIFACT_GIT_PASSWORD\"; }; f")


def fetch_raw(raw: dict[str, Any], dest: Path) -> None:
    dest.write_text(str(raw.get("data") or ""))


# ---- http and artifactory ------------------------------------------------------------------


def fetch_http(http: dict[str, Any], dest: Path, secret: SecretReader, work: Path) -> None:
    """GET ``url`` with ``headers`` and ``auth`` into ``dest``, streamed."""
    _transfer("GET", *_http_request(http, secret, work), dest)


def fetch_artifactory(art: dict[str, Any], dest: Path, secret: SecretReader) -> None:
    """GET an Artifactory ``url`` with the basic authentication of its two Secrets."""
    _transfer("GET", *_artifactory_request(art, secret), dest)


def save_http(location: dict[str, Any], source: Path, secret: SecretReader, work: Path) -> None:
    """PUT the file ``source`` at an ``http`` or ``artifactory`` location, as Argo saves an
    output artifact there, streamed."""
    if source.is_dir():
        raise ArtifactError("a directory goes to an http or artifactory location archived "
                            "(archive: tar or zip), not as it is")
    request = (_http_request(location["http"], secret, work) if "http" in location
               else _artifactory_request(location["artifactory"], secret))
    _transfer("PUT", *request, source)


def _http_request(http: dict[str, Any], secret: SecretReader,
                  work: Path) -> tuple[str, dict[str, str], ssl.SSLContext | None]:
    """The URL, headers and TLS context of an ``http`` location, its ``auth`` applied as
    Argo does: basic (both Secrets, or none), then an OAuth2 token over it; a client
    certificate."""
    where = "http.auth"
    headers = {str(h.get("name")): str(h.get("value", "")) for h in http.get("headers") or []}
    auth = http.get("auth") or {}
    basic = auth.get("basicAuth") or {}
    user = secret(basic.get("usernameSecret"), f"{where}.basicAuth.usernameSecret")
    password = secret(basic.get("passwordSecret"), f"{where}.basicAuth.passwordSecret")
    if user and password:
        headers["Authorization"] = _basic(user, password)
    context = None
    cert = auth.get("clientCert") or {}
    if cert.get("clientCertSecret") and cert.get("clientKeySecret"):
        context = _client_context(cert, secret, f"{where}.clientCert", work)
    oauth2 = auth.get("oauth2") or {}
    if all(oauth2.get(k) for k in ("clientIDSecret", "clientSecretSecret", "tokenURLSecret")):
        headers["Authorization"] = _oauth2_token(oauth2, secret, f"{where}.oauth2", context)
    return str(http.get("url") or ""), headers, context


def _artifactory_request(art: dict[str, Any],
                         secret: SecretReader) -> tuple[str, dict[str, str], None]:
    user = secret(art.get("usernameSecret"), "artifactory.usernameSecret") or ""
    password = secret(art.get("passwordSecret"), "artifactory.passwordSecret") or ""
    return str(art.get("url") or ""), {"Authorization": _basic(user, password)}, None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _transfer(method: str, url: str, headers: dict[str, str], context: ssl.SSLContext | None,
              file: Path) -> None:
    """GET ``url`` into ``file``, or PUT ``file`` there; the message names the URL and the
    server's answer, never a credential."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise ArtifactError(f"url {url!r} is not an http(s) URL")
    try:
        if method == "GET":
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=60, context=context) as response, \
                    open(file, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
            return
        with open(file, "rb") as body:
            size = str(os.fstat(body.fileno()).st_size)
            request = urllib.request.Request(url, data=body, method=method, headers={
                **headers, "Content-Length": size, "Content-Type": "application/octet-stream"})
            urllib.request.urlopen(request, timeout=60, context=context).close()
    except urllib.error.HTTPError as exc:
        raise ArtifactError(f"{method} {url}: {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ArtifactError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None


def _client_context(cert: dict[str, Any], secret: SecretReader, where: str,
                    work: Path) -> ssl.SSLContext:
    """A TLS context presenting the client certificate of the two Secrets (PEM), trusting the
    system's CAs (``SSL_CERT_FILE`` names others); the PEM files live in ``work`` while the
    artifact is fetched."""
    import ssl

    files = []
    for field in ("clientCertSecret", "clientKeySecret"):
        value = secret(cert.get(field), f"{where}.{field}") or ""
        path = work / f".{field}.pem"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(value)
        files.append(str(path))
    context = ssl.create_default_context()
    try:
        context.load_cert_chain(*files)
    except ssl.SSLError as exc:
        raise ArtifactError(f"{where}: the certificate and key are not a PEM pair: "
                            f"{exc.reason or exc}") from None
    finally:
        for path in files:
            os.unlink(path)
    return context


def _oauth2_token(oauth2: dict[str, Any], secret: SecretReader, where: str,
                  context: ssl.SSLContext | None) -> str:
    """The Authorization header of an OAuth2 client-credentials token (RFC 6749 4.4): the
    client's id and secret in a basic header, then, if the server refuses that, in the form,
    as Go's oauth2 library tries them. The token URL is a Secret: no message shows it."""
    import urllib.error

    client_id = secret(oauth2.get("clientIDSecret"), f"{where}.clientIDSecret") or ""
    client_secret = secret(oauth2.get("clientSecretSecret"), f"{where}.clientSecretSecret") or ""
    url = secret(oauth2.get("tokenURLSecret"), f"{where}.tokenURLSecret") or ""
    if not url.startswith(("http://", "https://")):
        raise ArtifactError(f"{where}: the value of tokenURLSecret is not an http(s) URL")
    form = [("grant_type", "client_credentials")]
    if oauth2.get("scopes"):
        form.append(("scope", " ".join(str(s) for s in oauth2["scopes"])))
    form += [(str(p.get("key")), str(p.get("value", ""))) for p in
             oauth2.get("endpointParams") or []]
    quote = urllib.parse.quote_plus
    in_header = {"Authorization": _basic(quote(client_id), quote(client_secret))}
    try:
        body, kind = _post_form(url, form, in_header, context)
    except urllib.error.HTTPError as exc:
        if exc.code not in (400, 401):
            raise ArtifactError(f"{where}: token request: {exc.code} {exc.reason}") from None
        try:
            body, kind = _post_form(url, [*form, ("client_id", client_id),
                                          ("client_secret", client_secret)], {}, context)
        except urllib.error.HTTPError as again:
            raise ArtifactError(f"{where}: token request: {again.code} {again.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ArtifactError(f"{where}: token request: {getattr(exc, 'reason', exc)}") from None
    token = _parse_token(body, kind)
    if not token.get("access_token"):
        raise ArtifactError(f"{where}: the token response has no access_token")
    token_type = str(token.get("token_type") or "Bearer")
    token_type = {"bearer": "Bearer", "mac": "MAC", "basic": "Basic"}.get(token_type.lower(),
                                                                         token_type)
    return f"{token_type} {token['access_token']}"


def _post_form(url: str, form: list[tuple[str, str]], headers: dict[str, str],
               context: ssl.SSLContext | None) -> tuple[bytes, str]:
    import urllib.request

    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=60, context=context) as response:
        return response.read(1 << 20), response.headers.get_content_type()


def _parse_token(body: bytes, kind: str) -> dict[str, Any]:
    """A token response, JSON or (as some servers answer) a form."""
    if kind in ("application/x-www-form-urlencoded", "text/plain"):
        return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ---- git -----------------------------------------------------------------------------------


def fetch_git(git: dict[str, Any], dest: Path, secret: SecretReader, work: Path) -> None:
    """Clone ``repo`` into ``dest`` (``depth``, ``singleBranch`` with its ``branch``; submodules
    unless ``disableSubmodules``), fetch the ``fetch`` refspecs and check out ``revision``,
    with the ``git`` program and the repository's credentials."""
    repo = str(git.get("repo") or "")
    revision = str(git.get("revision") or "")
    branch = str(git.get("branch") or "")
    depth = ["--depth", str(int(git["depth"]))] if git.get("depth") else []
    args = ["clone", "--quiet", *depth]
    if git.get("singleBranch"):  # as in Argo, branch is read only then
        if not branch:
            raise ArtifactError("git: single branch mode without a branch specified")
        args += ["--single-branch", "--branch", branch]
    if not git.get("disableSubmodules"):
        args.append("--recurse-submodules")
    env = _git_env(git, repo, secret, work)
    _git([*args, "--", repo, str(dest)], env, f"clone {repo}")
    refspecs = [str(s) for s in git.get("fetch") or []]
    if refspecs:
        _git(["-C", str(dest), "fetch", "--quiet", *depth, "origin", *refspecs], env,
             f"fetch {' '.join(refspecs)}")
    if revision:
        try:
            _git(["-C", str(dest), "checkout", "--quiet", revision], env,
                 f"checkout {revision}")
        except ArtifactError:
            # A shallow or single-branch clone may not hold it yet: fetch it, then check out.
            _git(["-C", str(dest), "fetch", "--quiet", *depth, "origin", revision], env,
                 f"fetch revision {revision}")
            _git(["-C", str(dest), "checkout", "--quiet", "FETCH_HEAD"], env,
                 f"checkout {revision}")


def _git_env(git: dict[str, Any], repo: str, secret: SecretReader,
             work: Path) -> dict[str, str]:
    """git's environment: no prompts; basic credentials through a helper reading them from the
    environment; an SSH key as a private file of ``work``; host keys unchecked when asked."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if git.get("insecureSkipTLS"):
        env["GIT_SSL_NO_VERIFY"] = "true"
    user = secret(git.get("usernameSecret"), "git.usernameSecret")
    password = secret(git.get("passwordSecret"), "git.passwordSecret")
    if user or password:
        env.update({"ARTIFACT_GIT_USERNAME": user or "", "ARTIFACT_GIT_PASSWORD": password or "",
                    "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "credential.helper",
                    "GIT_CONFIG_VALUE_0": "", "GIT_CONFIG_KEY_1": "credential.helper",
                    "GIT_CONFIG_VALUE_1": _CREDENTIAL_HELPER})
    ssh = ["ssh", "-o", "BatchMode=yes"]
    key = secret(git.get("sshPrivateKeySecret"), "git.sshPrivateKeySecret")
    if key:
        path = work / ".ssh-key"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(key if key.endswith("\n") else key + "\n")
        ssh += ["-i", str(path), "-o", "IdentitiesOnly=yes"]
        if not _SSH_USER.match(repo):
            ssh += ["-l", "git"]  # Argo's user when the URL names none
    if git.get("insecureIgnoreHostKey"):
        ssh += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    if key or git.get("insecureIgnoreHostKey"):
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        env.pop("GIT_SSH", None)
    return env


def _git(args: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(["git", *args], env=env, capture_output=True, text=True,
                              timeout=600, check=False)
    except FileNotFoundError:
        raise ArtifactError("git artifacts need the git program, which is not on PATH") from None
    if done.returncode != 0:
        raise ArtifactError(f"git {what}: {_reason(done.stderr or done.stdout) or done.returncode}")


def _reason(output: str) -> str:
    """git's complaint: its first fatal or error line with the lines that lead to it (an ssh
    "Permission denied" comes just before "fatal: Could not read"), not the advice after."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    fatal = next((i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))),
                 len(lines) - 1)
    return " ".join(lines[max(0, fatal - 2):fatal + 1])
