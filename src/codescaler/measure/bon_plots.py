"""The plots of a best-of-N report: top-1 against N, latency, and the Pareto front of top-1 against cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codescaler.measure.bon_methods import cpu_seconds, family


def plot_report(report: dict[str, Any], methods: Sequence[str], ns: Sequence[int], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return  # plots are optional: pip install 'codescaler[plots]'
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plain = [m for m in methods if family(m) == m]  # the selective families are drawn in pareto.png
    for m in plain:
        points = [(n, report["accuracy"][m][str(n)]) for n in ns if str(n) in report["accuracy"][m]]
        xs = [n for n, _ in points]
        ax.plot(xs, [100 * v["mean"] for _, v in points], marker="o", label=m)
        ax.fill_between(xs, [100 * v["low"] for _, v in points], [100 * v["high"] for _, v in points], alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (candidates per problem)")
    ax.set_ylabel("top-1 pass rate (%)")
    ax.set_title(f"Best-of-N selection, {report['problems']} problems")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_n.png", dpi=120)
    plt.close(fig)
    top = str(ns[-1])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    shown = [m for m in plain if m not in ("random", "oracle")]
    model_wall = [report["latency"][m][top]["model_wall_s"] for m in shown]
    exec_wall = [report["latency"][m][top]["exec_wall_s"] or 0.0 for m in shown]
    ax.bar(shown, model_wall, label="reward model")
    ax.bar(shown, exec_wall, bottom=model_wall, label="execution of generated tests")
    ax.set_ylabel("wall seconds per problem")
    ax.set_title(f"Selection latency at N={top} (tests already written)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=120)
    plt.close(fig)
    _pareto(plt, report, methods, top, out)


def _pareto(plt, report: dict[str, Any], methods: Sequence[str], top: str, out: Path) -> None:
    """Top-1 against cost per problem at N=``top``: CPU seconds of judge and execution together, of execution
    alone (a judge's cost is the same at every budget, and on a CPU it can dwarf execution), and programs
    run. A selective family is one curve over its budgets; every other method is a point; bars: 95%."""
    panels: list[tuple[str, Callable[[dict[str, Any]], float | None]]] = [
        ("CPU seconds per problem (judge + execution)", cpu_seconds),
        ("execution CPU seconds per problem", lambda cost: cost["exec_cpu_s"]),
        ("programs run per problem", lambda cost: cost["programs_run"]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(17, 4.8), sharey=True)
    for ax, (label, x_of) in zip(axes, panels):
        for kind in dict.fromkeys(family(m) for m in methods):
            points = [
                (m, x, report["accuracy"][m][top])
                for m in methods
                if family(m) == kind and (x := x_of(report["latency"][m][top])) is not None
            ]
            if not points:
                continue
            xs, ys = [x for _, x, _ in points], [100 * a["mean"] for _, _, a in points]
            errors = [
                [100 * (a["mean"] - a["low"]) for *_, a in points],
                [100 * (a["high"] - a["mean"]) for *_, a in points],
            ]
            ax.errorbar(
                xs, ys, yerr=errors, marker="o", capsize=3, label=kind, linestyle="-" if len(points) > 1 else ""
            )
            for (m, _, _), x, y in zip(points, xs, ys):
                if "@" in m:
                    ax.annotate(m.partition("@")[2], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xscale("symlog", linthresh=0.01 if "execution CPU" in label else 1.0)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 pass rate (%)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Accuracy against execution budget at N={top}, {report['problems']} problems")
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=120)
    plt.close(fig)
