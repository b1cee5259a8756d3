"""HTTP: one request (`call`), and a client of a local gateway and the emulator it runs on."""

import json
import sys
import urllib.error
import urllib.request
from typing import NamedTuple


class Failure(Exception):
    """What a script could not do: an answer it did not expect, a mail that never came."""


class Answer(NamedTuple):
    status: int
    body: object  # the parsed JSON, the text if it is not JSON, None if empty
    headers: object


def call(method, url, body=None, token=None, raw=None, content_type="application/json", headers=None,
         timeout=60):
    """One request, a JSON `body` or `raw` bytes. An error status is an answer; a refused
    connection or a timeout raises (OSError)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("content-type", content_type)
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload, status, headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        payload, status, headers = error.read(), error.code, error.headers
    try:
        return Answer(status, json.loads(payload) if payload else None, headers)
    except ValueError:
        return Answer(status, payload.decode(errors="replace"), headers)


class Client:
    """A local gateway at `base` and the emulator at `emulator`. Every request goes out through
    `send` (call's arguments; soak.py's retries and counts)."""

    def __init__(self, base, emulator, send=call):
        self.base, self.emulator, self.send = base, emulator, send

    def api(self, method, path, token=None, body=None, expect=(200,), content_type="application/json",
            with_headers=False):
        """The gateway's answer's body (with_headers: and headers); its status must be in `expect`."""
        status, answer, headers = self.send(method, self.base + path, body=body, token=token,
                                            content_type=content_type)
        if status not in expect:
            raise Failure(f"{method} {path} answered {status}: {answer}")
        return (answer, headers) if with_headers else answer

    def login(self, email, password, tenant_id=None):
        body = {"email": email, "password": password}
        if tenant_id:
            body["tenant_id"] = tenant_id
        return self.api("POST", "/v1/auth/login", body=body)["access_token"]

    def sent_mail(self):
        """Every mail SES has "sent" (scripts/emulator.py): [{to, subject, body}], oldest first."""
        return self.send("GET", f"{self.emulator}/_roster/sent-mail").body or []


def run(main):
    """main()'s result; a Failure ends the script with its message instead of a traceback."""
    try:
        return main()
    except Failure as failure:
        sys.exit(f"FAILED: {failure}")
