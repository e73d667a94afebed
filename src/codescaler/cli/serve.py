"""``codescaler serve``: the HTTP reward server."""

from __future__ import annotations

import argparse
from typing import Any

from codescaler.cli.flags import add_config_flags, add_model_flags, config_from_args, load_model, model_name
from codescaler.reward import ScoringConfig
from codescaler.serve import ServeConfig


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="HTTP reward server with dynamic batching (/score, /get_reward)")
    add_model_flags(serve)
    add_config_flags(serve, ScoringConfig)
    add_config_flags(serve, ServeConfig)
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from codescaler.serve import serve

    config = config_from_args(args, ServeConfig)
    print(f"serving {model_name(args)} on http://{config.host}:{config.port} (/score, /get_reward, /health, /metrics)")
    serve(load_model(args), config_from_args(args, ScoringConfig), config)
    return 0
