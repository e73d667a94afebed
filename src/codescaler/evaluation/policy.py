"""``codescaler eval-policy``: sample a policy on the paper's benchmarks and run every sample's tests.

The protocol is the paper's evaluation (its ``scripts/eval.sh``), each part a field of :class:`PolicyEvalConfig`:
LiveCodeBench's prompt (:func:`codescaler.benchmarks.eval_prompt`), 8 samples per problem at temperature
0.6, top-p 0.95, top-k 20, the answer read from its last code block without a syntax check, 2 s per test, and
a sample counts only when every test passes. stdin/stdout and call-based problems run in one pass.

Everything lands in the output folder and a killed run resumes: ``problems.jsonl`` (each problem with its
prompt, written once), ``samples.jsonl`` and ``verdicts.jsonl`` (one line per problem, appended a chunk at a
time, as every batch job writes), then ``report.json``, ``report.md`` and ``report.png``. A rerun samples and
runs only the problems that are missing. Problems whose tests cannot run (no tests, a malformed record, a
language whose toolchain is absent) are listed in ``unrunnable.json`` and never counted as failures.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codescaler.benchmarks import eval_prompt, load
from codescaler.benchmarks import names as benchmark_names
from codescaler.benchmarks.prompts import LCB_SYSTEM
from codescaler.execution.jobs import verify_job
from codescaler.execution.toolchains import missing_languages
from codescaler.extraction.extract import Mode
from codescaler.records.batch import Engine, Parse, problem_parser, run_chunked
from codescaler.records.jsonl import LineIndex, check_input, read_lines
from codescaler.records.schema import RecordError
from codescaler.training.generation import Backend, SampleConfig, SampleDType, Sampler, check_policy, make_sampler

PAPER_BENCHMARKS = ["lcb", "codecontests", "codeforces", "leetcode-test", "mbppplus", "humanevalplus"]
# What the problems keep for the sandbox; the rest of a record is its loader's business.
_RUN_FIELDS = (
    "id",
    "question",
    "language",
    "tests",
    "entry_point",
    "code_prefix",
    "prelude",
    "split",
    "source",
    "several_answers",
)


@dataclass
class PolicyEvalConfig:
    """The paper's evaluation protocol; every field is a flag of ``codescaler eval-policy``."""

    benchmarks: list[str] = field(
        default_factory=lambda: list(PAPER_BENCHMARKS),
        metadata={"help": "dataset names (`codescaler data list`) or JSONL files of problem records"},
    )
    limit: int = field(default=0, metadata={"help": "only the first this many problems of each benchmark (0: all)"})
    n: int = field(default=8, metadata={"help": "samples per problem (Avg@n)", "short": "-n"})
    temperature: float = field(default=0.6, metadata={"help": "sampling temperature"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling"})
    top_k: int = field(default=20, metadata={"help": "sample among the k likeliest tokens (0: no limit)"})
    max_new_tokens: int = field(default=8192, metadata={"help": "tokens per sample"})
    extraction: Mode = field(
        default="last", metadata={"help": "how answers are read: last (the paper's: last block, unparsed)"}
    )
    time_limit: float = field(default=2.0, metadata={"help": "seconds per test"})
    ks: list[int] = field(default_factory=lambda: [1, 2, 4, 8], metadata={"help": "pass@k reported (k <= n)"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    backend: Backend = field(
        default="auto", metadata={"help": "local engine: vllm, transformers, or auto (vllm where installed with a GPU)"}
    )
    dtype: SampleDType = field(default="auto", metadata={"help": "local weights precision (auto: fp32 on CPU)"})
    batch_size: int = field(default=16, metadata={"help": "sequences per generate call (transformers)"})
    concurrency: int = field(default=8, metadata={"help": "openai+http://...: requests in flight"})
    served_model: str = field(default="", metadata={"help": "openai+http://...: model name (default: its first)"})
    chunk_size: int = field(default=16, metadata={"help": "problems sampled between checkpoints"})
    train_data: list[str] = field(
        default_factory=list,
        metadata={"help": "the policy's training problems (dataset names or JSONL files): the report counts overlap"},
    )

    def __post_init__(self) -> None:
        if self.limit < 0 or self.time_limit <= 0 or self.chunk_size < 1 or any(k < 1 for k in self.ks):
            raise ValueError("limit must be >= 0, time_limit and chunk_size positive, every k at least 1")
        too_big = [k for k in self.ks if k > self.n]
        if too_big:  # said, not dropped without a word
            shown = ", ".join(f"pass@{k}" for k in too_big)
            logging.getLogger(__name__).warning("%s not reported: k must be at most -n %d", shown, self.n)
            self.ks = [k for k in self.ks if k <= self.n]
        for name in [*self.benchmarks, *self.train_data]:
            if name.endswith(".jsonl"):
                check_input(name)
            elif name not in benchmark_names():
                load(name)  # raises the loader's error: the unknown name and the closest known ones
        self.sample_config()  # checks the sampling fields

    def sample_config(self) -> SampleConfig:
        return SampleConfig(
            n=self.n,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            system=LCB_SYSTEM,
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
            seed=self.seed,
            backend=self.backend,
            dtype=self.dtype,
            concurrency=self.concurrency,
            served_model=self.served_model,
        )

    def protocol(self) -> dict[str, Any]:
        """The fields that decide what is sampled and how it is judged: a folder holds one protocol."""
        kept = {"ks", "backend", "batch_size", "concurrency", "chunk_size", "train_data"}  # speed and reporting only
        return {k: v for k, v in asdict(self).items() if k not in kept}


def prepare(out: Path, config: PolicyEvalConfig, model: str) -> list[dict[str, Any]]:
    """Write ``problems.jsonl`` and ``unrunnable.json``; refuse a folder made by another protocol. A larger
    ``--limit`` than the folder's (or 0, all) extends it: the samples drawn so far stay valid under the same
    protocol, and only the new problems are appended (each problem once, whatever a killed extension left)."""
    protocol = {"model": model, **config.protocol()}
    saved = out / "protocol.json"
    if saved.exists():
        before = json.loads(saved.read_text())
        changed = sorted(k for k in protocol.keys() | before.keys() if protocol.get(k) != before.get(k))
        extends = (
            changed == ["limit"] and before["limit"] != 0 and (config.limit == 0 or config.limit > before["limit"])
        )
        if changed and not extends:
            raise ValueError(f"{out} holds a run of another protocol (differs in {', '.join(changed)}): use a new -o")
        if not changed:
            return json.loads((out / "unrunnable.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    problems, listed = out / "problems.jsonl", out / "unrunnable.json"
    listed_before = read_rows(problems) + _unrunnable(listed)
    if any("number" not in r for r in listed_before):
        raise ValueError(f"{out} was written by an older codescaler and cannot be extended: use a new -o")
    done = {(r["benchmark"], r["number"]) for r in listed_before}
    rows, unrunnable = [], _unrunnable(listed)
    for name in config.benchmarks:
        for number, record in benchmark_records(name)[: config.limit or None]:
            if (name, number) in done:
                continue
            if isinstance(record, RecordError):
                unrunnable.append({"benchmark": name, "number": number, "id": None, "reason": str(record)})
                continue
            reason = runnable(record, number)
            if reason is not None:
                unrunnable.append({"benchmark": name, "number": number, "id": record.get("id"), "reason": reason})
                continue
            rows.append(
                {
                    "benchmark": name,
                    "number": number,
                    **{k: record[k] for k in _RUN_FIELDS if record.get(k) is not None},
                    "prompt": eval_prompt(record),
                    "time_limit": config.time_limit,
                    "extraction": config.extraction,
                }
            )
    with open(problems, "a") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    listed.write_text(json.dumps(unrunnable, indent=1) + "\n")
    saved.write_text(json.dumps(protocol, indent=1) + "\n")  # last: its presence means the folder is complete
    return unrunnable


def _unrunnable(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else []


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file the run wrote, or none where it has not written it yet."""
    return [row for _, row in read_lines(path) if isinstance(row, dict)] if path.exists() else []


def benchmark_records(name: str) -> list[tuple[int, dict[str, Any] | RecordError]]:
    """A benchmark's problems, numbered from 1: a loader's (``codescaler data list``), or a JSONL file of
    problem records, whose unreadable lines come back as errors."""
    if name.endswith(".jsonl") and Path(name).is_file():
        return list(read_lines(name))
    return list(enumerate(load(name), start=1))


def runnable(record: dict[str, Any], number: int) -> str | None:
    """Why ``record``'s tests cannot run here, or None."""
    try:
        problem_parser("tests", runs=True)(number, record)
    except RecordError as err:
        return str(err)
    return missing_languages().get(record.get("language", "python"))


# What a sample row keeps of its problem: enough to name it and to report it. The rest (its tests, which can run
# to hundreds of megabytes) stays in problems.jsonl, on the same line number.
_NAMED_BY = ("benchmark", "id", "several_answers")


def sample_job(model: str, config: PolicyEvalConfig, sampler: Sampler | None = None):
    """Per problem: its name, ``n`` samples, their tokens and seconds, and whether each was cut off at
    ``max_new_tokens``. The policy (unless ``sampler`` is it) loads at the first chunk that needs it, so a run that
    only verifies or reports loads nothing."""
    sample_config = config.sample_config()

    def process(items: list[tuple[int, dict, dict]]) -> list[dict[str, Any]]:
        nonlocal sampler
        sampler = sampler or make_sampler(model, sample_config)
        problems = [p for _, _, p in items]
        samples = sampler.sample([p["prompt"] for p in problems], sample_config, show_progress=True)
        return [
            {
                **{k: p[k] for k in _NAMED_BY if k in p},
                "responses": [s.text for s in row],
                "tokens": [s.tokens for s in row],
                "seconds": [s.seconds for s in row],
                "truncated": [s.truncated for s in row],
            }
            for p, row in zip(problems, samples)
        ]

    return process


def evaluate_policy(
    model: str,
    out_dir: str | Path,
    config: PolicyEvalConfig,
    sandbox=None,
    *,
    sampling: Engine | None = None,
    verifying: Engine | None = None,
) -> Path:
    """Sample ``model`` (a hub id, folder, packaged name or ``openai+http://...``) on ``config.benchmarks`` and
    run every sample in ``sandbox``; resumes what ``out_dir`` already holds. Returns the samples' verdicts file.

    ``sampling`` and ``verifying`` run either step elsewhere (``--engine ray``: actors that hold the policy, then
    actors that hold a sandbox); each builds its processor with :func:`sample_job` or ``verify_job`` there, and
    reads the run folder, which a cluster's nodes must share."""
    out = Path(out_dir)
    # A new run checks its policy first: a name that does not load is said before any folder is made. Here it
    # loads, to sample with; an engine's actors load their own, so here only its config is read.
    sampler = None
    if not (out / "protocol.json").exists():
        if sampling is None:
            sampler = make_sampler(model, config.sample_config())
        else:
            check_policy(model)
    prepare(out, config, model)
    # where an engine runs a step, it builds the same processor on its actors, and the one given here is not called
    for _ in run_chunked(
        out / "problems.jsonl",
        out / "samples.jsonl",
        lambda number, record: record,
        sample_job(model, config, sampler),
        engine=sampling,
        resume=True,
        chunk_size=config.chunk_size,
        desc="problems sampled",
    ):
        pass
    verdicts = out / "verdicts.jsonl"
    for _ in run_chunked(
        out / "samples.jsonl",
        verdicts,
        sample_parser(out),
        verify_job(sandbox, config.extraction),
        engine=verifying,
        resume=True,
        chunk_size=64,
        desc="problems run",
    ):
        pass
    return verdicts


def sample_parser(out: Path) -> Parse:
    """A sample row with its problem's tests and fields, read from ``problems.jsonl`` on the row's line number."""
    problems = LineIndex(out / "problems.jsonl")
    parse = problem_parser("responses", "tests", runs=True)
    return lambda number, row: parse(number, {**problems[number], "responses": row["responses"]})
