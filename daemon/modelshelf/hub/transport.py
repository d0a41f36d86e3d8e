"""The HTTP layer under huggingface_hub, made strict.

huggingface_hub passes timeout=None on some calls (list_models, model_info, list_repo_tree),
which overrides any client default, and its pagination and http_backoff retry 429/5xx/timeouts
up to 5 times, sleeping Retry-After each time: a lookup thread could block for many minutes.
This transport sets the timeouts on every request itself and turns 429, 5xx and network
failures into HubUnavailableError, which the library does not retry: our throttle and circuit
breaker decide what happens next, for every thread at once.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import httpx2
from huggingface_hub.utils import set_client_factory

from ..errors import HubUnavailableError


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds, from either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class StrictTransport(httpx2.BaseTransport):
    def __init__(self, timeout: float) -> None:
        self._inner = httpx2.HTTPTransport()
        self._timeout = {"connect": min(timeout, 5.0), "read": timeout, "write": timeout, "pool": timeout}

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.extensions["timeout"] = dict(self._timeout)
        try:
            response = self._inner.handle_request(request)
        except httpx2.TimeoutException as e:
            raise HubUnavailableError(f"no answer within {self._timeout['read']:.0f} s ({type(e).__name__})") from None
        except httpx2.TransportError as e:
            raise HubUnavailableError(f"cannot connect ({e})") from None
        if response.status_code == 429:
            retry = parse_retry_after(response.headers.get("Retry-After"))
            response.close()
            raise HubUnavailableError("rate limited (HTTP 429)", retry_after=retry if retry is not None else 60.0)
        if response.status_code >= 500 or response.status_code == 408:  # both retried by the library
            response.close()
            raise HubUnavailableError(f"server error (HTTP {response.status_code})")
        return response

    def close(self) -> None:
        self._inner.close()


def install_strict_transport(timeout: float) -> None:
    """Make every huggingface_hub request go through StrictTransport (bounded timeouts).

    huggingface_hub keeps one client factory for the whole process, so this is process-wide state:
    the wiring (hub/wiring.py) installs it once, before it builds the client, rather than the
    client doing it as a side effect of being constructed."""
    set_client_factory(client_factory(timeout))


def client_factory(timeout: float) -> Callable[[], httpx2.Client]:
    from huggingface_hub.utils._http import hf_request_event_hook

    def factory() -> httpx2.Client:
        return httpx2.Client(transport=StrictTransport(timeout), follow_redirects=True,
                             event_hooks={"request": [hf_request_event_hook]})
    return factory
