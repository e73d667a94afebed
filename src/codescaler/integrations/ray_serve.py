"""``codescaler serve-sandbox`` and ``codescaler serve`` as Ray Serve applications (``--engine ray``).

Each application is two deployments. The ingress is the very FastAPI app the single process serves (same routes,
same ``--api-key``, same limits and metrics), reached through Serve's HTTP proxy on every node. The workers hold
what is costly (a warm sandbox, or a loaded reward model) and autoscale between ``--min-replicas`` and
``--max-replicas`` on their queue length; Serve checks their health, replaces one that dies and drains one
that stops (``graceful_shutdown_timeout_s``: the longest a program may run). The ingress calls them through a
deployment handle and calls again where the replica died before it answered: the request's answer was never
seen, so running it again is a retry of the infrastructure, never of a verdict. On Serve the reward service's
dynamic batching is ``@serve.batch`` on the worker.

On a cluster, ``serve deploy`` takes the builders below (``sandbox_app``, ``reward_app``); ``docs/ray.md`` has a
config.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from dataclasses import fields
from typing import Any

try:
    from ray import serve
    from ray.exceptions import RayActorError
except ImportError as err:
    raise ImportError("--engine ray needs Ray Serve: pip install 'codescaler[ray]'") from err

from codescaler.execution.sandbox import Limits, Sandbox
from codescaler.records.errors import InputError
from codescaler.rewards.kinds import ScoringConfig
from codescaler.serving import reward_server, sandbox_server
from codescaler.serving.http import ReplicaConfig
from codescaler.serving.reward_server import ServeConfig
from codescaler.serving.sandbox_server import SandboxServeConfig

_PROBE = 'print("ok")'  # a worker replica is healthy when its sandbox runs a program


async def call_replica(method: Any, *args: Any, attempts: int = 6) -> Any:
    """``method.remote(*args)`` on a worker replica, again on another replica where the one that had it died
    before answering (Serve replaces it meanwhile). A program's or a model's own error is an answer: not retried."""

    for attempt in range(attempts):
        try:
            return await method.remote(*args)
        except RayActorError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.25 * 2**attempt)


class SandboxWorker:
    """A worker replica: one warm sandbox."""

    def __init__(self, limits: Limits, workers: int) -> None:
        self.sandbox = Sandbox(workers=workers, limits=limits)

    def run_one(self, *args: Any) -> list:
        return self.sandbox.run_one(*args)

    def judge(self, problem: dict[str, Any]) -> Any:
        return sandbox_server.judge(self.sandbox, problem)

    def size(self) -> int:
        return self.sandbox.size

    def check_health(self) -> None:
        outcome = self.sandbox.run_one(_PROBE, [{"type": "stdio", "input": ""}])[0]
        if outcome.get("status") != "completed":
            raise RuntimeError(f"the sandbox cannot run a program: {outcome.get('status')} {outcome.get('detail')}")

    def __del__(self) -> None:
        self.sandbox.close()


class ServedSandbox:
    """The sandbox service's runner (see :class:`codescaler.serving.sandbox_server.LocalSandbox`) over the
    worker deployment."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def run_one(self, *args: Any) -> list:
        return await call_replica(self.handle.run_one, *args)

    async def judge(self, problem: dict[str, Any]) -> Any:
        return await call_replica(self.handle.judge, problem)

    async def size(self) -> int:
        """One replica's workers."""
        return await call_replica(self.handle.size)


class RewardWorker:
    """A worker replica: one loaded reward model, scoring what ``@serve.batch`` gathers from concurrent calls."""

    def __init__(self, model_kwargs: dict[str, Any], reward_config: ScoringConfig, config: ServeConfig) -> None:
        from codescaler.judges import load_judge

        self.model, self.reward_config = load_judge(**model_kwargs), reward_config
        self.score.set_max_batch_size(config.max_batch_items)
        self.score.set_batch_wait_timeout_s(config.max_wait_ms / 1000)

    @serve.batch
    async def score(self, items: list[tuple[str, str, str | None]]) -> list[Any]:
        # The model computes on a thread, so the replica keeps taking calls into the next batch meanwhile.
        return await asyncio.to_thread(reward_server.score_items, self.model, self.reward_config, items)


class ServedScorer:
    """The reward service's scorer (see :class:`codescaler.serving.reward_server.Batcher`) over the worker
    deployment: one call per item, so that ``@serve.batch`` batches items of different requests together."""

    def __init__(self, handle: Any, max_queue: int) -> None:
        self.handle, self.max_queue, self.in_flight = handle, max_queue, 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def full(self, extra: int) -> bool:
        return self.in_flight + extra > self.max_queue

    def queued(self) -> int:
        return self.in_flight

    async def submit(self, items: list[tuple[str, str, str | None]]) -> list[Any]:
        self.in_flight += len(items)
        try:
            return await asyncio.gather(*(call_replica(self.handle.score, item) for item in items))
        finally:
            self.in_flight -= len(items)


class SandboxIngress:
    def __init__(self, workers: Any, limits: Limits, config: SandboxServeConfig) -> None:
        self.app_args = (limits, config, ServedSandbox(workers))

    def __serve_build_asgi_app__(self) -> Any:
        return sandbox_server.create_app(*self.app_args)


class RewardIngress:
    def __init__(self, workers: Any, reward_config: ScoringConfig, config: ServeConfig) -> None:
        self.app_args = (None, reward_config, config, ServedScorer(workers, config.max_queue))

    def __serve_build_asgi_app__(self) -> Any:
        return reward_server.create_app(*self.app_args)


