"""Flags shared by the commands: a dataclass's fields as flags, the model flags, the Ray engine flags."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codescaler.judges import JUDGES, REWARD_JUDGE, default_model
from codescaler.judges.weights import DEFAULT_LM, DEFAULT_MODEL, DTYPES, FETCHED_MODELS, PACKAGED_MODELS
from codescaler.records.errors import InputError


class _ListAction(argparse.Action):
    """A list flag: the values after it replace the default, and a repeated flag adds to them
    (``--stop A --stop B`` is ``--stop A B``)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, ([] if current is self.default else list(current)) + list(values))


def add_config_flags(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """One ``--flag`` per dataclass field, with the field's default, type, choices and help; a list field
    takes its values one after another (``--n 1 4 16``) or in repeated flags."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.metadata.get("flag") is False:
            continue
        hint = hints[f.name]
        args = typing.get_args(hint)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
        said = f.metadata.get("help", "")
        # a help that names its own default ("default $CODESCALER_API_KEY") is not followed by a second one
        if "default" not in said and shown not in ("", None):
            said = f"{said} (default: {shown})"
        kwargs: dict[str, Any] = {"default": default, "help": said}
        if default is None and f.default is dataclasses.MISSING:
            kwargs.update(required=True, help=f.metadata.get("help", ""))
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is typing.Literal:
            kwargs.update(choices=list(args), type=str)
        elif typing.get_origin(hint) is list:
            kwargs.update(nargs="+", type=args[0], action=_ListAction)
        else:
            kwargs["type"] = next((a for a in args if a is not type(None)), hint) if args else hint
        names = ["--" + f.name.replace("_", "-"), *([f.metadata["short"]] if "short" in f.metadata else [])]
        parser.add_argument(*names, dest=f.name, **kwargs)


def config_from_args(args: argparse.Namespace, config_cls: type) -> Any:
    """The dataclass built from its flags; its ``__post_init__`` checks the values."""
    try:
        fields = [f for f in dataclasses.fields(config_cls) if f.metadata.get("flag") is not False]
        return config_cls(**{f.name: getattr(args, f.name) for f in fields})
    except ValueError as err:
        raise InputError(str(err)) from None


def input_file(value: str) -> str:
    """An input the command can read: a file (not a folder), readable, text, with something in it. Checked when
    the flags are parsed, before a model loads or an output file is made."""
    from codescaler.records.jsonl import check_input

    try:
        check_input(value)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def output_file(value: str) -> str:
    """An output path that is not a folder, said when the flags are parsed (its folder is made when it is written:
    :func:`codescaler.records.jsonl.writable`)."""
    if Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a folder: name a file to write")
    return value


def add_model_flags(parser: argparse.ArgumentParser, *, judge: bool = True, default_judge: str = REWARD_JUDGE) -> None:
    """The judge and its weights; ``judge=False`` for commands that always read a reward model."""
    names = ", ".join([*PACKAGED_MODELS, *FETCHED_MODELS])
    if judge:
        parser.add_argument(
            "--judge",
            default=default_judge,
            choices=JUDGES,
            help="rm: a reward model; coder, reviewer, coder-reviewer: a causal LM's likelihood, untrained, for "
            f"selection only (default: {default_judge})",
        )
    parser.set_defaults(judge=default_judge if judge else "rm")
    parser.add_argument(
        "--model",
        default=None,
        help=f"hub id, local folder, .gguf file, a named model ({names}), or an engine-served RM: "
        f"vllm+http://host:port, sglang+http://host:port (default: {DEFAULT_MODEL} for the rm judge, "
        f"{DEFAULT_LM} for the likelihood judges)",
    )
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="an engine-served --model's tokenizer, to format its input here (default: the model it serves)",
    )
    parser.add_argument("--gguf-file", default=None, help="GGUF file inside --model's folder")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="weights precision (default: auto)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    parser.add_argument("--max-length", type=int, default=4096, help="longest input in tokens (default: 4096)")


def model_name(args: argparse.Namespace) -> str:
    return args.model or default_model(args.judge)


def model_kwargs(args: argparse.Namespace, name: str | None = None) -> dict[str, Any]:
    """:func:`codescaler.judges.load_judge`'s arguments from the model flags (``name`` in place of ``--model``)."""
    return {
        "judge": args.judge,
        "name_or_path": name or model_name(args),
        "gguf_file": args.gguf_file,
        "dtype": args.dtype,
        "device": args.device,
        "max_length": args.max_length,
        "tokenizer": args.tokenizer,
    }


def quiet_transformers(args: argparse.Namespace) -> None:
    """Loading reports and GGUF progress bars drown a command's output; our own warnings still show."""
    if not args.verbose:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()


def load_model(args: argparse.Namespace, name: str | None = None) -> Any:
    from codescaler.judges import load_judge

    quiet_transformers(args)
    return load_judge(**model_kwargs(args, name))


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="local, or ray: Ray Data on a Ray cluster ($RAY_ADDRESS) or on a Ray started here (default: local)",
    )
    parser.add_argument(
        "--ray-actors", type=int, default=2, help="most Ray actors; the pool grows to it while work waits (default: 2)"
    )
    parser.add_argument("--ray-min-actors", type=int, default=1, help="fewest Ray actors (default: 1)")
    parser.add_argument("--ray-gpus", type=float, default=0, help="GPUs per Ray actor (default: 0)")
    parser.add_argument(
        "--ray-batch", type=int, default=None, help="records an actor answers at a time (default: the job's)"
    )


