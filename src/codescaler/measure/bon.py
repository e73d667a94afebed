"""Best-of-N test-time selection: the RM against unit-test methods, on a pool of labelled samples; the report.

Methods: :mod:`codescaler.measure.bon_methods`; facts and their cache: :mod:`codescaler.measure.bon_facts`;
plots: :mod:`codescaler.measure.bon_plots`.

Cost: each pick counts the distinct programs it ran on generated tests and on the problem's own tests;
CPU seconds are those counts times the problem's measured CPU per program for each kind of test (the
problem's own tests are timed when the ground truth is computed in the sandbox; a pool's ``labels`` carry
no timing, so there those costs are programs only). Model cost is measured per problem over all candidates
and prorated to N.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codescaler.judges.base import Judge
from codescaler.measure.bon_facts import EngineFor, ground_truth, judge_facts, program_ids, run_generated
from codescaler.measure.bon_methods import (
    JUDGED,
    NEEDS_TESTS,
    READS,
    BonConfig,
    Problem,
    accuracy_at_n,
    family,
)
from codescaler.measure.bon_plots import plot_report
from codescaler.records.tagged_json import from_json


def best_of_n(
    pool: list[dict[str, Any]],
    out_dir: str | Path,
    *,
    config: BonConfig | None = None,
    judges: dict[str, Judge] | None = None,
    judge_ids: dict[str, str] | None = None,
    sandbox=None,
    engine_for: EngineFor | None = None,
) -> dict[str, Any]:
    """Run every method at every N over ``pool``; write report.json, report.md and the plots to ``out_dir``.

    ``judges``: the loaded judge of each name the methods read (``rm``, ``coder``, ``reviewer``:
    :meth:`BonConfig.judges`), and ``judge_ids`` the names they were loaded by. ``engine_for`` runs the programs
    elsewhere (``--engine ray``: it builds a Ray Data pool of sandboxes for a job); else they run in ``sandbox``.
    """
    config = config or BonConfig()
    methods, judges, judge_ids = config.methods, judges or {}, judge_ids or {}
    missing = [j for j in config.judges() if j not in judges]
    if missing:
        raise ValueError(f"methods {methods} need the judges {missing}")
    out = Path(out_dir)
    cache = out / "cache"  # large (every candidate's outputs): keep it out of version control
    cache.mkdir(parents=True, exist_ok=True)
    truth = ground_truth(pool, sandbox, cache, engine_for)
    problems = [
        Problem(
            p["id"],
            t["passed"],
            programs=program_ids(p),
            cost={"truth_wall": t["wall"], "truth_cpu": t["cpu"], "truth_programs": t["programs"]},
        )
        for p, t in zip(pool, truth)
    ]
    judged = dict.fromkeys(j for m in methods for j in READS.get(m, ()))  # in --methods order: a stable cache
    for method in judged:
        name, mode, check = JUDGED[method]
        for problem, facts in zip(
            problems, judge_facts(pool, judges[name], judge_ids.get(name, ""), mode, check, cache)
        ):
            problem.rewards[method], problem.scores[method] = facts["rewards"], facts["scores"]
            problem.cost.update(
                {f"{method}_wall": facts["wall"], f"{method}_cpu": facts["cpu"], f"{method}_tokens": facts["tokens"]}
            )
    if "gate" in methods:
        calibration = judges["rm"].calibration
        if calibration is None:
            raise ValueError(
                f"gate reads the RM's calibrated P(pass); {judge_ids.get('rm') or 'the RM'} has none "
                "(fit one: codescaler calibrate verified.jsonl --save)"
            )
        for problem in problems:
            problem.p_pass = [0.0 if s is None else calibration.p_pass(s) for s in problem.scores["rm"]]
    if set(methods) & NEEDS_TESTS:
        for problem, facts in zip(problems, run_generated(pool, sandbox, cache, engine_for)):
            # decoded once here: the selection loop compares them many times
            problem.outputs = [[None if o is None else [from_json(o[0])] for o in row] for row in facts["outputs"]]
            problem.expected = [from_json(e) for e in facts["expected"]]
            problem.cost.update(
                {
                    "exec_wall": facts["wall"],
                    "exec_cpu": facts["cpu"],
                    "exec_programs": facts["programs"],
                    "exec_tests": facts["tests"],
                }
            )
    size = min(len(p.correct) for p in problems)
    ns = sorted({n for n in config.n if n <= size})
    methods = config.expanded()
    table = accuracy_at_n(problems, methods, ns, config.draws, config.seed)
    report = {
        "problems": len(problems),
        "candidates_per_problem": size,
        "judges": {name: judge_ids.get(name) for name in config.judges()},
        "problems_without_generated_tests": sum(1 for p in problems if p.expected == []),
        "config": asdict(config),
        "accuracy": {
            m: {str(n): {k: v[k] for k in ("mean", "low", "high", "problems")} for n, v in by_n.items()}
            for m, by_n in table.items()
        },
        "latency": _latency(problems, table, ns, size),
    }
    report["frontier"] = _frontier(report, methods, str(ns[-1]))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(_markdown(report, methods, ns))
    plot_report(report, methods, ns, out)
    return report


def _latency(
    problems: list[Problem], table: dict[str, dict[int, dict[str, Any]]], ns: Sequence[int], size: int
) -> dict[str, Any]:
    """Cost per problem at each N: the judges' seconds prorated from their measured cost over all ``size``
    candidates (a judge reads every candidate, so N of them cost total x N / size), and the execution each
    method's picks did (:func:`accuracy_at_n`)."""

    def mean(key: str) -> float:
        values = [p.cost.get(key, 0.0) for p in problems]
        return sum(values) / len(values)

    out: dict[str, Any] = {}
    for m, by_n in table.items():
        reads = READS.get(family(m), ())  # a method costs what each judge it reads costs
        model = {k: sum(mean(f"{j}_{k}") for j in reads) for k in ("wall", "cpu", "tokens")}
        out[m] = {
            str(n): {
                "model_wall_s": model["wall"] * n / size,
                "model_cpu_s": model["cpu"] * n / size,
                "exec_wall_s": by_n[n]["exec_wall_s"],
                "exec_cpu_s": by_n[n]["exec_cpu_s"],
                "forward_tokens": model["tokens"] * n / size,
                "programs_run": by_n[n]["generated_programs"] + by_n[n]["verified_programs"],
            }
            for n in ns
            if n in by_n
        }
    return out


