"""The ``codescaler`` command: parse flags, call the library, print."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

from codescaler.bon import BonConfig
from codescaler.candidates import SAMPLER_DTYPES, CandidatesConfig
from codescaler.evaluate import BUILTIN_PAIRS
from codescaler.model import DEFAULT_MODEL, DTYPES, PACKAGED_MODELS
from codescaler.pairs import PairsConfig
from codescaler.reward import RewardConfig
from codescaler.rl import RLConfig
from codescaler.sandbox import Limits
from codescaler.serve import ServeConfig


def add_config_flags(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """One ``--flag`` per dataclass field, with the field's default, type, choices and help."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        kwargs: dict = {"default": f.default, "help": f"{f.metadata.get('help', '')} (default: {f.default})"}
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is typing.Literal:
            kwargs.update(choices=list(args), type=str)
        else:
            base = next((a for a in args if a is not type(None)), hint) if args else hint
            kwargs["type"] = base
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def config_from_args(args: argparse.Namespace, config_cls: type):
    return config_cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)})


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(PACKAGED_MODELS)
    parser.add_argument(
        "--model", default=DEFAULT_MODEL,
        help=f"hub id, local folder, or a packaged name ({names}; default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--gguf-file", default=None, help="GGUF file inside --model's folder")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="weights precision (default: auto)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    parser.add_argument("--max-length", type=int, default=4096, help="longest input in tokens (default: 4096)")


def model_kwargs(args: argparse.Namespace) -> dict:
    return {"name_or_path": args.model, "gguf_file": args.gguf_file, "dtype": args.dtype, "device": args.device,
            "max_length": args.max_length}  # fmt: skip


