"""``codescaler sample``, ``candidates`` and ``pairs``: from problems to execution-verified preference pairs."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from codescaler.cli.flags import (
    add_batch_job,
    add_config_flags,
    add_engine_flags,
    add_sandbox_flags,
    config_from_args,
    input_file,
    output_file,
    quiet_transformers,
    sandbox_engine,
)
from codescaler.execution.sandbox import Limits
from codescaler.records.jsonl import writable
from codescaler.training.candidates import CandidatesConfig
from codescaler.training.generation import SampleConfig
from codescaler.training.pairs import PairsConfig


def register(commands: Any) -> None:
    sample = add_batch_job(
        commands,
        "sample",
        "sample N responses per problem from a causal LM (on-policy candidates)",
        "problem records (see `codescaler data export`)",
        "output JSONL: the records, new samples after their `responses`",
    )
    sample.add_argument("--model", required=True, help="causal LM: hub id, folder, or a packaged model name")
    sample.add_argument("--gguf-file", default=None, help="GGUF file inside --model's folder")
    add_config_flags(sample, SampleConfig)
    sample.set_defaults(run=run_sample)

    candidates = add_batch_job(
        commands,
        "candidates",
        "add reference, mutant and unaligned candidates to problems and verify every one",
        "problem records with tests and `reference` (and `responses` from `codescaler sample`)",
        "output JSONL: responses, candidate_sources and their verdicts",
    )
    add_sandbox_flags(candidates)
    add_config_flags(candidates, CandidatesConfig)
    add_config_flags(candidates, Limits)
    add_engine_flags(candidates)
    candidates.set_defaults(run=run_candidates)

    pairs = commands.add_parser("pairs", help="execution-verified preference pairs from `codescaler candidates` output")
    pairs.add_argument("input", nargs="+", type=input_file, help="verified candidate files (JSONL)")
    pairs.add_argument(
        "-o", "--output", required=True, type=output_file, help="output JSONL of pairs (with a `split` field)"
    )
    add_config_flags(pairs, PairsConfig)
    pairs.set_defaults(run=run_pairs)


def run_sample(args: argparse.Namespace) -> int:
    from codescaler.records.batch import problem_parser, run_chunked
    from codescaler.training.jobs import sample_job

    quiet_transformers(args)
    config = config_from_args(args, SampleConfig)
    job = sample_job(args.model, config, gguf_file=args.gguf_file)
    rows = list(
        run_chunked(
            args.input, args.output, problem_parser("tests"), job, resume=args.resume, chunk_size=32, desc="sample"
        )
    )
    print(f"wrote {len(rows)} problems with {config.n} new samples each to {args.output}")
    return 0


def run_candidates(args: argparse.Namespace) -> int:
    from codescaler.execution.sandbox import Sandbox
    from codescaler.records.batch import problem_parser, run_chunked
    from codescaler.training.jobs import candidates_job

    limits, config = config_from_args(args, Limits), config_from_args(args, CandidatesConfig)
    parse = problem_parser("tests", runs=True)
    common = {"resume": args.resume, "desc": "candidates"}
    if args.engine == "ray":
        # a batch is the pool a problem's unaligned candidates come from: the local chunk's size
        engine = sandbox_engine(args, candidates_job, limits, config, batch_size=32)
        rows = list(run_chunked(args.input, args.output, parse, engine=engine, **common))
    else:
        with Sandbox(workers=args.workers, limits=limits) as sandbox:
            job = candidates_job(sandbox, config)
            rows = list(run_chunked(args.input, args.output, parse, job, chunk_size=32, **common))
    counts: Counter = Counter()
    for row in rows:
        for source, passed in zip(row.get("candidate_sources", []), row.get("passed", [])):
            counts[source.split(":")[0], passed] += 1
    print(f"{len(rows)} problems; candidates by source (passing / failing / not run):")
    for source in sorted({s for s, _ in counts}):
        print(f"  {source:<10} {counts[source, True]:>6} / {counts[source, False]:<6} / {counts[source, None]}")
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    from codescaler.records.batch import read_problems
    from codescaler.training.pairs import build_pairs

    def problems():
        for path in args.input:
            yield from read_problems(path, lambda _: ("id", "responses", "passed"))

    counts: Counter = Counter()
    with open(writable(args.output), "w") as f:
        for pair in build_pairs(problems(), config_from_args(args, PairsConfig)):
            counts[pair["split"], pair["source"].split(":")[0]] += 1
            f.write(json.dumps(pair) + "\n")
    print(f"wrote {sum(counts.values())} pairs to {args.output}")
    for (split, source), n in sorted(counts.items()):
        print(f"  {split:<10} {source:<10} {n:>7}")
    return 0
