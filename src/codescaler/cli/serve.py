"""``codescaler serve`` (the HTTP reward server) and ``codescaler serve-sandbox`` (SandboxFusion's API)."""

from __future__ import annotations

import argparse
from typing import Any

from codescaler.cli.flags import add_config_flags, add_model_flags, config_from_args, load_model, model_name
from codescaler.execution.sandbox import Limits
from codescaler.rewards.kinds import ScoringConfig
from codescaler.serving.reward_server import ServeConfig
from codescaler.serving.sandbox_server import SandboxServeConfig


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="HTTP reward server with dynamic batching (/score, /get_reward)")
    add_model_flags(serve)
    add_config_flags(serve, ScoringConfig)
    add_config_flags(serve, ServeConfig)
    serve.set_defaults(run=run_serve)

    sandbox = commands.add_parser(
        "serve-sandbox", help="execution service with SandboxFusion's API (/run_code, /submit) over our sandbox"
    )
    add_config_flags(sandbox, Limits)
    add_config_flags(sandbox, SandboxServeConfig)
    sandbox.set_defaults(run=run_serve_sandbox)


def run_serve(args: argparse.Namespace) -> int:
    from codescaler.serving.reward_server import serve

    config = config_from_args(args, ServeConfig)
    print(f"serving {model_name(args)} on http://{config.host}:{config.port} (/score, /get_reward, /health, /metrics)")
    serve(load_model(args), config_from_args(args, ScoringConfig), config)
    return 0


def run_serve_sandbox(args: argparse.Namespace) -> int:
    from codescaler.serving.sandbox_server import serve_sandbox

    config = config_from_args(args, SandboxServeConfig)
    print(f"sandbox on http://{config.host}:{config.port} (/run_code, /submit, /v1/ping, /health, /metrics)")
    serve_sandbox(config_from_args(args, Limits), config)
    return 0
