"""Front end 1: a ``requests`` transport adapter that answers from the fake, with no sockets."""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

if TYPE_CHECKING:
    from ._fake import FakePostHog


class FakeAdapter(BaseAdapter):
    """Mount on a ``Session`` for http:// and https://: nothing can reach the network."""

    def __init__(self, fake: FakePostHog) -> None:
        super().__init__()
        self.fake = fake

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        answer = self.fake.handle(
            request.method or "GET", url.path, query, dict(request.headers), bytes(body)
        )
        if answer.delay:
            time.sleep(answer.delay)
        if answer.error == "timeout":
            raise requests.exceptions.ReadTimeout("fake PostHog: injected timeout", request=request)
        if answer.error == "connection":
            raise requests.exceptions.ConnectionError(
                "fake PostHog: injected connection error", request=request
            )
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = io.BytesIO(answer.body)
        response.url = request.url or ""
        response.request = request
        response.reason = "fake"
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass
