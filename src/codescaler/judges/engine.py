"""A reward model served by an inference engine: vLLM's pooling runner or an SGLang server.

``EngineRewardModel.from_pretrained("vllm+http://rm-node:8000")`` (or ``--model vllm+http://...`` on any
command) scores like :class:`codescaler.judges.reward_model.RewardModel`, so extraction, shaping, calibration, ``rank``,
``bon``, ``serve`` and the TRL/verl adapters work unchanged over it. No weights load here, and this module
imports no torch (transformers' tokenizers need none where it is absent). The client formats each pair
with the RM's own tokenizer (:class:`codescaler.judges.rm_input.RMInput`: the same chat template and truncation
as the local model) and sends **token ids**, so the server reads exactly what a local forward pass would.

The wire formats are the ones verl 0.9's reward loop uses for discriminative RMs:

* vLLM (``vllm serve RM --runner pooling``), ``POST /classify`` with ``{"model", "input": [[ids]],
  "use_activation": false}``; the raw logit is ``data[i]["probs"][0]`` (no sigmoid with
  ``use_activation`` off). https://docs.vllm.ai/en/stable/models/pooling_models/classify/
* SGLang (``python -m sglang.launch_server --model-path RM --is-embedding``), ``POST /v1/embeddings``
  with ``{"model", "input": [[ids]]}``; a sequence classifier's raw score is ``data[i]["embedding"][0]``.
  https://docs.sglang.io/supported_models/reward_models.html

Requests go in batches of at most ``batch_size`` pairs and ``max_batch_tokens`` tokens, at most
``concurrency`` in flight (the server's queue is the backpressure beyond that), each with a timeout and
retries (:func:`codescaler.judges.http.post_json`). Duplicate pairs are sent once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from codescaler.judges.base import Judge, ScoredPair, batches, engine_scheme
from codescaler.judges.calibration import Calibration
from codescaler.judges.http import ServerError, post_json
from codescaler.judges.rm_input import RMInput, load_rm_tokenizer
from codescaler.judges.weights import read_calibration, resolve_model_path


@dataclass(frozen=True)
class Protocol:
    """Where an engine takes pooling requests and where its answer holds each raw score."""

    path: str
    field: str  # the list in each ``data`` row whose only element is the score
    options: tuple[tuple[str, Any], ...] = ()


PROTOCOLS = {
    "vllm": Protocol("/classify", "probs", (("use_activation", False),)),
    "sglang": Protocol("/v1/embeddings", "embedding"),
}


def _url(address: str) -> str:
    """``http://host:8000`` of ``vllm+http://host:8000/``."""
    return address.partition("+")[2].rstrip("/")


