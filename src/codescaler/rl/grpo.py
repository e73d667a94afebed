"""GRPO with TRL on one machine: a code policy trained against the RM, execution, or both.

A recipe over public APIs: :class:`trl.GRPOTrainer` with :mod:`codescaler.integrations.trl` rewards.
Problems are MBPP's training side of the same problem-level split the pairs use; the pass rate before
and after is measured by greedy decoding on a fixed held-out sample from the other side, with the
sandbox. A zero-weight ``valid`` reward makes TRL log the fraction of completions with valid code.
Against a learned reward the reward-hacking monitor (:mod:`codescaler.measure.monitor`) executes a slice of each
step's rollouts; ``curves.png`` plots its agreement with execution beside the reward curves.
"""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from codescaler.judges.weights import DEFAULT_MODEL


@dataclass
class RLConfig:
    """Defaults follow the paper's GRPO (lr 1e-6, clip 0.2/0.28, no KL, temperature 0.6), scaled to a CPU."""

    policy: str = field(default="smollm2-135m", metadata={"help": "causal LM to train: hub id, folder or packaged"})
    reward: Literal["rm", "execution", "hybrid", "budgeted"] = field(default="rm", metadata={"help": "reward kind"})
    reward_model: str = field(default=DEFAULT_MODEL, metadata={"help": "RM for --reward rm/hybrid/budgeted"})
    budget_k: int = field(default=2, metadata={"help": "--reward budgeted: samples executed per group"})
    budget_rule: Literal["top", "unsure"] = field(
        default="top", metadata={"help": "--reward budgeted: execute the judge's top, or its least sure"}
    )
    problems: str = field(
        default="mbpp",
        metadata={"help": "dataset name (codescaler data list); its evaluation-benchmark problems are dropped"},
    )
    steps: int = field(default=30, metadata={"help": "optimizer steps"})
    prompts_per_step: int = field(default=2, metadata={"help": "problems per step"})
    num_generations: int = field(default=4, metadata={"help": "rollouts per problem (the GRPO group)"})
    max_completion_length: int = field(default=256, metadata={"help": "tokens per rollout"})
    learning_rate: float = field(default=1e-6, metadata={"help": "AdamW learning rate"})
    temperature: float = field(default=0.6, metadata={"help": "rollout temperature"})
    eval_problems: int = field(default=32, metadata={"help": "held-out problems for the greedy pass rate"})
    validation_fraction: float = field(
        default=0.1,
        metadata={
            "help": "problems held out where the set has no validation split of its own (MBPP has: 511-600), as "
            "`codescaler pairs --validation-fraction` holds them"
        },
    )
    split_seed: int = field(default=0, metadata={"help": "seed of that split, as `codescaler pairs --seed`"})
    monitor_budget: int = field(
        default=8, metadata={"help": "reward-hacking monitor: rollouts executed per step (0: off; not for execution)"}
    )
    monitor_window: int = field(default=5, metadata={"help": "monitor: steps pooled, recent against first"})
    monitor_margin: float = field(default=0.1, metadata={"help": "monitor: warn when agreement drops by more"})
    output_dir: str = field(default="rl-out", metadata={"help": "logs, curves and the policy"})
    seed: int = field(default=0, metadata={"help": "seed"})


def valid_code(prompts, completions, **columns) -> list[float]:
    from codescaler.extraction.extract import extract_code
    from codescaler.integrations.trl import message_text

    return [float(extract_code(message_text(c, "assistant")).valid) for c in completions]


def problem_sets(config: RLConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from codescaler import benchmarks
    from codescaler.benchmarks.overlap import without_evaluation_problems
    from codescaler.training.pairs import humaneval_match, problem_split

    records = [r for r in benchmarks.load(config.problems) if not humaneval_match(r)]
    # Never a problem eval-policy measures the policy on: "did RL help" must not be asked of trained problems.
    records, _ = without_evaluation_problems(records, config.problems)
    if any(r.get("split") == "validation" for r in records):  # the set's own split (MBPP's official one)
        split = {r["id"]: r.get("split") for r in records}
    else:
        split = {r["id"]: problem_split(r["id"], config.validation_fraction, config.split_seed) for r in records}
    train = [r for r in records if split[r["id"]] == "train"]
    held = [r for r in records if split[r["id"]] == "validation"]
    random.Random(config.seed).shuffle(held)
    return train, held[: config.eval_problems]


def pass_rate(model, tokenizer, problems: list[dict[str, Any]], sandbox, max_new_tokens: int) -> float:
    """Greedy pass rate (lenient extraction) of ``model`` on ``problems``."""
    from codescaler.benchmarks import training_prompt
    from codescaler.execution.verify import require_verdicts, verify_responses
    from codescaler.training.generation import SampleConfig, TransformersSampler

    questions = [training_prompt(p) for p in problems]
    greedy = SampleConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, batch_size=8)
    answers = TransformersSampler(model, tokenizer).generate(questions, greedy)
    runs = [{**p, "responses": a} for p, a in zip(problems, answers)]
    verdicts = require_verdicts((v[0] for v in verify_responses(runs, sandbox)), "the held-out pass rate")
    return sum(v.passed for v in verdicts) / len(verdicts)


