"""What codescaler's HTTP servers share: an API key, body limits and Prometheus metrics.

The key: a server started with one (``--api-key``, or ``$CODESCALER_API_KEY``) answers 401 to any request that
does not carry it (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) before reading its body, so nothing
runs; only the liveness probes (``/health``, ``/v1/ping``) stay open. The key is compared in constant time,
never logged, and never a metric label.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)
API_KEY_ENV = "CODESCALER_API_KEY"
OPEN_PATHS = ("/health", "/v1/ping")


@dataclass
class ListenConfig:
    """Where a service listens, and the key it asks for: the flags both servers share."""

    host: str = field(default="127.0.0.1", metadata={"help": "interface to listen on"})
    api_key: str = field(
        default="", metadata={"help": "requests must carry it (Bearer or X-API-Key); default $CODESCALER_API_KEY"}
    )
    port: int = field(default=8000, metadata={"help": "TCP port"})

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:  # uvicorn would listen on some other port and say this one
            raise ValueError(f"port {self.port} is not a TCP port (0 to 65535)")


def api_key(configured: str) -> str:
    """The key a server requires: its flag, else ``$CODESCALER_API_KEY``; empty for none."""
    return configured or os.environ.get(API_KEY_ENV, "")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address a server binds) is reachable from this machine only."""
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


def warn_if_open(host: str, key: str, what: str) -> None:
    if not key and not is_loopback(host):
        logger.warning(
            "%s listens on %s with no API key: anyone who reaches it can use it (set --api-key or $%s)",
            what,
            host,
            API_KEY_ENV,
        )


def presented_key(headers) -> str:
    bearer = headers.get("authorization", "")
    return bearer[7:].strip() if bearer.lower().startswith("bearer ") else headers.get("x-api-key", "")


def instrument(app, registry, max_body_bytes: int, prefix: str, key: str = "") -> None:
    """401 without ``key`` (when one is set), 413 for a body past ``max_body_bytes``, requests counted and timed
    per endpoint under ``prefix``, and ``GET /metrics`` (Prometheus)."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from prometheus_client import Counter, Histogram, generate_latest

    requests = Counter(f"{prefix}_requests", "HTTP requests", ["endpoint", "status"], registry=registry)
    latency = Histogram(f"{prefix}_request_seconds", "request latency", ["endpoint"], registry=registry)
    expected = key.encode()

    @app.middleware("http")
    async def limits(request: Request, call_next):
        if expected and request.url.path not in OPEN_PATHS:
            if not hmac.compare_digest(presented_key(request.headers).encode(), expected):
                requests.labels(request.url.path, "401").inc()
                return JSONResponse({"detail": "a valid API key is required"}, 401, {"WWW-Authenticate": "Bearer"})
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse({"detail": f"body of {length} bytes exceeds {max_body_bytes}"}, 413)
        started = time.perf_counter()
        response = await call_next(request)
        requests.labels(request.url.path, str(response.status_code)).inc()
        latency.labels(request.url.path).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def refused(request: Request, err: RequestValidationError):
        """422 that says which field and why, in one line; a body that is not JSON says how to send one."""
        content_type = request.headers.get("content-type", "")
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in err.errors()
        ]
        detail = "; ".join(problems)
        if "json" not in content_type:
            sent = content_type or "no content type"
            detail = f"the body must be JSON, sent with Content-Type: application/json (got {sent}); {detail}"
        return JSONResponse({"detail": detail}, 422)

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")


@dataclass
class ReplicaConfig:
    """How many worker replicas a service has when it runs on Ray Serve (``--engine ray``)."""

    min_replicas: int = field(default=1, metadata={"help": "fewest worker replicas on Ray Serve"})
    max_replicas: int = field(default=2, metadata={"help": "most worker replicas on Ray Serve"})
    target_queue: int = field(
        default=0, metadata={"help": "requests queued per replica before Serve adds one (0: one per worker)"}
    )