def load_model(args: argparse.Namespace):
    from codescaler.model import RewardModel

    return RewardModel.from_pretrained(**model_kwargs(args))


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default="local", choices=["local", "ray"],
                        help="local, or ray: actors on a Ray cluster ($RAY_ADDRESS) or a local Ray (default: local)")
    parser.add_argument("--ray-actors", type=int, default=2, help="Ray actors for --engine ray (default: 2)")
    parser.add_argument("--ray-gpus", type=float, default=0, help="GPUs per Ray actor (default: 0)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codescaler", description="Execution-free code reward models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True)

    def batch_job(name: str, help: str, input_help: str, output_help: str | None) -> argparse.ArgumentParser:
        """A resumable file-to-file job; ``output_help=None`` makes the output optional."""
        job = commands.add_parser(name, help=help)
        job.add_argument("input", help=input_help)
        job.add_argument("-o", "--output", required=output_help is not None, help=output_help or "output JSONL")
        job.add_argument("--resume", action="store_true", help="skip input lines already answered in --output")
        return job

    score = batch_job(
        "score", "score (question, response) records; one output line per input",
        'JSONL lines {"id", "question", "response"}', "output JSONL",
    )  # fmt: skip
    add_model_flags(score)
    add_config_flags(score, RewardConfig)
    add_engine_flags(score)
    score.set_defaults(run=run_score)

    rank = batch_job(
        "rank", "rank each problem's candidate responses, best first",
        'JSONL lines {"id", "question", "responses": [...], "code_prefix"?}', None,
    )  # fmt: skip
    rank.add_argument("--top", type=int, default=10, help="rows printed per problem (default: 10)")
    add_model_flags(rank)
    add_config_flags(rank, RewardConfig)
    add_engine_flags(rank)
    rank.set_defaults(run=run_rank)

    verify = batch_job(
        "verify", "run every response against its problem's tests",
        "problem records with responses and tests (see `codescaler data export`)",
        "output JSONL: passed, pass_fraction, status per response",
    )  # fmt: skip
    verify.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    verify.add_argument(
        "--mode", default="lenient", choices=["strict", "lenient"], help="extraction (default: lenient)"
    )
    add_config_flags(verify, Limits)
    add_engine_flags(verify)
    verify.set_defaults(run=run_verify)

    evaluate = commands.add_parser("evaluate", help="pass@k from `codescaler verify` output")
    evaluate.add_argument("input", help="output of codescaler verify")
    evaluate.add_argument("--k", default="1,10,100", help="comma-separated k values (default: 1,10,100)")
    evaluate.add_argument("-o", "--output", default=None, help="also write the figures as JSON")
    evaluate.set_defaults(run=run_evaluate)

    sample = batch_job(
        "sample", "sample N responses per problem from a local causal LM (on-policy candidates)",
        "problem records (see `codescaler data export`)",
        "output JSONL: the records, new samples after their `responses`",
    )  # fmt: skip
    sample.add_argument("--model", required=True, help="causal LM: hub id, folder, or a packaged model name")
    sample.add_argument("--gguf-file", default=None, help="GGUF file inside --model's folder")
    sample.add_argument("-n", type=int, default=4, help="samples per problem (default: 4)")
    sample.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    sample.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (default: 0.95)")
    sample.add_argument("--max-new-tokens", type=int, default=384, help="per response (default: 384)")
    sample.add_argument("--batch-size", type=int, default=16, help="sequences per generate call (default: 16)")
    sample.add_argument("--backend", default="transformers", choices=["transformers", "vllm"])
    sample.add_argument("--dtype", default="auto", choices=SAMPLER_DTYPES,
                        help="weights precision (default: auto, fp32 on CPU; bfloat16 samples 2x faster on CPUs with "
                             "AVX512-BF16)")  # fmt: skip
    sample.add_argument("--stop", action="append", default=[],
                        help="a string that ends a response, kept in it; repeatable (e.g. $'\\n```\\n' to stop "
                             "after the first code block)")  # fmt: skip
    sample.add_argument("--completion", action="store_true",
                        help="continue each problem's code_prefix (else its question) as raw text, no chat template; "
                             "the output records keep what was continued as code_prefix")  # fmt: skip
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(run=run_sample)

    candidates = batch_job(
        "candidates", "add reference, mutant and unaligned candidates to problems and verify every one",
        "problem records with tests and `reference` (and `responses` from `codescaler sample`, if any)",
        "output JSONL: responses, candidate_sources, passed, pass_fraction, status",
    )  # fmt: skip
    candidates.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    add_config_flags(candidates, CandidatesConfig)
    add_config_flags(candidates, Limits)
    candidates.set_defaults(run=run_candidates)

    pairs = commands.add_parser("pairs", help="execution-verified preference pairs from `codescaler candidates` output")
    pairs.add_argument("input", nargs="+", help="verified candidate files (JSONL)")
    pairs.add_argument("-o", "--output", required=True, help="output JSONL of pairs (with a `split` field)")
    add_config_flags(pairs, PairsConfig)
    pairs.set_defaults(run=run_pairs)

    bon = commands.add_parser("bon", help="best-of-N selection: RM against unit-test methods, with a report")
    bon.add_argument("input", help="pool: problem records with responses and tests or labels (+ generated_tests)")
    bon.add_argument("-o", "--output", required=True, help="report folder (also holds the caches)")
    bon.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    bon.add_argument("--limit", type=int, default=0, help="only the first this many problems (0: all)")
    add_model_flags(bon)
    add_config_flags(bon, BonConfig)
    bon.set_defaults(run=run_bon)

    pairwise = commands.add_parser("pairwise", help="pairwise accuracy r(chosen) > r(rejected) of one or more RMs")
    pairwise.add_argument("input", help=f"pairs JSONL, or a built-in set ({', '.join(BUILTIN_PAIRS)})")
    pairwise.add_argument("--group-by", default="", help="comma-separated fields to break accuracy down by")
    pairwise.add_argument("--extract", action="store_true", help="extract code from chosen/rejected first")
    pairwise.add_argument("--models", default=None, help="comma-separated models compared side by side")
    pairwise.add_argument("-o", "--output", default=None, help="also write the figures as JSON")
    add_model_flags(pairwise)
    pairwise.set_defaults(run=run_pairwise)

    rmbench = commands.add_parser("rmbench", help="the RM-Bench protocol (3 chosen x 3 rejected styles)")
    rmbench.add_argument("input", help="JSON list (or JSONL) of {prompt, chosen[3], rejected[3], language?}")
    rmbench.add_argument("--extract", action="store_true", help="extract code from each response first")
    rmbench.add_argument("--models", default=None, help="comma-separated models compared side by side")
    rmbench.add_argument("-o", "--output", default=None, help="also write the figures as JSON")
    add_model_flags(rmbench)
    rmbench.set_defaults(run=run_rmbench)

    serve = commands.add_parser("serve", help="HTTP reward server with dynamic batching (/score, /get_reward)")
    add_model_flags(serve)
    add_config_flags(serve, RewardConfig)
    add_config_flags(serve, ServeConfig)
    serve.set_defaults(run=run_serve)

    rl = commands.add_parser("rl", help="GRPO of a code policy with TRL against the RM, execution, or both")
    add_config_flags(rl, RLConfig)
    rl.set_defaults(run=run_rl)

    # Its flags are TrainConfig's (TRL's RewardConfig and TrainingArguments, ~150): parsed by TrlParser in run_train.
    commands.add_parser(
        "train", add_help=False,
        help="train a Bradley–Terry RM on pairs (TRL RewardTrainer); `codescaler train -h` lists its flags",
    )  # fmt: skip

    data = commands.add_parser("data", help="benchmark datasets in the problem record schema")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    export = data_commands.add_parser("export", help="write a dataset as problem records")
    export.add_argument("name", help="dataset name; `codescaler data list` shows them")
    export.add_argument("-o", "--output", required=True, help="output file")
    export.add_argument("--format", default="records", choices=["records", "verl"],
                        help="records: codescaler JSONL; verl: verl's RL parquet (prompt, data_source, reward_model)")
    export.set_defaults(run=run_data_export)
    listing = data_commands.add_parser("list", help="the dataset names")
    listing.set_defaults(run=run_data_list)
    return parser


def run_score(args: argparse.Namespace) -> int:
    from codescaler.jobs import parse_answer, run_chunked, score_job

    config = config_from_args(args, RewardConfig)
    if args.engine == "ray":
        from functools import partial

        from codescaler.integrations.ray import distributed, score_process

        job = distributed(partial(score_process, model_kwargs(args), config), args.ray_actors, num_gpus=args.ray_gpus)
    else:
        job = score_job(load_model(args), config)
    chunk = 256 * (args.ray_actors if args.engine == "ray" else 1)
    rows = list(run_chunked(args.input, args.output, parse_answer, job, resume=args.resume, chunk_size=chunk,
                            desc="score"))  # fmt: skip
    errors = sum("error" in r for r in rows)
    print(f"wrote {len(rows)} records to {args.output} ({errors} with errors)")
    return 0


def _first_line(code: str, width: int = 60) -> str:
    line = next((s.strip() for s in code.splitlines() if s.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def run_rank(args: argparse.Namespace) -> int:
    from codescaler.jobs import parse_problem, rank_job, run_chunked

    config = config_from_args(args, RewardConfig)
    if args.engine == "ray":
        from functools import partial

        from codescaler.integrations.ray import distributed, score_process

        job = distributed(partial(score_process, model_kwargs(args), config, "rank"), args.ray_actors,
                          num_gpus=args.ray_gpus)  # fmt: skip
    else:
        job = rank_job(load_model(args), config)
    chunk = 16 * (args.ray_actors if args.engine == "ray" else 1)
    for problem in run_chunked(args.input, args.output, parse_problem, job, resume=args.resume, chunk_size=chunk,
                               desc="rank"):  # fmt: skip
        print(f"\n{problem['id']!s}")
        if "error" in problem:
            print(f"  error: {problem['error']}")
            continue
        print(f"  {'rank':>4}  {'cand':>4}  {'reward':>9}  {'valid':<22}  first code line")
        for position, i in enumerate(problem["order"][: args.top], start=1):
            validity = "yes" if problem["valid"][i] else f"no ({problem['reasons'][i]})"
            print(
                f"  {position:>4}  {i:>4}  {problem['rewards'][i]:>9.4f}  {validity:<22}  "
                f"{_first_line(problem['codes'][i])}"
            )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from codescaler.jobs import parse_verifiable, run_chunked, verify_job
    from codescaler.sandbox import Sandbox

    limits = config_from_args(args, Limits)
    if args.engine == "ray":
        from functools import partial

        from codescaler.integrations.ray import distributed, verify_process

        job = distributed(partial(verify_process, args.workers, limits, args.mode), args.ray_actors,
                          num_cpus=args.workers or 1)  # fmt: skip
        rows = list(run_chunked(args.input, args.output, parse_verifiable, job, resume=args.resume,
                                chunk_size=32 * args.ray_actors, desc="verify"))  # fmt: skip
    else:
        with Sandbox(workers=args.workers, limits=limits) as sandbox:
            job = verify_job(sandbox, args.mode)
            rows = list(run_chunked(args.input, args.output, parse_verifiable, job, resume=args.resume,
                                    chunk_size=32, desc="verify"))  # fmt: skip
    programs = sum(len(r.get("passed", [])) for r in rows)
    passed = sum(sum(r.get("passed", [])) for r in rows)
    errors = sum("error" in r for r in rows)
    print(f"verified {programs} programs of {len(rows)} problems: {passed} pass ({errors} records with errors)")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from codescaler.jobs import parse_tested, run_chunked, sample_job

    job = sample_job(
        args.model, completion=args.completion, n=args.n, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, backend=args.backend,
        gguf_file=args.gguf_file, dtype=args.dtype, stop=args.stop, seed=args.seed,
    )  # fmt: skip
    rows = list(run_chunked(args.input, args.output, parse_tested, job, resume=args.resume, chunk_size=32,
                            desc="sample"))  # fmt: skip
    print(f"wrote {len(rows)} problems with {args.n} new samples each to {args.output}")
    return 0


def run_candidates(args: argparse.Namespace) -> int:
    from collections import Counter

    from codescaler.jobs import candidates_job, parse_tested, run_chunked
    from codescaler.sandbox import Sandbox

    with Sandbox(workers=args.workers, limits=config_from_args(args, Limits)) as sandbox:
        job = candidates_job(sandbox, config_from_args(args, CandidatesConfig))
        rows = list(run_chunked(args.input, args.output, parse_tested, job, resume=args.resume, chunk_size=32,
                                desc="candidates"))  # fmt: skip
    counts: Counter = Counter()
    for row in rows:
        for source, passed in zip(row.get("candidate_sources", []), row.get("passed", [])):
            counts[source.split(":")[0], passed] += 1
    print(f"{len(rows)} problems; candidates by source (passing / failing):")
    for source in sorted({s for s, _ in counts}):
        print(f"  {source:<10} {counts[source, True]:>6} / {counts[source, False]:<6}")
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    import json
    from collections import Counter

    from codescaler.jsonl import read_lines
    from codescaler.pairs import build_pairs

    def problems():
        for path in args.input:
            for number, record in read_lines(path):
                if isinstance(record, dict) and "error" not in record:
                    yield record
                else:
                    why = record.get("error") if isinstance(record, dict) else record
                    print(f"{path} line {number}: skipped ({why})")

    counts: Counter = Counter()
    with open(args.output, "w") as f:
        for pair in build_pairs(problems(), config_from_args(args, PairsConfig)):
            counts[pair["split"], pair["source"].split(":")[0]] += 1
            f.write(json.dumps(pair) + "\n")
    print(f"wrote {sum(counts.values())} pairs to {args.output}")
    for (split, source), n in sorted(counts.items()):
        print(f"  {split:<10} {source:<10} {n:>7}")
    return 0


def run_bon(args: argparse.Namespace) -> int:
    from codescaler.bon import _NEEDS_RM, best_of_n
    from codescaler.jobs import parse_verifiable
    from codescaler.jsonl import RecordError, read_lines
    from codescaler.sandbox import Sandbox

    pool = []
    for number, record in read_lines(args.input):
        if isinstance(record, RecordError):
            raise SystemExit(f"{args.input}: {record}")
        try:
            pool.append(parse_verifiable(number, record) if "labels" not in record else record)
        except RecordError as err:
            raise SystemExit(f"{args.input}: {err}") from None
    pool = pool[: args.limit or None]
    config = config_from_args(args, BonConfig)
    needs_rm = any(m.strip() in _NEEDS_RM for m in config.methods.split(","))
    model = load_model(args) if needs_rm else None
    with Sandbox(workers=args.workers, limits=dataclasses.replace(Limits(), timeout=config.test_timeout)) as sandbox:
        best_of_n(pool, args.output, config=config, model=model, model_id=args.model, sandbox=sandbox)
    print((Path(args.output) / "report.md").read_text())
    return 0


def _models(args: argparse.Namespace) -> list[str]:
    return [m.strip() for m in (args.models or args.model).split(",") if m.strip()]


def _load_named(args: argparse.Namespace, name: str):
    return load_model(argparse.Namespace(**{**vars(args), "model": name}))


def run_pairwise(args: argparse.Namespace) -> int:
    import json

    from codescaler.evaluate import builtin_pairs, pairwise
    from codescaler.train import read_pairs

    pairs = builtin_pairs(args.input) if args.input in BUILTIN_PAIRS else read_pairs(args.input)
    groups = [g.strip() for g in args.group_by.split(",") if g.strip()]
    results = {name: pairwise(_load_named(args, name), pairs, group_by=groups, extract=args.extract)
               for name in _models(args)}  # fmt: skip
    print(f"{'model':<40} {'group':<30} {'n':>6} {'accuracy':>9}  95% interval")
    for name, result in results.items():
        rows = [("all", result["overall"])] + [
            (f"{key}={value}", summary) for key, by in result["groups"].items() for value, summary in by.items()
        ]
        for group, s in rows:
            print(f"{name:<40} {group:<30} {s['n']:>6} {100 * s['accuracy']:>8.1f}%  "
                  f"[{100 * s['ci95'][0]:.1f}, {100 * s['ci95'][1]:.1f}]")  # fmt: skip
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"input": args.input, "results": results}, f, indent=2)
    return 0


def run_rmbench(args: argparse.Namespace) -> int:
    import json

    from codescaler.evaluate import rmbench

    text = Path(args.input).read_text()
    lines = [json.loads(x) for x in text.splitlines() if x.strip()] if not text.lstrip().startswith("[") else None
    items = lines if lines is not None else json.loads(text)
    results = {name: rmbench(_load_named(args, name), items, extract=args.extract) for name in _models(args)}
    print(f"{'model':<40} {'group':<20} {'easy':>7} {'normal':>7} {'hard':>7} {'average':>8}")
    for name, by_group in results.items():
        for group, row in by_group.items():
            print(f"{name:<40} {group:<20} " + " ".join(f"{100 * row[k]['accuracy']:>6.1f}%" for k in
                  ("easy", "normal", "hard")) + f" {100 * row['average']:>7.1f}%")  # fmt: skip
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"input": args.input, "results": results}, f, indent=2)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from codescaler.serve import serve

    config = config_from_args(args, ServeConfig)
    print(f"serving {args.model} on http://{config.host}:{config.port} (/score, /get_reward, /health, /metrics)")
    serve(load_model(args), config_from_args(args, RewardConfig), config)
    return 0


