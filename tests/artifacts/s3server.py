"""A real S3-protocol server for tests: moto's server mode on loopback, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Credentials the SDK's chain finds in the environment (the server accepts any).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "env-access", "AWS_SECRET_ACCESS_KEY": "env-secret"}


@contextmanager
def s3_server() -> Iterator[str]:
    """``host:port`` of a fresh server while in the block."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
