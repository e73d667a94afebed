"""The batch jobs of ``codescaler score``/``rank``/``verify`` spread over a Ray cluster.

The driver keeps what makes a job safe to kill and resume (reading, ordering, writing, ``--resume``);
each chunk is cut into contiguous shards processed by Ray actors, each of which builds its processor
once: one model load per scorer actor, one warm sandbox per verifier actor. With ``RAY_ADDRESS`` set the
actors run on that cluster; without it, on a local Ray instance.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Process = Callable[[list], list]


class _Worker:
    def __init__(self, make_process: Callable[[], Process]) -> None:
        self.process = make_process()

    def run(self, items: list) -> list:
        return self.process(items)


def distributed(make_process: Callable[[], Process], actors: int, num_cpus: float = 1, num_gpus: float = 0) -> Process:
    """A ``process(items)`` that runs ``make_process()``'s processor on ``actors`` Ray actors, keeping order."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("--engine ray needs Ray: pip install 'codescaler[ray]'") from err
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False, include_dashboard=False)
    worker = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(_Worker)
    pool = [worker.remote(make_process) for _ in range(actors)]

    def process(items: list) -> list:
        size = -(-len(items) // len(pool))
        shards = [items[i : i + size] for i in range(0, len(items), size)]
        results = ray.get([actor.run.remote(shard) for actor, shard in zip(pool, shards)])
        return [row for shard in results for row in shard]

    return process


def score_process(model_kwargs: dict[str, Any], config, job: str = "score") -> Process:
    """Inside an actor: load the judge once, return the score (or rank) processor."""
    from codescaler.judges import load_judge
    from codescaler.rewards.jobs import rank_job, score_job

    model = load_judge(**model_kwargs)
    return (score_job if job == "score" else rank_job)(model, config)


def verify_process(workers: int | None, limits, mode: str, time_limit=None) -> Process:
    """Inside an actor: start a sandbox once (closed with the actor), return the verify processor."""
    from codescaler.execution.jobs import verify_job
    from codescaler.execution.sandbox import Sandbox

    return verify_job(Sandbox(workers=workers, limits=limits), mode, time_limit)
