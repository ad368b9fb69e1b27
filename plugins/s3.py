"""The ``s3`` artifact repository: a bucket of any S3-protocol server (AWS, MinIO, Ceph...).

Settings are Argo's S3ArtifactRepository fields: ``endpoint`` (``host:port``, HTTPS unless
``insecure``), ``bucket``, ``region``, ``keyFormat`` (the key's folder, Argo's variables;
default ``{{workflow.name}}/{{pod.name}}``), ``createBucketIfNotPresent``, ``useSDKCreds``, the
credentials ``accessKeySecret``, ``secretKeySecret``, ``sessionTokenSecret`` and ``caSecret``
(the CA bundle, PEM, that the endpoint's certificate is verified with). The engine hands those
four in as their Secrets' values (strings); without keys the SDK's own chain applies
(``AWS_ACCESS_KEY_ID``... in the environment, ``~/.aws``). The same settings plus a
``key`` are an explicit ``s3:`` location on an artifact.

Files move through boto3's managed transfers: a large file is uploaded in parts and
downloaded into a temporary file renamed into place, so memory stays flat and nothing
half-written is ever visible. A directory (``archive: {none: {}}``) is one object per file
under ``KEY/``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from argosy.plugin import ArgosyError, hookimpl

NAME = "s3"
DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
#: Settings honoured here; the remaining Argo fields are refused by name.
KNOWN = {"endpoint", "bucket", "region", "insecure", "keyFormat", "accessKeySecret",
         "secretKeySecret", "sessionTokenSecret", "useSDKCreds", "createBucketIfNotPresent",
         "addressingStyle", "caSecret"}
REFUSED = {"encryptionOptions": "server-side encryption is not set by argosy",
           "roleARN": "assume the role in the environment's AWS configuration",
           "keyPrefix": "use keyFormat"}
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


class S3Repository:
    """Artifacts as objects of one bucket."""

    def __init__(self, settings: dict[str, Any], ca_file: Path | None = None) -> None:
        self.settings = settings
        self.bucket = str(settings.get("bucket") or "")
        if not self.bucket:
            raise ArgosyError("s3 artifact repository: bucket is required")
        self.endpoint = str(settings.get("endpoint") or "")
        self.key_format = str(settings.get("keyFormat") or DEFAULT_KEY_FORMAT)
        self.client = _client(settings, ca_file)
        if settings.get("createBucketIfNotPresent") is not None:  # {objectLocking} or {}
            self._create_bucket()

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}" + (f" at {self.endpoint}" if self.endpoint else "")

    def location(self, key: str) -> dict[str, Any]:
        body = {k: self.settings[k] for k in ("endpoint", "bucket", "region", "insecure")
                if self.settings.get(k)}
        return {NAME: {**body, "key": key}}

    def key_of(self, location: dict[str, Any]) -> str | None:
        body = location.get(NAME)
        if not (isinstance(body, dict) and body.get("key")):
            return None
        # A location with credentials of its own is opened with them, even in this bucket.
        same = (body.get("bucket") in (None, self.bucket)
                and body.get("endpoint") in (None, "", self.endpoint or None)
                and not any(field.endswith("Secret") and value for field, value in body.items()))
        return str(body["key"]) if same else None

    def save(self, source: Path, key: str) -> None:
        with self._errors(key):
            if source.is_dir():
                self.delete(key)
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        self.client.upload_file(str(path), self.bucket,
                                                f"{key}/{path.relative_to(source).as_posix()}")
            else:
                self.client.upload_file(str(source), self.bucket, key)

    def load(self, key: str, dest: Path) -> None:
        with self._errors(key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except _client_error() as exc:
                if _code(exc) not in _MISSING:
                    raise
                self._load_dir(key, dest)
                return
            self.client.download_file(self.bucket, key, str(dest))

    def _load_dir(self, key: str, dest: Path) -> None:
        prefix = key.rstrip("/") + "/"
        found = False
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents") or []:
                target = dest / item["Key"][len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, item["Key"], str(target))
                found = True
        if not found:
            raise FileNotFoundError(f"{self._where(key)}: the specified key does not exist")

    def list(self, prefix: str) -> list[str]:
        """The keys of the bucket's objects that start with ``prefix``."""
        with self._errors(prefix or "/"):
            return [item["Key"] for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix) for item in page.get("Contents") or []]

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=key)
            prefix = key.rstrip("/") + "/"
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents") or []:
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def _create_bucket(self) -> None:
        with self._errors(""):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except _client_error() as exc:
                if _code(exc) not in _MISSING:
                    raise
                region = self.settings.get("region")
                extra = ({"CreateBucketConfiguration": {"LocationConstraint": region}}
                         if region and region != "us-east-1" else {})
                self.client.create_bucket(Bucket=self.bucket, **extra)

    def _errors(self, key: str) -> _S3Errors:
        return _S3Errors(self, key)


class _S3Errors:
    """S3's and the transport's errors as a message naming the object; a missing object as
    FileNotFoundError (what the engine turns into "not found")."""

    def __init__(self, repo: S3Repository, key: str) -> None:
        self.repo, self.key = repo, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> bool:
        import botocore.exceptions as errors
        from boto3.exceptions import S3TransferFailedError, S3UploadFailedError

        if exc is None or isinstance(exc, (FileNotFoundError, ArgosyError)):
            return False
        where = self.repo._where(self.key)
        if isinstance(exc, errors.ClientError) and _code(exc) in _MISSING:
            what = "no such bucket" if _code(exc) == "NoSuchBucket" else "the specified key " \
                "does not exist"
            raise FileNotFoundError(f"{where}: {what}") from None
        if isinstance(exc, errors.ClientError) and _code(exc) == "403":  # a HEAD: no body
            raise ArgosyError(f"{where}: 403 Forbidden: the server refused the credentials "
                              "(wrong or expired keys, or no permission)") from None
        if isinstance(exc, errors.ClientError):
            message = exc.response.get("Error", {}).get("Message") or _code(exc)
            raise ArgosyError(f"{where}: {_code(exc)}: {message}") from None
        if isinstance(exc, (errors.EndpointConnectionError, errors.ConnectTimeoutError)):
            raise ArgosyError(f"{where}: cannot reach the S3 endpoint "
                              f"{self.repo.endpoint or 'of AWS'}: {exc}") from None
        if isinstance(exc, (errors.BotoCoreError, S3TransferFailedError, S3UploadFailedError)):
            raise ArgosyError(f"{where}: {exc}") from None
        return False


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError


def _client(settings: dict[str, Any], ca_file: Path | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ArgosyError("the s3 artifact repository needs boto3: install argosy[s3]") from None
    endpoint = str(settings.get("endpoint") or "")
    url = None
    if endpoint:
        scheme = "http" if settings.get("insecure") else "https"
        url = endpoint if "://" in endpoint else f"{scheme}://{endpoint}"
    style = settings.get("addressingStyle") or ("auto" if not endpoint or "amazonaws.com" in
                                                endpoint else "path")
    style = {"Path": "path", "VirtualHosted": "virtual"}.get(style, style)
    credentials = {}
    if settings.get("accessKeySecret") or settings.get("secretKeySecret"):
        credentials = {"aws_access_key_id": settings.get("accessKeySecret"),
                       "aws_secret_access_key": settings.get("secretKeySecret"),
                       "aws_session_token": settings.get("sessionTokenSecret") or None}
    config = Config(s3={"addressing_style": style}, connect_timeout=10, read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"})
    region = settings.get("region") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.session.Session().client("s3", endpoint_url=url, region_name=region,
                                          config=config, verify=str(ca_file) if ca_file else None,
                                          **credentials)


def check_settings(settings: dict[str, Any], where: str) -> None:
    """Refuse settings argosy cannot honour, naming them."""
    for field, why in REFUSED.items():
        if settings.get(field):
            raise ArgosyError(f"{where}.{field} is not supported here: {why}")
    unknown = set(settings) - KNOWN - set(REFUSED) - {"key"}
    if unknown:
        raise ArgosyError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(KNOWN))})")
    for field in ("accessKeySecret", "secretKeySecret", "sessionTokenSecret", "caSecret"):
        if settings.get(field) is not None and not isinstance(settings[field], str):
            raise ArgosyError(f"{where}.{field}: a Secret's value was expected; give a "
                              "SecretKeySelector {name, key} of a Secret argosy holds")


class S3RepositoryFactory:
    name = NAME
    reachable = True  # a network store: pods reach it as the engine does

    def open(self, home: Path, settings: dict[str, Any]) -> S3Repository:
        check_settings(settings, "artifactRepository.s3")
        return S3Repository({k: v for k, v in settings.items() if k not in ("key", "caSecret")},
                            _ca_file(home, settings.get("caSecret")))


def _ca_file(home: Path, pem: str | None) -> Path | None:
    """A file of the ``caSecret`` CA bundle (PEM, public) for the SDK to verify the endpoint
    with, named by its content."""
    if not pem:
        return None
    path = home / "artifacts-work" / f"ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}")
        temp.write_text(pem)
        os.replace(temp, path)
    return path


@hookimpl
def argosy_artifact_repositories() -> list[S3RepositoryFactory]:
    return [S3RepositoryFactory()]
