"""One strict HTTP exchange with an untrusted service: timeouts on every phase, the body read in
pieces and refused past a size cap (before it is all in memory), JSON checked to be JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2

from .errors import ProviderAnswerError, ProviderUnavailableError


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]          # lower-case names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def make_client(timeout: float) -> httpx2.Client:
    limits = httpx2.Timeout(timeout, connect=min(timeout, 5.0))
    return httpx2.Client(timeout=limits, follow_redirects=True)


def exchange(client: httpx2.Client, provider: str, method: str, url: str, max_bytes: int,
             headers: dict[str, str] | None = None, body: Any = None) -> HttpAnswer:
    """Send one request; ProviderUnavailableError if it cannot be sent or answered in time,
    ProviderAnswerError if the body is larger than max_bytes."""
    try:
        with client.stream(method, url, headers=headers, json=body) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ProviderAnswerError(provider, f"answer of {declared} bytes is over the {max_bytes} byte cap")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise ProviderAnswerError(provider, f"answer is over the {max_bytes} byte cap")
            return HttpAnswer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, bytes(data))
    except httpx2.TimeoutException as e:
        raise ProviderUnavailableError(provider, f"no answer in time ({type(e).__name__})") from None
    except httpx2.HTTPError as e:
        raise ProviderUnavailableError(provider, f"cannot connect ({e})") from None


def json_body(answer: HttpAnswer, provider: str) -> Any:
    """The parsed JSON body; ProviderAnswerError for an HTML page or anything that is not JSON."""
    if answer.content_type and "json" not in answer.content_type:
        raise ProviderAnswerError(provider, f"HTTP {answer.status} answer is {answer.content_type}, not JSON")
    try:
        return json.loads(answer.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProviderAnswerError(provider, f"HTTP {answer.status} answer is not JSON ({e})") from None
