"""Jupyter's cookie login and XSRF check in front of the routes."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from jupyter_harness import API, echo
from tornado.httpclient import HTTPClientError


def _cookies(resp: Any) -> dict[str, str]:
    out = {}
    for header in resp.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        out[name] = rest.split(";", 1)[0]
    return out


async def _login(jp_fetch: Any, token: str) -> dict[str, str]:
    """Log in with the form, as a browser does: the login cookie and the _xsrf cookie."""
    page = await jp_fetch("login", headers={"Authorization": ""})
    cookies = _cookies(page)
    xsrf = cookies["_xsrf"]
    form = urllib.parse.urlencode({"_xsrf": xsrf, "password": token})
    with pytest.raises(HTTPClientError) as redirect:
        await jp_fetch("login", method="POST", body=form, follow_redirects=False,
                       headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}",
                                "Content-Type": "application/x-www-form-urlencoded"})
    assert redirect.value.code == 302
    assert redirect.value.response is not None
    cookies.update(_cookies(redirect.value.response))
    return cookies


async def test_cookie_writes_need_xsrf(jp_fetch: Any, jp_serverapp: Any) -> None:
    cookies = await _login(jp_fetch, jp_serverapp.identity_provider.token)
    jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
    browser = {"Authorization": "", "Cookie": jar}

    # Reads with the login cookie alone are fine.
    listed = await jp_fetch(*API, "workflows", "default", headers=browser)
    assert json.loads(listed.body) == {"metadata": {}, "items": []}

    body = json.dumps({"workflow": echo("by-cookie")})
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(*API, "workflows", "default", method="POST", body=body,
                       headers=browser)
    assert refused.value.code == 403
    assert refused.value.response is not None
    assert json.loads(refused.value.response.body) == {
        "code": 7, "message": "'_xsrf' argument missing from POST"}
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(*API, "workflows", "default", "by-cookie", method="DELETE",
                       headers=browser)
    assert refused.value.code == 403

    created = await jp_fetch(*API, "workflows", "default", method="POST", body=body,
                             headers={**browser, "X-XSRFToken": cookies["_xsrf"]})
    assert json.loads(created.body)["metadata"]["name"] == "by-cookie"
