"""A client of ``codescaler serve`` with retries (503 with Retry-After, dropped connections): see
:func:`codescaler.judges.http.post_json`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codescaler.judges.http import post_json


class RewardClient:
    def __init__(
        self, url: str = "http://127.0.0.1:8000", *, timeout: float = 60.0, retries: int = 5, api_key: str = ""
    ) -> None:
        """``api_key``: the server's (default ``$CODESCALER_API_KEY``), sent as a bearer token."""
        import httpx

        from codescaler.serving.http import api_key as configured_key

        self.url = url.rstrip("/")
        self.retries = retries
        key = configured_key(api_key)
        self.http = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {key}"} if key else None)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return post_json(self.http, self.url + path, body, retries=self.retries)

    def score(
        self, questions: Sequence[str], responses: Sequence[str], code_prefixes: Sequence[str | None] | None = None
    ) -> list[dict[str, Any]]:
        """One :meth:`codescaler.RewardResult.to_dict` row per (question, response)."""
        prefixes = code_prefixes or [None] * len(questions)
        items = [{"question": q, "response": r, "code_prefix": p} for q, r, p in zip(questions, responses, prefixes)]
        return self._post("/score", {"items": items})["results"]

    def rewards(
        self, questions: Sequence[str], responses: Sequence[str], code_prefixes: Sequence[str | None] | None = None
    ) -> list[float]:
        """Shaped rewards only: a :data:`codescaler.rewards.kinds.RMFunction`, served."""
        return [r["reward"] for r in self.score(questions, responses, code_prefixes)]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
