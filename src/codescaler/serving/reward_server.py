"""An HTTP reward server with dynamic batching (FastAPI + uvicorn).

Requests are split into items and queued; one batcher task takes whatever arrived within
``max_wait_ms`` of the first waiting item (up to ``ScoringConfig.max_batch_tokens``) and scores it in one
:func:`codescaler.rewards.kinds.reward` call on a single worker thread, so concurrent single-item requests
share forward passes and the shared-prefix cache of GRPO groups. The model runs on one thread: the
event loop keeps accepting while it computes.

Endpoints: ``POST /score``, ``POST /get_reward`` (OpenRLHF's remote RM protocol), ``GET /health``,
``GET /metrics`` (Prometheus). A full queue answers 503 with ``Retry-After``; an oversized body 413;
malformed JSON or fields 422 with the reason. On SIGTERM uvicorn stops accepting, lets in-flight
requests finish (the batcher keeps running until they have), then exits.
"""

# No `from __future__ import annotations` here: FastAPI reads the request models from the endpoint
# annotations at run time, and those models are local to create_app.
import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from codescaler.extraction.extract import strip_special_tokens
from codescaler.rewards.kinds import ScoringConfig, reward
from codescaler.serving.http import ListenConfig, api_key, instrument, warn_if_open


@dataclass
class ServeConfig(ListenConfig):
    max_wait_ms: float = field(default=10.0, metadata={"help": "how long the first queued item waits for company"})
    max_batch_items: int = field(default=256, metadata={"help": "most items scored together (1: no batching)"})
    max_queue: int = field(default=4096, metadata={"help": "queued items before requests get 503"})
    max_body_bytes: int = field(default=8 << 20, metadata={"help": "largest request body"})


@dataclass
class _Item:
    question: str
    response: str
    code_prefix: str | None
    future: asyncio.Future
    tokens: int


class Batcher:
    """Collects queued items into batches and scores them on one worker thread."""

    def __init__(self, model, reward_config: ScoringConfig, config: ServeConfig, metrics: dict[str, Any]) -> None:
        self.model, self.reward_config, self.config, self.metrics = model, reward_config, config, metrics
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codescaler-rm")
        self.task: asyncio.Task | None = None

    def full(self, extra: int) -> bool:
        return self.queue.qsize() + extra > self.config.max_queue

    async def submit(self, items: list[tuple[str, str, str | None]]) -> list[Any]:
        loop = asyncio.get_running_loop()
        queued = [_Item(q, r, p, loop.create_future(), (len(q) + len(r)) // 3 + 16) for q, r, p in items]
        for item in queued:
            self.queue.put_nowait(item)
        return await asyncio.gather(*(item.future for item in queued))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            tokens = batch[0].tokens
            deadline = loop.time() + self.config.max_wait_ms / 1000
            while len(batch) < self.config.max_batch_items:
                timeout = deadline - loop.time()
                try:
                    if timeout <= 0:
                        item = self.queue.get_nowait()
                    else:
                        item = await asyncio.wait_for(self.queue.get(), timeout)
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                batch.append(item)
                tokens += item.tokens
                if tokens >= self.reward_config.max_batch_tokens:
                    break
            try:
                results = await loop.run_in_executor(self.pool, self._score, batch)
            except Exception as err:  # the requests get the error, the server keeps serving
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(err)
                continue
            self.metrics["batches"].observe(len(batch))
            for item, result in zip(batch, results):
                if not item.future.done():
                    item.future.set_result(result)

    def _score(self, batch: list[_Item]):
        return score_items(self.model, self.reward_config, [(i.question, i.response, i.code_prefix) for i in batch])

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.pool.shutdown(wait=True)

    def queued(self) -> int:
        return self.queue.qsize()


def score_items(model, reward_config: ScoringConfig, items: list[tuple[str, str, str | None]]) -> list[Any]:
    """One :class:`codescaler.rewards.kinds.RewardResult` per (question, response, code prefix), in one call."""
    prefixes = [p for _, _, p in items]
    return reward(
        model,
        [q for q, _, _ in items],
        [r for _, r, _ in items],
        code_prefixes=prefixes if any(p is not None for p in prefixes) else None,
        config=reward_config,
        show_progress=False,
    )


def create_app(
    model, reward_config: ScoringConfig | None = None, config: ServeConfig | None = None, scorer: Any = None
):
    """The FastAPI app serving ``model``: its items are scored by ``scorer`` (default: a :class:`Batcher` of
    ``model`` in this process; Ray Serve's scorer has the same five methods)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from pydantic import BaseModel, Field

    config = config or ServeConfig()
    registry = CollectorRegistry()
    metrics = {
        "items": Counter("codescaler_items", "items scored", registry=registry),
        "batches": Histogram(
            "codescaler_batch_size",
            "items per forward batch",
            registry=registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        ),
    }
    batcher = scorer or Batcher(model, reward_config or ScoringConfig(), config, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="codescaler reward server", lifespan=lifespan)

    class Item(BaseModel):
        question: str
        response: str
        code_prefix: str | None = None

    class ScoreRequest(BaseModel):
        items: list[Item] = Field(min_length=1)

    class RewardRequest(BaseModel):
        query: list[str] = Field(min_length=1)
        prompts: list[str] | None = None

    instrument(app, registry, config.max_body_bytes, "codescaler", api_key(config.api_key))

    def busy(extra: int) -> JSONResponse | None:
        if batcher.full(extra):
            return JSONResponse({"detail": "queue full"}, 503, headers={"Retry-After": "1"})
        return None

    @app.post("/score")
    async def score(body: ScoreRequest):
        if refusal := busy(len(body.items)):
            return refusal
        results = await batcher.submit([(i.question, i.response, i.code_prefix) for i in body.items])
        metrics["items"].inc(len(results))
        return {"results": [r.to_dict() for r in results]}

    @app.post("/get_reward")
    async def get_reward(body: RewardRequest):
        prompts = body.prompts or [""] * len(body.query)
        if len(prompts) != len(body.query):
            return JSONResponse({"detail": f"{len(prompts)} prompts for {len(body.query)} queries"}, 422)
        # OpenRLHF sends prompt + response as one query string; the response is what follows the prompt. Both come
        # decoded with their special tokens: the question the RM reads loses its padding, as in OpenRLHF's serve_rm.
        items: list[tuple[str, str, str | None]] = [
            (strip_special_tokens(p), q[len(p) :] if q.startswith(p) else q, None) for p, q in zip(prompts, body.query)
        ]
        if refusal := busy(len(items)):
            return refusal
        results = await batcher.submit(items)
        metrics["items"].inc(len(results))
        return {"rewards": [r.reward for r in results]}

    @app.get("/health")
    async def health():
        return {"status": "ok", "queued": batcher.queued()}

    return app


def serve(model, reward_config: ScoringConfig | None = None, config: ServeConfig | None = None) -> None:
    """Run the server until SIGINT/SIGTERM, draining in-flight requests first."""
    import uvicorn

    config = config or ServeConfig()
    app = create_app(model, reward_config, config)
    warn_if_open(config.host, api_key(config.api_key), "codescaler serve")
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=30)