def _autoscaling(replicas: ReplicaConfig, per_replica: int) -> dict[str, Any]:
    if not 1 <= replicas.min_replicas <= replicas.max_replicas:
        raise InputError(
            f"--min-replicas must be at least 1 and at most --max-replicas, got {replicas.min_replicas} and "
            f"{replicas.max_replicas}"
        )
    return {
        "min_replicas": replicas.min_replicas,
        "max_replicas": replicas.max_replicas,
        "target_ongoing_requests": replicas.target_queue or per_replica,
    }


def sandbox_application(limits: Limits, config: SandboxServeConfig, replicas: ReplicaConfig) -> Any:
    """The serve-sandbox application: an ingress and autoscaling sandbox replicas of ``config.workers`` each."""
    workers = config.workers or 1
    grace = config.max_run_timeout + config.max_compile_timeout  # a stopping replica finishes what it runs
    worker = serve.deployment(
        SandboxWorker,
        name="SandboxWorker",
        ray_actor_options={"num_cpus": workers},
        # Requests wait for a sandbox worker in the replica, not in Serve's router, which backs off up to 0.5 s
        # between tries on full replicas; what waits in a replica still counts for autoscaling.
        max_ongoing_requests=config.max_queue,
        autoscaling_config=_autoscaling(replicas, workers),
        graceful_shutdown_timeout_s=grace,
        health_check_period_s=10,
        health_check_timeout_s=grace + 10,  # a busy replica's probe waits for a free worker
    )
    ingress = _ingress(SandboxIngress, config.max_queue, grace, replicas)
    return ingress.bind(worker.bind(limits, workers), limits, config)


def reward_application(
    model_kwargs: dict[str, Any],
    reward_config: ScoringConfig,
    config: ServeConfig,
    replicas: ReplicaConfig,
    num_gpus: float = 0,
) -> Any:
    """The reward application: an ingress and autoscaling RM replicas, each batching with ``@serve.batch``."""
    worker = serve.deployment(
        RewardWorker,
        name="RewardWorker",
        ray_actor_options={"num_cpus": 1, "num_gpus": num_gpus},
        max_ongoing_requests=2 * config.max_batch_items,  # a batch computing and the next one filling
        autoscaling_config=_autoscaling(replicas, config.max_batch_items),
        graceful_shutdown_timeout_s=30,
    )
    ingress = _ingress(RewardIngress, config.max_queue, 30, replicas)
    return ingress.bind(worker.bind(model_kwargs, reward_config, config), reward_config, config)


def _ingress(cls: type, max_queue: int, grace: float, replicas: ReplicaConfig) -> Any:
    """The HTTP deployment: no CPU of its own (it waits on the workers), and as many replicas as the workers may
    have, so that on a large cluster one Python process is not every request's door."""
    return serve.deployment(
        serve.ingress()(cls),
        name=cls.__name__,
        ray_actor_options={"num_cpus": 0},
        max_ongoing_requests=max_queue,
        autoscaling_config=_autoscaling(replicas, max(1, max_queue // 2)),
        graceful_shutdown_timeout_s=grace,
    )


def run(application: Any, name: str, host: str, port: int) -> None:
    """Deploy ``application`` behind Serve's HTTP proxy at ``host:port`` and keep it until SIGINT or SIGTERM; then
    delete it, each replica finishing what it holds first."""
    from codescaler.integrations.ray import ray_required

    ray_required()
    serve.start(http_options={"host": host, "port": port, "location": "EveryNode"})
    serve.run(application, name=name, route_prefix="/")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serve.delete(name)


def sandbox_app(args: dict[str, Any]) -> Any:
    """The builder ``serve run``/``serve deploy`` take: ``args`` holds any field of :class:`Limits`,
    :class:`SandboxServeConfig` and :class:`ReplicaConfig`."""
    return sandbox_application(*(_pick(cls, args) for cls in (Limits, SandboxServeConfig, ReplicaConfig)))


_MODEL_ARGS = ("judge", "model", "gguf_file", "dtype", "device", "max_length", "tokenizer")


def reward_app(args: dict[str, Any]) -> Any:
    """The builder for the reward service: ``args`` holds ``model`` and the other model flags (``judge``,
    ``dtype``, ``device``, ...), any field of :class:`ScoringConfig`, :class:`ServeConfig` and
    :class:`ReplicaConfig`, and ``num_gpus`` per replica."""
    model_kwargs = {"name_or_path" if k == "model" else k: v for k, v in args.items() if k in _MODEL_ARGS}
    if "max_length" in model_kwargs:
        model_kwargs["max_length"] = int(model_kwargs["max_length"])
    scoring, config, replicas = _pick(ScoringConfig, args), _pick(ServeConfig, args), _pick(ReplicaConfig, args)
    return reward_application(model_kwargs, scoring, config, replicas, num_gpus=float(args.get("num_gpus", 0)))


def _pick(cls: type, args: dict[str, Any]) -> Any:
    """``cls`` with the fields ``args`` names; a string (``serve run ... workers=4``) read as the field's type."""
    default, values = cls(), {}
    for f in fields(cls):
        if f.name in args:
            kind, value = type(getattr(default, f.name)), args[f.name]
            if isinstance(value, str) and kind is not str:
                value = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
            values[f.name] = value
    return cls(**values)