class EngineRewardModel(RMInput, Judge):
    """A Bradley–Terry RM on a vLLM or SGLang server, scored through its pooling API."""

    def __init__(
        self,
        address: str,
        tokenizer: Any,
        *,
        served_model: str,
        max_length: int = 4096,
        timeout: float = 120.0,
        retries: int = 3,
        concurrency: int = 8,
        calibration: Calibration | None = None,
    ) -> None:
        import httpx

        scheme = engine_scheme(address)
        if scheme is None:
            raise ValueError(
                f"an engine address looks like vllm+http://host:port or sglang+http://..., got {address!r}"
            )
        if max_length < 16 or concurrency < 1 or retries < 0:
            raise ValueError(
                f"need max_length >= 16, concurrency >= 1, retries >= 0; got {max_length}, {concurrency}, {retries}"
            )
        self.address, self.protocol = address, PROTOCOLS[scheme]
        self.url = _url(address)
        self.tokenizer, self.served_model, self.max_length = tokenizer, served_model, max_length
        self.retries, self.concurrency, self.calibration = retries, concurrency, calibration
        self.http = httpx.Client(timeout=timeout)

    @classmethod
    def from_pretrained(
        cls, address: str, *, tokenizer: str | None = None, max_length: int = 4096, **options: Any
    ) -> EngineRewardModel:
        """Connect to the engine at ``address`` and load the RM's tokenizer: ``tokenizer`` (hub id, folder,
        or a packaged name such as ``codescaler-mini``), by default the model the server says it serves
        (``GET /v1/models``). A folder's calibration (``codescaler_config.json``) comes with it.
        ``options``: ``timeout`` (s per request), ``retries``, ``concurrency`` (requests in flight)."""
        import httpx

        url = _url(address)
        with httpx.Client(timeout=options.get("timeout", 120.0)) as http:
            try:
                response = http.get(url + "/v1/models")
                response.raise_for_status()
                served = response.json()["data"][0]["id"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as err:
                raise ServerError(f"{address}: cannot list its models at /v1/models ({err})") from err
        name = tokenizer or served
        calibration = read_calibration(resolve_model_path(name, None)[0])
        return cls(
            address,
            load_rm_tokenizer(name),
            served_model=served,
            max_length=max_length,
            calibration=calibration,
            **options,
        )

    def fingerprint(self) -> list[Any]:
        """What tells this RM's scores apart from others (a cache key): the server, its model, our reading."""
        calibration = self.calibration.to_dict() if self.calibration else None
        return [self.address, self.served_model, self.max_length, calibration]

    def score_pairs(
        self,
        questions: Sequence[str],
        codes: Sequence[str],
        *,
        batch_size: int | None = None,
        max_batch_tokens: int = 65536,
        show_progress: bool = True,
    ) -> list[ScoredPair]:
        """One :class:`ScoredPair` per pair, in input order. ``batch_size`` (default 64) pairs and
        ``max_batch_tokens`` tokens at most per request."""
        if len(questions) != len(codes):
            raise ValueError(f"got {len(questions)} questions but {len(codes)} codes")
        batch_size = batch_size or 64
        if batch_size < 1 or max_batch_tokens < 1:
            raise ValueError(f"batch_size and max_batch_tokens must be positive, got {batch_size}, {max_batch_tokens}")
        encoded = self.encode(questions, codes)
        unique: dict[tuple[int, ...], int] = {}
        slot = [unique.setdefault(tuple(ids), len(unique)) for ids, _ in encoded]
        sequences = [list(key) for key in unique]
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        requests = batches(order, [len(sequences[i]) for i in order], batch_size, max_batch_tokens)
        scores: list[float] = [float("nan")] * len(sequences)
        with (
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="codescaler-engine") as pool,
            tqdm(total=len(sequences), desc="scoring", unit="seq", disable=not show_progress) as bar,
        ):
            for members, values in zip(requests, pool.map(lambda b: self._post([sequences[i] for i in b]), requests)):
                for i, value in zip(members, values):
                    scores[i] = value
                bar.update(len(members))
        return [ScoredPair(scores[s], truncated, len(ids)) for s, (ids, truncated) in zip(slot, encoded)]

    def _post(self, rows: list[list[int]]) -> list[float]:
        body = {"model": self.served_model, "input": rows, **dict(self.protocol.options)}
        answer = post_json(self.http, self.url + self.protocol.path, body, retries=self.retries)
        return self._read(answer, len(rows))

    def _read(self, answer: Any, n: int) -> list[float]:
        """The raw scores of one answer, in request order; a clear error for any other shape."""
        where = f"{self.address} ({self.protocol.path})"
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != n:
            got = f"{len(data)} rows" if isinstance(data, list) else f"{str(answer)[:200]!r}"
            raise ServerError(f"{where}: expected a 'data' list of {n} rows, got {got}")
        scores = [float("nan")] * n
        for position, row in enumerate(data):
            index = row.get("index", position) if isinstance(row, dict) else None
            values = row.get(self.protocol.field) if isinstance(row, dict) else None
            if not isinstance(index, int) or not 0 <= index < n or not isinstance(values, list) or len(values) != 1:
                raise ServerError(
                    f"{where}: row {position} should hold an index and a one-element {self.protocol.field!r} list "
                    f"(a one-logit sequence classifier, no activation); got {str(row)[:200]!r}"
                )
            scores[index] = float(values[0])
        return scores

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> EngineRewardModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