def check_engine_flags(args: argparse.Namespace) -> None:
    """:class:`InputError` for a ``--ray-*`` flag out of range."""
    for flag, value in (("--ray-actors", args.ray_actors), ("--ray-min-actors", args.ray_min_actors)):
        if value < 1:
            raise InputError(f"{flag} must be at least 1, got {value}")
    if args.ray_batch is not None and args.ray_batch < 1:
        raise InputError(f"--ray-batch must be at least 1, got {args.ray_batch}")
    if args.ray_gpus < 0:
        raise InputError(f"--ray-gpus must be at least 0, got {args.ray_gpus}")


def ray_engine(
    args: argparse.Namespace,
    make_process: Callable[[], Any],
    batch_size: int,
    num_cpus: float = 1,
    concurrent: int = 1,
    num_gpus: float | None = None,
):
    """The :class:`codescaler.integrations.ray.RayEngine` the ``--ray-*`` flags describe (``num_gpus``: per actor,
    default ``--ray-gpus``)."""
    from codescaler.integrations.ray import RayEngine

    check_engine_flags(args)
    gpus = args.ray_gpus if num_gpus is None else num_gpus
    batch = args.ray_batch or batch_size
    return RayEngine(make_process, batch, args.ray_min_actors, args.ray_actors, num_cpus, gpus, concurrent)


def sandbox_engine(
    args: argparse.Namespace,
    make_job: Callable[..., Any],
    limits: Any,
    *job_args: Any,
    batch_size: int = 0,
    concurrent: int = 2,
):
    """The Ray engine of a job that runs programs (verify, candidates, a ground truth): ``make_job(sandbox,
    *job_args)`` in each actor, over a sandbox of ``--workers`` (default 1), one CPU per worker and no GPU;
    ``batch_size`` records a batch (0: a few per worker), ``concurrent`` batches at once in an actor."""
    from functools import partial

    from codescaler.integrations.ray import sandbox_process

    workers = args.workers or 1
    make = partial(sandbox_process, make_job, workers, limits, *job_args)
    # A few problems a batch, so a pool's actors share a file of a few problems and a slow one holds few; two
    # batches at once, so a batch's last slow program does not leave the other workers idle.
    return ray_engine(args, make, batch_size or 4 * workers, num_cpus=workers, concurrent=concurrent, num_gpus=0)


def add_batch_job(
    commands: Any, name: str, help: str, input_help: str, output_help: str | None
) -> argparse.ArgumentParser:
    """A resumable file-to-file job; ``output_help=None`` makes the output optional."""
    job = commands.add_parser(name, help=help)
    job.add_argument("input", type=input_file, help=input_help)
    job.add_argument(
        "-o", "--output", type=output_file, required=output_help is not None, help=output_help or "output JSONL"
    )
    job.add_argument("--resume", action="store_true", help="skip input lines already answered in --output")
    return job


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")


def say_sandbox_python(limits: Any) -> dict[str, Any]:
    """Checks the sandbox's Python and says which it is (a run's verdicts depend on what programs can import)."""
    try:
        from codescaler.execution.sandbox_python import describe_python

        python = describe_python(limits.python)
    except ValueError as err:
        raise InputError(str(err)) from None
    packages = ", ".join(python["packages"]) or "nothing"
    said = f"sandbox python: {python['python']} ({python['version']}), the standard library and {packages}"
    print(said, file=sys.stderr)
    return python
