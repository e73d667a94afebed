"""``codescaler serve`` (the HTTP reward server) and ``codescaler serve-sandbox`` (SandboxFusion's API)."""

from __future__ import annotations

import argparse
from typing import Any

from codescaler.cli.flags import (
    add_config_flags,
    add_model_flags,
    config_from_args,
    load_model,
    model_kwargs,
    model_name,
    quiet_transformers,
)
from codescaler.execution.sandbox import Limits
from codescaler.rewards.kinds import ScoringConfig
from codescaler.serving.http import ReplicaConfig
from codescaler.serving.reward_server import ServeConfig
from codescaler.serving.sandbox_server import SandboxServeConfig


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="HTTP reward server with dynamic batching (/score, /get_reward)")
    add_model_flags(serve)
    add_config_flags(serve, ScoringConfig)
    add_config_flags(serve, ServeConfig)
    serve.set_defaults(run=run_serve, drains_on_sigterm=True)

    sandbox = commands.add_parser(
        "serve-sandbox", help="execution service with SandboxFusion's API (/run_code, /submit) over our sandbox"
    )
    add_config_flags(sandbox, Limits)
    add_config_flags(sandbox, SandboxServeConfig)
    sandbox.set_defaults(run=run_serve_sandbox, drains_on_sigterm=True)
    for parser in (serve, sandbox):
        parser.add_argument(
            "--engine",
            default="local",
            choices=["local", "ray"],
            help="local: one process; ray: a Ray Serve application on a Ray cluster ($RAY_ADDRESS) or on a Ray "
            "started here (default: local)",
        )
        add_config_flags(parser, ReplicaConfig)
    serve.add_argument("--ray-gpus", type=float, default=0, help="GPUs per reward replica on Ray Serve (default: 0)")


def run_serve(args: argparse.Namespace) -> int:
    config = config_from_args(args, ServeConfig)
    where = f"on http://{config.host}:{config.port} (/score, /get_reward, /health, /metrics)"
    if args.engine == "ray":
        from codescaler.integrations import ray_serve

        quiet_transformers(args)
        replicas = config_from_args(args, ReplicaConfig)
        scoring = config_from_args(args, ScoringConfig)
        application = ray_serve.reward_application(model_kwargs(args), scoring, config, replicas, args.ray_gpus)
        print(f"serving {model_name(args)} on Ray Serve {where}")
        ray_serve.run(application, "codescaler-reward", config.host, config.port)
        return 0
    from codescaler.serving.reward_server import serve

    print(f"serving {model_name(args)} {where}")
    serve(load_model(args), config_from_args(args, ScoringConfig), config)
    return 0


def run_serve_sandbox(args: argparse.Namespace) -> int:
    config = config_from_args(args, SandboxServeConfig)
    where = f"on http://{config.host}:{config.port} (/run_code, /submit, /v1/ping, /health, /metrics)"
    if args.engine == "ray":
        from codescaler.integrations import ray_serve

        application = ray_serve.sandbox_application(
            config_from_args(args, Limits), config, config_from_args(args, ReplicaConfig)
        )
        print(f"sandbox on Ray Serve {where}")
        ray_serve.run(application, "codescaler-sandbox", config.host, config.port)
        return 0
    from codescaler.serving.sandbox_server import serve_sandbox

    print(f"sandbox {where}")
    serve_sandbox(config_from_args(args, Limits), config)
    return 0
