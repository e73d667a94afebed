"""One JSON POST with retries, shared by the clients of reward servers: ``codescaler serve``
(:mod:`codescaler.integrations.client`) and engine-served RMs (:mod:`codescaler.judges.engine`).

Retried: a dropped or refused connection, a timeout, and the answers a loaded server gives for "later"
(429, 502, 503, 504; ``Retry-After`` is obeyed). Anything else fails at once, and every failure names
the server, so a run that cannot reach its RM says which one.
"""

from __future__ import annotations

import time
from typing import Any

RETRIED_STATUS = (429, 502, 503, 504)


class ServerError(RuntimeError):
    """A reward server that is down, refuses the request, or answers something we cannot read."""


def post_json(http: Any, url: str, body: dict[str, Any], *, retries: int = 5, max_delay: float = 30.0) -> Any:
    """POST ``body`` to ``url`` with the ``httpx.Client`` ``http``; the decoded JSON answer."""
    import httpx

    delay = 0.5
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = http.post(url, json=body)
        except httpx.TransportError as err:  # refused, dropped, timed out
            if last:
                raise ServerError(f"{url}: no answer after {retries + 1} tries ({type(err).__name__}: {err})") from err
        else:
            if response.status_code not in RETRIED_STATUS or last:
                if response.is_error:
                    raise ServerError(f"{url} answered {response.status_code}: {response.text[:300]}")
                try:
                    return response.json()
                except ValueError as err:
                    raise ServerError(f"{url} answered with a body that is not JSON: {response.text[:200]!r}") from err
            delay = float(response.headers.get("Retry-After", delay))
        time.sleep(min(delay, max_delay))
        delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")