def run_rl(args: argparse.Namespace) -> int:
    from codescaler.rl import train_policy

    report = train_policy(config_from_args(args, RLConfig))
    print(f"greedy pass rate on {report['held_out_problems']} held-out problems: "
          f"{100 * report['pass_rate_before']:.1f}% before, {100 * report['pass_rate_after']:.1f}% after")  # fmt: skip
    print(f"logs: {args.output_dir}/report.json")
    return 0


def run_train(argv: list[str]) -> int:
    """``codescaler train [--config FILE.yaml] [--flag value ...]``: defaults, then the YAML, then the flags."""
    from trl import TrlParser

    from codescaler.train import TrainConfig, train_reward_model

    parser = TrlParser(TrainConfig, prog="codescaler train")
    config, unknown = parser.parse_args_and_config(argv, return_remaining_strings=True)
    if unknown:
        parser.error(f"unknown settings: {' '.join(unknown)}")
    report = train_reward_model(config)
    print(f"trained {report['finetune']} on {report['train_pairs']} pairs in {report['train_seconds']:.0f} s "
          f"({report['pairs_per_second']:.2f} pairs/s, peak RSS {report['peak_rss_mib']:.0f} MiB)")  # fmt: skip
    if report["validation"]:
        v = report["validation"]
        print(f"validation pairwise accuracy {100 * v['accuracy']:.1f}% "
              f"[{100 * v['ci95'][0]:.1f}, {100 * v['ci95'][1]:.1f}] over {v['n']} pairs")  # fmt: skip
    print(f"saved to {config.output_dir} (report.json beside the weights)")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    import json

    from codescaler.jsonl import read_lines
    from codescaler.verify import pass_at_k_report

    ks = [int(k) for k in args.k.split(",") if k.strip()]
    report = pass_at_k_report((r for _, r in read_lines(args.input) if isinstance(r, dict)), ks)
    print(f"{report['problems']} problems, {report['samples']} samples")
    for k in ks:
        value = report[f"pass@{k}"]
        print(f"  pass@{k:<4} {'n/a' if value is None else f'{100 * value:6.2f}%'}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def run_data_export(args: argparse.Namespace) -> int:
    import json

    from codescaler import datasets

    records = datasets.load(args.name)
    if args.format == "verl":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise SystemExit("--format verl writes Parquet: pip install 'codescaler[verl]'") from None

        pq.write_table(pa.Table.from_pylist(datasets.to_verl(records, args.name)), args.output)
        print(f"wrote {len(records)} {args.name} problems in verl's format to {args.output}")
        return 0
    with open(args.output, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    print(f"wrote {len(records)} {args.name} problems to {args.output}")
    return 0


def run_data_list(args: argparse.Namespace) -> int:
    from codescaler import datasets

    print("\n".join(datasets.names()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return run_train(argv[1:])
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        import transformers

        # Loading reports and GGUF progress bars drown the output; our own warnings still show.
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
