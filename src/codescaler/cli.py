"""The ``codescaler`` command: parse flags, call the library, print."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import typing
from collections.abc import Sequence

from codescaler.model import DTYPES, PACKAGED_MODELS
from codescaler.reward import RewardConfig
from codescaler.sandbox import Limits


def add_config_flags(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """One ``--flag`` per dataclass field, with the field's default, type, choices and help."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        kwargs: dict = {"default": f.default, "help": f"{f.metadata.get('help', '')} (default: {f.default})"}
        if typing.get_origin(hint) is typing.Literal:
            kwargs.update(choices=list(args), type=str)
        else:
            base = next((a for a in args if a is not type(None)), hint) if args else hint
            kwargs["type"] = base
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def config_from_args(args: argparse.Namespace, config_cls: type):
    return config_cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)})


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(PACKAGED_MODELS)
    parser.add_argument("--model", required=True, help=f"hub id, local folder, or a packaged model name ({names})")
    parser.add_argument("--gguf-file", default=None, help="GGUF file inside --model's folder")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="weights precision (default: auto)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    parser.add_argument("--max-length", type=int, default=4096, help="longest input in tokens (default: 4096)")


def load_model(args: argparse.Namespace):
    from codescaler.model import RewardModel

    return RewardModel.from_pretrained(
        args.model, gguf_file=args.gguf_file, dtype=args.dtype, device=args.device, max_length=args.max_length
    )


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
    score.set_defaults(run=run_score)

    rank = batch_job(
        "rank", "rank each problem's candidate responses, best first",
        'JSONL lines {"id", "question", "responses": [...], "code_prefix"?}', None,
    )  # fmt: skip
    rank.add_argument("--top", type=int, default=10, help="rows printed per problem (default: 10)")
    add_model_flags(rank)
    add_config_flags(rank, RewardConfig)
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
    verify.set_defaults(run=run_verify)

    evaluate = commands.add_parser("evaluate", help="pass@k from `codescaler verify` output")
    evaluate.add_argument("input", help="output of codescaler verify")
    evaluate.add_argument("--k", default="1,10,100", help="comma-separated k values (default: 1,10,100)")
    evaluate.add_argument("-o", "--output", default=None, help="also write the figures as JSON")
    evaluate.set_defaults(run=run_evaluate)

    data = commands.add_parser("data", help="benchmark datasets in the problem record schema")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    export = data_commands.add_parser("export", help="write a dataset as problem records")
    export.add_argument("name", help="dataset name; `codescaler data list` shows them")
    export.add_argument("-o", "--output", required=True, help="output JSONL")
    export.set_defaults(run=run_data_export)
    listing = data_commands.add_parser("list", help="the dataset names")
    listing.set_defaults(run=run_data_list)
    return parser


def run_score(args: argparse.Namespace) -> int:
    from codescaler.jobs import parse_answer, run_chunked, score_job

    job = score_job(load_model(args), config_from_args(args, RewardConfig))
    rows = list(run_chunked(args.input, args.output, parse_answer, job, resume=args.resume, desc="score"))
    errors = sum("error" in r for r in rows)
    print(f"wrote {len(rows)} records to {args.output} ({errors} with errors)")
    return 0


def _first_line(code: str, width: int = 60) -> str:
    line = next((s.strip() for s in code.splitlines() if s.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def run_rank(args: argparse.Namespace) -> int:
    from codescaler.jobs import parse_problem, rank_job, run_chunked

    job = rank_job(load_model(args), config_from_args(args, RewardConfig))
    for problem in run_chunked(args.input, args.output, parse_problem, job, resume=args.resume, chunk_size=16,
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

    with Sandbox(workers=args.workers, limits=config_from_args(args, Limits)) as sandbox:
        job = verify_job(sandbox, args.mode)
        rows = list(run_chunked(args.input, args.output, parse_verifiable, job, resume=args.resume, chunk_size=32,
                                desc="verify"))  # fmt: skip
    programs = sum(len(r.get("passed", [])) for r in rows)
    passed = sum(sum(r.get("passed", [])) for r in rows)
    errors = sum("error" in r for r in rows)
    print(f"verified {programs} programs of {len(rows)} problems: {passed} pass ({errors} records with errors)")
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