def _markdown(report: dict[str, Any], methods: Sequence[str], ns: Sequence[int]) -> str:
    lines = [
        f"# Best-of-N: {report['problems']} problems, {report['candidates_per_problem']} candidates each",
        "",
        f"Judges: {', '.join(f'{k} `{v}`' for k, v in report['judges'].items()) or 'none'}. "
        "Top-1 pass rate (%) with 95% interval over problems; "
        f"{report['config']['draws']} draws per N.",
        "",
        "| method | " + " | ".join(f"N={n}" for n in ns) + " |",
        "|---|" + "---|" * len(ns),
    ]
    for m in methods:
        cells = []
        for n in ns:
            v = report["accuracy"][m].get(str(n))
            cells.append(f"{100 * v['mean']:.1f} ±{100 * (v['high'] - v['mean']):.1f}" if v else "")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    top = str(ns[-1])
    lines += [
        "",
        f"Latency per problem at N={top} (seconds; wall / CPU), and work done:",
        "",
        "| method | model wall | model CPU | exec wall | exec CPU | forward tokens | programs run |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        c = report["latency"][m][top]
        seconds = ["n/a" if c[k] is None else f"{c[k]:.3f}" for k in ("exec_wall_s", "exec_cpu_s")]
        lines.append(
            f"| {m} | {c['model_wall_s']:.3f} | {c['model_cpu_s']:.3f} | {seconds[0]} | {seconds[1]} | "
            f"{c['forward_tokens']:.0f} | {c['programs_run']:.1f} |"
        )
    if report["frontier"]:
        lines += ["", f"Selective execution at N={top}: the least budget that reaches full execution's top-1:", ""]
        for kind, f in report["frontier"].items():
            reached = (
                f"`{f['first']}` reaches it ({100 * f['top1']:.1f}%) running {f['programs']:.1f} programs, "
                f"{100 * f['fraction']:.0f}% of {f['reference']}'s"
                if f["first"]
                else "no budget tried reaches it"
            )
            lines.append(
                f"* {kind}: {f['reference']} {100 * f['reference_top1']:.1f}% with {f['reference_programs']:.1f} "
                f"programs run; {reached}."
            )
    return "\n".join(lines) + "\n"


# each selective family is measured against the full execution it saves: CodeT's (generated tests), or
# running every program on the problem's own tests (the oracle)
_REFERENCE = {"cascade": "codet", "gate": "codet", "verify-top": "oracle"}


def _frontier(report: dict[str, Any], methods: Sequence[str], top: str) -> dict[str, Any]:
    """Per selective family measured beside its reference: the first parameter (in the order given) whose
    top-1 at N=``top`` is at least the reference's, with the programs it ran as a fraction of the reference's."""
    out = {}
    for kind in dict.fromkeys(family(m) for m in methods if family(m) in _REFERENCE):
        reference = _REFERENCE[kind]
        if reference not in methods:
            continue
        goal, spent = report["accuracy"][reference][top]["mean"], report["latency"][reference][top]["programs_run"]
        first = next(
            (m for m in methods if family(m) == kind and report["accuracy"][m][top]["mean"] >= goal - 1e-12), None
        )
        programs = report["latency"][first][top]["programs_run"] if first else None
        out[kind] = {
            "reference": reference,
            "reference_top1": goal,
            "reference_programs": spent,
            "first": first,
            "top1": report["accuracy"][first][top]["mean"] if first else None,
            "programs": programs,
            "fraction": programs / spent if first and spent else None,
        }
    return out