def train_policy(config: RLConfig) -> dict[str, Any]:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from codescaler.benchmarks import training_prompt
    from codescaler.execution.sandbox import Sandbox
    from codescaler.integrations.trl import (
        BudgetedReward,
        ExecutionReward,
        HybridReward,
        RewardHackingCallback,
        RMReward,
    )
    from codescaler.judges.weights import resolve_model_path
    from codescaler.measure.monitor import MonitorConfig

    train, held = problem_sets(config)
    path, gguf = resolve_model_path(config.policy, None)
    tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(path, gguf_file=gguf)
    model.hf_quantizer, model.is_quantized = None, False  # a GGUF policy is de-quantised on load
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = [
        {
            "prompt": [{"role": "user", "content": training_prompt(p)}],
            "question": p["question"],
            "tests": json.dumps(p["tests"]),
        }
        for p in train
    ]
    out = Path(config.output_dir)
    with Sandbox() as sandbox:
        before = pass_rate(model, tokenizer, held, sandbox, config.max_completion_length)
        rewards: list[Any]
        if config.reward == "execution":
            rewards = [ExecutionReward(sandbox)]
        elif config.reward == "rm":
            rewards = [RMReward(config.reward_model)]
        elif config.reward == "hybrid":
            rewards = [HybridReward(RMReward(config.reward_model), ExecutionReward(sandbox))]
        else:
            rewards = [
                BudgetedReward(
                    RMReward(config.reward_model), ExecutionReward(sandbox), config.budget_k, config.budget_rule
                )
            ]
        monitor = None
        if config.monitor_budget and config.reward != "execution":
            watch = MonitorConfig(
                budget=config.monitor_budget,
                window=config.monitor_window,
                margin=config.monitor_margin,
                seed=config.seed,
            )
            monitor = RewardHackingCallback(sandbox, watch)
            rewards = [monitor.watch(rewards[0])]
        args = GRPOConfig(
            output_dir=str(out),
            max_steps=config.steps,
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.prompts_per_step * config.num_generations,
            num_generations=config.num_generations,
            max_completion_length=config.max_completion_length,
            temperature=config.temperature,
            beta=0.0,
            epsilon=0.2,
            epsilon_high=0.28,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=config.seed,
            reward_weights=[1.0, 0.0],
            bf16=False,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[*rewards, valid_code],
            args=args,
            train_dataset=datasets.Dataset.from_list(rows),
            processing_class=tokenizer,
            callbacks=[monitor] if monitor else None,
        )
        trainer.train()
        after = pass_rate(trainer.model, tokenizer, held, sandbox, config.max_completion_length)
        # the trained policy, for `codescaler eval-policy OUTPUT_DIR/policy` (and the RL-vs-base comparison)
        trainer.save_model(str(out / "policy"))
        tokenizer.save_pretrained(str(out / "policy"))
    report = {
        "config": asdict(config),
        "held_out_problems": len(held),
        "pass_rate_before": before,
        "pass_rate_after": after,
        "log_history": trainer.state.log_history,
        "monitor": monitor.monitor.history if monitor else [],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    # The problems it trained on, for `eval-policy --train-data OUTPUT_DIR/train_problems.jsonl`
    with open(out / "train_problems.jsonl", "w") as f:
        f.writelines(json.dumps({"id": p["id"], "question": p["question"]}) + "\n" for p in train)
    if importlib.util.find_spec("matplotlib"):  # the `plots` extra
        plot_reports([report], out / "curves.png")
    return report


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in rows if key in r]
    return [r["step"] for r in rows], [r[key] for r in rows]


def plot_reports(reports: list[dict[str, Any]], path: Path) -> None:
    """Reward, validity and length curves of ``codescaler rl`` runs side by side, and the monitor's agreement
    with execution: each step's within-group pairwise accuracy (points), the recent pool's (line), the alarm
    threshold (first pool minus the margin, dashed). Needs matplotlib (the ``plots`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("reward", "reward (mean over the batch)"),
        ("reward_std", "reward std"),
        ("rewards/valid_code/mean", "fraction with valid code"),
        ("completions/mean_length", "completion length (tokens)"),
    ]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.2 * (len(panels) + 1), 3.6))
    for report in reports:
        c = report["config"]
        label = f"{c['reward']}: pass {100 * report['pass_rate_before']:.0f}% -> {100 * report['pass_rate_after']:.0f}%"
        for ax, (key, title) in zip(axes, panels):
            ax.plot(*_series(report["log_history"], key), marker=".", label=label)
            ax.set_title(title)
        monitor = report.get("monitor") or []
        if monitor:
            line = axes[-1].plot(*_series(monitor, "monitor/recent_pairwise_accuracy"), label=f"{label}, recent")
            axes[-1].scatter(*_series(monitor, "monitor/pairwise_accuracy"), s=10, color=line[0].get_color())
            first = [
                r.get("monitor/first_pairwise_accuracy") for r in monitor if "monitor/first_pairwise_accuracy" in r
            ]
            if first:
                axes[-1].axhline(first[-1] - c["monitor_margin"], ls="--", color=line[0].get_color(), lw=1)
            alarms = [r["step"] for r in monitor if r.get("monitor/alarm")]
            axes[-1].scatter(alarms, [0.02] * len(alarms), marker="^", color="red", label="alarm" if alarms else None)
    axes[-1].set_title("RM vs execution: pairwise accuracy")
    axes[-1].set_ylim(0, 1.05)
    for ax in axes:
        ax.set_xlabel("GRPO step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if any(report.get("monitor") for report in reports):
        axes[-1].legend(fontsize=7)
    fig.suptitle("GRPO with codescaler rewards (greedy pass rate on held-out problems in the legend)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
