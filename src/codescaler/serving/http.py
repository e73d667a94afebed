"""What codescaler's HTTP servers share: body limits and Prometheus metrics."""

from __future__ import annotations

import time


def instrument(app, registry, max_body_bytes: int, prefix: str) -> None:
    """What codescaler's HTTP servers share: 413 for a body past ``max_body_bytes``, requests counted and
    timed per endpoint under ``prefix``, and ``GET /metrics`` (Prometheus)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, PlainTextResponse
    from prometheus_client import Counter, Histogram, generate_latest

    requests = Counter(f"{prefix}_requests", "HTTP requests", ["endpoint", "status"], registry=registry)
    latency = Histogram(f"{prefix}_request_seconds", "request latency", ["endpoint"], registry=registry)

    @app.middleware("http")
    async def limits(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse({"detail": f"body of {length} bytes exceeds {max_body_bytes}"}, 413)
        started = time.perf_counter()
        response = await call_next(request)
        requests.labels(request.url.path, str(response.status_code)).inc()
        latency.labels(request.url.path).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")
