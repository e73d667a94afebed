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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codescaler.benchmarks import eval_prompt, load
from codescaler.benchmarks.prompts import LCB_SYSTEM
from codescaler.execution.jobs import verify_job
from codescaler.execution.toolchains import LANGUAGES, missing_languages
from codescaler.extraction.extract import Mode
from codescaler.records.batch import problem_parser, run_chunked
from codescaler.records.jsonl import read_lines
from codescaler.records.schema import Problem, RecordError, check_record
from codescaler.training.generation import Backend, SampleConfig, SampleDType, make_sampler

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
    backend: Backend = field(default="transformers", metadata={"help": "local engine"})
    dtype: SampleDType = field(default="auto", metadata={"help": "local weights precision (auto: fp32 on CPU)"})
    batch_size: int = field(default=16, metadata={"help": "sequences per generate call (transformers)"})
    concurrency: int = field(default=8, metadata={"help": "openai+http://...: requests in flight"})
    served_model: str = field(default="", metadata={"help": "openai+http://...: model name (default: its first)"})
    chunk_size: int = field(default=16, metadata={"help": "problems sampled between checkpoints"})

    def __post_init__(self) -> None:
        if self.limit < 0 or self.time_limit <= 0 or self.chunk_size < 1 or any(k < 1 for k in self.ks):
            raise ValueError("limit must be >= 0, time_limit and chunk_size positive, every k at least 1")
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
        kept = {"ks", "backend", "batch_size", "concurrency", "chunk_size"}  # speed and reporting only
        return {k: v for k, v in asdict(self).items() if k not in kept}


def prepare(out: Path, config: PolicyEvalConfig, model: str) -> list[dict[str, Any]]:
    """Write ``problems.jsonl`` (once) and ``unrunnable.json``; refuse a folder made by another protocol."""
    out.mkdir(parents=True, exist_ok=True)
    protocol = {"model": model, **config.protocol()}
    saved = out / "protocol.json"
    if saved.exists():
        before = json.loads(saved.read_text())
        if before != protocol:
            changed = sorted(k for k in protocol.keys() | before.keys() if protocol.get(k) != before.get(k))
            raise ValueError(f"{out} holds a run of another protocol (differs in {', '.join(changed)}): use a new -o")
        return json.loads((out / "unrunnable.json").read_text())
    rows, unrunnable = [], []
    for name in config.benchmarks:
        for number, record in benchmark_records(name)[: config.limit or None]:
            if isinstance(record, RecordError):
                unrunnable.append({"benchmark": name, "id": None, "reason": str(record)})
                continue
            reason = runnable(record, number)
            if reason is not None:
                unrunnable.append({"benchmark": name, "id": record.get("id"), "reason": reason})
                continue
            rows.append(
                {
                    "benchmark": name,
                    **{k: record[k] for k in _RUN_FIELDS if record.get(k) is not None},
                    "prompt": eval_prompt(record),
                    "time_limit": config.time_limit,
                    "extraction": config.extraction,
                }
            )
    with open(out / "problems.jsonl", "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    (out / "unrunnable.json").write_text(json.dumps(unrunnable, indent=1) + "\n")
    saved.write_text(json.dumps(protocol, indent=1) + "\n")  # last: its presence means the folder is complete
    return unrunnable


def benchmark_records(name: str) -> list[tuple[int, dict[str, Any] | RecordError]]:
    """A benchmark's problems, numbered from 1: a loader's (``codescaler data list``), or a JSONL file of
    problem records, whose unreadable lines come back as errors."""
    if name.endswith(".jsonl") and Path(name).is_file():
        return list(read_lines(name))
    return list(enumerate(load(name), start=1))


def runnable(record: dict[str, Any], number: int) -> str | None:
    """Why ``record``'s tests cannot run here, or None."""
    try:
        check_record(record, Problem, number, required=("tests",))
    except RecordError as err:
        return str(err)
    if not record["tests"]:
        return "no tests"
    language = record.get("language", "python")
    if language not in LANGUAGES:
        return f"the sandbox runs no {language}"
    return missing_languages().get(language)


def sample_job(model: str, config: PolicyEvalConfig):
    """Per problem: its record with ``n`` samples, their tokens and seconds. The policy loads at the first chunk
    that needs it, so a run that only verifies or reports loads nothing."""
    sample_config = config.sample_config()
    sampler = None

    def process(items: list[tuple[int, dict, dict]]) -> list[dict[str, Any]]:
        nonlocal sampler
        sampler = sampler or make_sampler(model, sample_config)
        problems = [p for _, _, p in items]
        samples = sampler.sample([p["prompt"] for p in problems], sample_config, show_progress=True)
        return [
            {
                **p,
                "responses": [s.text for s in row],
                "tokens": [s.tokens for s in row],
                "seconds": [s.seconds for s in row],
            }
            for p, row in zip(problems, samples)
        ]

    return process


def evaluate_policy(model: str, out_dir: str | Path, config: PolicyEvalConfig, sandbox) -> Path:
    """Sample ``model`` (a hub id, folder, packaged name or ``openai+http://...``) on ``config.benchmarks`` and
    run every sample in ``sandbox``; resumes what ``out_dir`` already holds. Returns the samples' verdicts file."""
    out = Path(out_dir)
    prepare(out, config, model)
    for _ in run_chunked(
        out / "problems.jsonl",
        out / "samples.jsonl",
        lambda number, record: record,
        sample_job(model, config),
        resume=True,
        chunk_size=config.chunk_size,
        desc="problems sampled",
    ):
        pass
    verdicts = out / "verdicts.jsonl"
    for _ in run_chunked(
        out / "samples.jsonl",
        verdicts,
        problem_parser("responses", "tests"),
        verify_job(sandbox, config.extraction),
        resume=True,
        chunk_size=64,
        desc="problems run",
    ):
        pass
    return verdicts
