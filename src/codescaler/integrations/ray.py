"""Batch jobs on Ray Data: ``--engine ray`` for ``score``, ``rank``, ``verify``, ``candidates``, ``eval-policy`` and
``bon``'s ground truth.

The driver keeps what makes a job safe to kill and resume: it finds where each block of input lines starts
(one pass over the file, nothing parsed, lines already answered left out; a Parquet file's row groups from its
footer), writes every answer as it arrives, and ``--resume`` works as locally. Ray Data does the rest on the
cluster: read tasks read the blocks where they run, an autoscaling pool of actors answers them (each builds its
processor once: one model load per scorer, one warm sandbox per verifier), and the answers stream back in input
order. Memory stays bounded by Ray Data's backpressure, not by the input's size.

A lost actor or node is an infrastructure failure: Ray restarts the actor (elsewhere, if its node is gone) and
reruns the batch it held, whose answers nobody had seen. A program's own failure is an answer, never retried.
With ``RAY_ADDRESS`` set the job runs on that cluster (codescaler installed on its nodes); without it, on a
Ray started here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Set
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from codescaler.records.batch import Output, Parse, Process, answer
from codescaler.records.jsonl import is_parquet, parse_line

logger = logging.getLogger(__name__)
# Where a block of not-yet-answered lines lies in the file: its first line's number and its bytes.
Span = tuple[int, int, int]


def ray_required():
    try:
        import ray
    except ImportError as err:
        raise ImportError("--engine ray needs Ray: pip install 'codescaler[ray]'") from err
    if not ray.is_initialized():
        # Ray's and Ray Data's own notes (a local instance started, execution plans) would drown the job's output
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            log_to_driver=False,
            include_dashboard=False,
            logging_level=logging.ERROR,
        )
        import ray.data  # it sets its loggers' levels as it is imported: ours must come after

        logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def spans(path: str | Path, done: Set[int], lines_per_block: int) -> list[Span]:
    """The blocks of ``path`` that hold lines not in ``done``, each at most ``lines_per_block`` records; a done
    line ends a block, so no block rereads what a resumed job has answered."""
    blocks: list[Span] = []
    first = start = count = 0
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number in done or (count >= lines_per_block and raw.strip()):
                if count:
                    blocks.append((first, start, offset))
                count = 0
            if number not in done and raw.strip():
                if not count:
                    first, start = number, offset
                count += 1
            offset += len(raw)
    if count:
        blocks.append((first, start, offset))
    return blocks


def _read_span(path: str, first: int, start: int, end: int) -> list:
    import pyarrow as pa

    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    lines = [(first + i, raw) for i, raw in enumerate(data.split(b"\n")) if raw.strip()]
    return [pa.table({"line": [n for n, _ in lines], "raw": [raw for _, raw in lines]})]


def _read_row_group(path: str, group: int, first: int, done: Set[int], rows_per_block: int) -> Iterator:
    """A Parquet row group's rows not in ``done``, as JSON text (the lines the actors decode), a block at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [(first + i, row) for i, row in enumerate(pq.ParquetFile(path).read_row_group(group).to_pylist())]
    rows = [(n, json.dumps(row, ensure_ascii=False, default=str).encode()) for n, row in rows if n not in done]
    for i in range(0, len(rows), rows_per_block):
        block = rows[i : i + rows_per_block]
        yield pa.table({"line": [n for n, _ in block], "raw": [raw for _, raw in block]})


