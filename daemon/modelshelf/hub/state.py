"""What an online service's client reports about itself (the Hub, CivitAI): one shape for both."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from .throttle import CircuitBreaker, SlidingWindowThrottle


class ServiceStatus(enum.StrEnum):
    OFFLINE = "offline"              # chosen: no calls at all
    BREAKER_OPEN = "breaker_open"    # too many failures in a row: resting
    THROTTLED = "throttled"          # the service asked us to wait (429)
    ONLINE = "online"
    UNREACHABLE = "unreachable"      # the last call failed


@dataclass(frozen=True)
class ServiceState:
    state: ServiceStatus
    endpoint: str
    calls: int
    calls_in_window: int
    limit_per_minute: int
    breaker_open_for_s: int
    paused_for_s: int
    last_error: str | None
    details: tuple[tuple[str, Any], ...] = ()    # what one service adds (CivitAI: nsfw, token)

    def as_json(self) -> dict[str, Any]:
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "details"}
        return plain | dict(self.details)


def service_state(*, offline: bool, endpoint: str, calls: int, limit: int, throttle: SlidingWindowThrottle,
                  breaker: CircuitBreaker, last_error: str | None, **details: Any) -> ServiceState:
    if offline:
        state = ServiceStatus.OFFLINE
    elif breaker.open_for():
        state = ServiceStatus.BREAKER_OPEN
    elif throttle.paused_for():
        state = ServiceStatus.THROTTLED
    else:
        state = ServiceStatus.ONLINE if last_error is None else ServiceStatus.UNREACHABLE
    return ServiceState(state, endpoint, calls, throttle.in_window(), limit, round(breaker.open_for()),
                        round(throttle.paused_for()), last_error, tuple(details.items()))
