"""The ``codescaler`` command: one module per family of commands, each parses, calls the library, prints.

Each module has ``register(commands)``, which adds its sub-parsers with ``run`` set to the function that
executes them. Nothing here imports torch: commands that load no model (``data``, ``verify``,
``evaluate``) run where torch is not installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import signal
import sys
import threading
import typing
from collections.abc import Sequence

from codescaler.cli import data, eval_policy, measure, pairs, rl, score, serve, train, verify
from codescaler.records.errors import CodescalerError

COMMAND_MODULES = (score, verify, pairs, measure, eval_policy, serve, rl, train, data)


class _Parser(argparse.ArgumentParser):
    """argparse, but a refused flag or input is one line, as every other error of ours is."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codescaler", description="Execution-free code reward models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level, and show tracebacks")
    parser.add_argument("--version", action="version", version=f"codescaler {importlib.metadata.version('codescaler')}")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if extra and not getattr(args, "takes_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    # SIGTERM unwinds as an exit does, so every sandbox's `with` block ends its processes. The servers drain first
    # (uvicorn's own handler, then the signal again): theirs stays as it is.
    if threading.current_thread() is threading.main_thread() and not getattr(args, "drains_on_sigterm", False):
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return args.run(args)
    except CodescalerError as err:
        if args.verbose:
            raise
        print(f"codescaler: {err}", file=sys.stderr)
        return err.exit_code