def _read_tasks(path: str, done: Set[int], lines_per_block: int) -> list[tuple[Callable[[], Any], int]]:
    """``(read, bytes)`` for each read task of the input: a block of JSONL lines, or a Parquet row group."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        meta, first = pq.ParquetFile(path).metadata, 1
        tasks: list[tuple[Callable[[], Any], int]] = []
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            if any(n not in done for n in range(first, first + rows)):
                mine = frozenset(n for n in done if first <= n < first + rows)
                read = partial(_read_row_group, path, group, first, mine, lines_per_block)
                tasks.append((read, meta.row_group(group).total_byte_size))
            first += rows
        return tasks
    return [(partial(_read_span, path, *block), block[2] - block[1]) for block in spans(path, done, lines_per_block)]


def _datasource(path: str, tasks: list[tuple[Callable[[], Any], int]]):
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class InputBlocks(Datasource):
        def estimate_inmemory_data_size(self) -> int:
            return sum(size for _, size in tasks)

        def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> list:
            return [
                ReadTask(read, BlockMetadata(num_rows=None, size_bytes=size, input_files=[path], exec_stats=None))
                for read, size in tasks
            ]

    return InputBlocks()


class _Answerer:
    """One actor of the pool: builds the job's processor once, then answers batches of raw lines."""

    def __init__(self, make_process: Callable[[], Process], parse: Parse, source: str) -> None:
        self.process, self.parse, self.source = make_process(), parse, source

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        items = [(int(n), parse_line(bytes(raw), int(n))) for n, raw in zip(batch["line"], batch["raw"])]
        outputs = answer(items, self.parse, self.process, self.source)
        # JSON text, not columns: outputs of one job differ in their fields (an error has few), Arrow wants one schema
        return {"line": [o["line"] for o in outputs], "output": [json.dumps(o, ensure_ascii=False) for o in outputs]}


@dataclass
class RayEngine:
    """Runs a batch job's processor on a Ray Data actor pool; a :data:`codescaler.records.batch.Engine`.

    ``make_process`` builds the processor inside each actor (it and ``parse`` travel by pickle);
    ``batch_size`` records go to an actor at a time; the pool grows from ``min_actors`` to ``max_actors``
    while blocks wait, each actor holding ``num_cpus`` and ``num_gpus``. ``concurrent_batches`` > 1 runs that
    many batches at once in an actor, for a processor that is safe on threads (a sandbox: the next batch's programs
    fill the workers a batch's last slow program leaves idle)."""

    make_process: Callable[[], Process]
    batch_size: int = 32
    min_actors: int = 1
    max_actors: int = 2
    num_cpus: float = 1
    num_gpus: float = 0
    concurrent_batches: int = 1

    def __call__(self, path: Path, done: Set[int], parse: Parse) -> Iterator[list[Output]]:
        ray = ray_required()
        from ray.data import ActorPoolStrategy, DataContext

        tasks = _read_tasks(str(path), done, self.batch_size)
        if not tasks:
            return
        context = DataContext.get_current()
        context.execution_options.preserve_order = True  # answers come back in input order
        context.enable_progress_bars = False  # the job's own bar counts records
        context.print_on_execution_start = False
        # Reading a block is a file read: it takes no CPU, so a pool that holds every CPU cannot starve its own input;
        # and as many reads at once as actors, since Ray starts a process for each zero-CPU task it runs at once.
        source = _datasource(str(path), tasks)
        reads = {"num_cpus": 0, "concurrency": max(1, min(len(tasks), self.max_actors))}
        dataset = ray.data.read_datasource(source, override_num_blocks=len(tasks), **reads).map_batches(
            _Answerer,
            fn_constructor_args=(self.make_process, parse, str(path)),
            batch_size=self.batch_size,
            compute=ActorPoolStrategy(
                min_size=min(self.min_actors, self.max_actors),
                max_size=self.max_actors,
                max_concurrent_calls_per_actor=self.concurrent_batches,
                enable_true_multi_threading=self.concurrent_batches > 1,
            ),
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            outputs = [json.loads(text) for text in batch.column("output").to_pylist()]
            for output in outputs:
                if "error" in output:  # said on the actor too, where nobody reads it
                    logger.warning("%s: %s", path, output["error"])
            yield outputs


def score_process(model_kwargs: dict[str, Any], config, job: str = "score") -> Process:
    """Inside an actor: load the judge once, return the score (or rank) processor."""
    from codescaler.judges import load_judge
    from codescaler.rewards.jobs import rank_job, score_job

    model = load_judge(**model_kwargs)
    return (score_job if job == "score" else rank_job)(model, config)


def sandbox_process(make_job: Callable[..., Process], workers: int | None, limits, *args: Any) -> Process:
    """Inside an actor: start a sandbox once (closed with the actor), return ``make_job(sandbox, *args)``: the
    verify or candidates processor."""
    from codescaler.execution.sandbox import Sandbox

    return make_job(Sandbox(workers=workers, limits=limits), *args)
