"""A strict JSON-over-HTTP client for apps' local servers (Ollama, InvokeAI).

stdlib http.client: one connection per request, a hard timeout on connect and on every read,
answers capped in size and decoded as JSON here, so an adapter only ever sees a parsed value or
an AppApiError whose message is one line naming the app, what failed and the remedy.
"""

from __future__ import annotations

import enum
import http.client
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..errors import ModelshelfError

MAX_ANSWER_BYTES = 4 * 1024 * 1024   # a model list of thousands of entries fits; a runaway stream does not


class Failure(enum.StrEnum):
    UNAVAILABLE = "unavailable"   # refused, timed out, reset: the server is not running (retry later)
    GARBAGE = "garbage"           # answered, but not what its API answers (retry later)
    REFUSED = "refused"           # a clear no from the app (4xx with a reason): retrying will not help


class AppApiError(ModelshelfError, ConnectionError):
    """An app's HTTP API could not be used; str() is one line with the remedy."""

    def __init__(self, app: str, url: str, failure: Failure, detail: str, remedy: str = "",
                 status: int | None = None) -> None:
        remedy = remedy or {Failure.UNAVAILABLE: f"start {app} (modelshelf retries on its own)",
                            Failure.GARBAGE: f"check that {url} is {app}'s server (modelshelf retries on its own)",
                            Failure.REFUSED: "see the app's log"}[failure]
        super().__init__(f"{app} at {url}: {detail}; {remedy}")
        self.app, self.url, self.failure, self.status = app, url, failure, status

    @property
    def retryable(self) -> bool:
        return self.failure is not Failure.REFUSED


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any            # parsed JSON (None for an empty body)


class JsonHttp:
    """Requests to one app server. Holds no connection between calls (apps restart under us)."""

    def __init__(self, app: str, base_url: str, timeout: float) -> None:
        self.app, self.url, self.timeout = app, base_url.rstrip("/"), timeout
        parts = urllib.parse.urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        try:
            self._host, self._port = parts.hostname, parts.port or 80
        except ValueError:   # a port that is not a number
            self._host, self._port = None, 0
        self._usable = parts.scheme == "http" and bool(self._host)
        self._prefix = parts.path.rstrip("/")

    def request(self, method: str, path: str, body: Any = None, *, timeout: float | None = None,
                expect: tuple[int, ...] = (200,)) -> Answer:
        """One request; statuses outside expect raise (4xx REFUSED, others GARBAGE)."""
        if not self._usable:
            raise AppApiError(self.app, self.url, Failure.REFUSED, "only http://host:port URLs are supported",
                              "fix the app's url in the config")
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout or self.timeout)
        try:
            conn.request(method, self._prefix + path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read(MAX_ANSWER_BYTES + 1) if method != "HEAD" else b""
        except TimeoutError:
            raise self._error(Failure.UNAVAILABLE, f"no answer within {timeout or self.timeout:g} s") from None
        except (ConnectionError, OSError) as e:
            raise self._error(Failure.UNAVAILABLE, f"cannot connect ({e.strerror or type(e).__name__})") from None
        except http.client.HTTPException as e:
            raise self._error(Failure.GARBAGE, f"not an HTTP answer ({type(e).__name__})") from None
        finally:
            conn.close()
        if len(raw) > MAX_ANSWER_BYTES:
            raise self._error(Failure.GARBAGE, f"answer larger than {MAX_ANSWER_BYTES} bytes")
        parsed = self._decode(raw, response.getheader("Content-Type") or "")
        if response.status not in expect:
            raise self._status_error(method, path, response.status, parsed)
        return Answer(response.status, parsed)

    def _decode(self, raw: bytes, content_type: str) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            if "json" in content_type:
                raise self._error(Failure.GARBAGE, "answered JSON that does not parse") from None
            return raw[:200].decode("utf-8", "replace")   # plain text ("Ollama is running", an HTML error page)

    def _status_error(self, method: str, path: str, status: int, body: Any) -> AppApiError:
        reason = _reason(body)
        failure = Failure.REFUSED if 400 <= status < 500 else Failure.GARBAGE
        if status in (408, 429, 502, 503, 504):
            failure = Failure.UNAVAILABLE
        return AppApiError(self.app, self.url, failure, f"{method} {path} answered HTTP {status}{reason}",
                           status=status)

    def _error(self, failure: Failure, detail: str) -> AppApiError:
        return AppApiError(self.app, self.url, failure, detail)

    def garbage(self, what: str) -> AppApiError:
        """For a client that found the answer's JSON not shaped as the API documents it."""
        return self._error(Failure.GARBAGE, f"unexpected answer: {what}")


def _reason(body: Any) -> str:
    """The app's own error text, one line, short: Ollama sends {"error": ...}, FastAPI {"detail": ...}."""
    text = ""
    if isinstance(body, dict):
        text = body.get("error") or body.get("detail") or ""
        if not isinstance(text, str):
            text = json.dumps(text)[:200]
    elif isinstance(body, str):
        text = body
    text = " ".join(text.split())[:200]
    return f" ({text})" if text else ""
