"""The report of ``codescaler eval-policy``: per benchmark, Avg@n and unbiased pass@k with 95% intervals over
problems, tokens and seconds per sample, how many samples held code, and why the others failed; with a
baseline run beside it, the paired per-problem difference ("did RL help").

Intervals are Wilson intervals over problems (:func:`codescaler.measure.rm_eval.bounded_interval`), honest at any
number of problems: a run of two problems that all fail reads 0.0 [0.0, 65.8], not 0.0 [0.0, 0.0]. A paired
difference is taken over the problems both runs have, so a baseline on other problems changes nothing, and comes
with how many problems got better and worse and the exact sign test's p-value.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codescaler.evaluation.policy import benchmark_records, read_rows
from codescaler.execution.pass_at_k import pass_at_k
from codescaler.measure.rm_eval import bounded_interval, sign_test

# Why a sample failed: its status (the closed set), or ``no_code`` where no program could be read from it.
REASONS = ("no_code", "wrong_answer", "runtime_error", "timeout", "memory_limit", "compile_error")
RATE, DIFFERENCE = (0.0, 1.0), (-1.0, 1.0)  # what an interval may span: a pass rate, a paired difference


def benchmark_figures(rows: list[dict[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    """One benchmark's figures from its joined rows (a problem's samples and verdicts). A sample the sandbox could
    not run (``passed`` null, status ``infrastructure``) is no failure: it is counted apart and left out."""
    n = min(len(r["passed"]) for r in rows)
    known = {str(r["id"]): [p for p in r["passed"] if p is not None] for r in rows}
    per_problem = {pid: sum(k) / len(k) for pid, k in known.items() if k}
    outcomes = [
        (status, reason, cut)
        for r in rows
        for status, reason, cut in zip(
            r["status"],
            r.get("reasons") or [None] * len(r["status"]),
            r.get("truncated") or [False] * len(r["status"]),
        )
    ]
    statuses = [s for s, _, _ in outcomes]
    failed = Counter("no_code" if reason else s for s, reason, _ in outcomes if s not in ("passed", "infrastructure"))
    samples = len(statuses)
    truncated = sum(cut for _, _, cut in outcomes)
    return {
        "problems": len(rows),
        "samples": samples,
        "infrastructure": sum(s == "infrastructure" for s in statuses),
        # Problems whose statement accepts several outputs, judged by exact match for want of a checker.
        "several_answers": sum(bool(r.get("several_answers")) for r in rows),
        f"avg@{n}": bounded_interval(list(per_problem.values()), RATE),
        "pass@k": {
            str(k): bounded_interval([pass_at_k(len(v), sum(v), k) for v in known.values() if len(v) >= k], RATE)
            for k in ks
            if k <= n
        },
        "tokens_per_sample": sum(t for r in rows for t in r["tokens"]) / samples,
        "seconds_per_sample": sum(s for r in rows for s in r["seconds"]) / samples,
        # A sample cut off at max_new_tokens is counted as such, never as one that "has code".
        "truncated": truncated / samples,
        "validity": sum(not reason and not cut for _, reason, cut in outcomes) / samples,
        "failures": {reason: failed[reason] / samples for reason in REASONS},
        "per_problem": per_problem,
    }


def training_overlap(out: Path, train_data: Sequence[str]) -> dict[str, int]:
    """Per benchmark of the run in ``out``, how many of its problems are in ``train_data`` (dataset names or JSONL
    files the policy was trained on), by id or normalised question text."""
    from codescaler.benchmarks.overlap import fingerprints, id_key, question_key

    trained = [r for name in train_data for _, r in benchmark_records(name) if isinstance(r, dict) and "question" in r]
    keys = fingerprints({"train": trained})["train"]
    ids, questions = set(keys["ids"]), set(keys["questions"])
    found: Counter[str] = Counter()
    for row in read_rows(out / "problems.jsonl"):
        found[row["benchmark"]] += id_key(row.get("id", "")) in ids or question_key(row["question"]) in questions
    return dict(found)


def build_report(
    out: Path, ks: Sequence[int], baseline: Path | None = None, train_data: Sequence[str] = ()
) -> dict[str, Any]:
    """report.json, report.md and report.png from what ``out`` holds (a finished run, or the part done); with
    ``train_data``, how many of each benchmark's problems the policy was trained on."""
    samples = {r["line"]: r for r in read_rows(out / "samples.jsonl") if "error" not in r}
    by_benchmark: dict[str, list[dict[str, Any]]] = {}
    errors = []
    for verdict in read_rows(out / "verdicts.jsonl"):
        sample = samples.get(verdict["line"])
        if sample is None or "error" in verdict:
            errors.append({"line": verdict["line"], "id": verdict.get("id"), "error": verdict.get("error")})
            continue
        by_benchmark.setdefault(sample["benchmark"], []).append({**sample, **verdict})
    benchmarks = {name: benchmark_figures(rows, ks) for name, rows in by_benchmark.items()}
    n = min((len(r["passed"]) for rows in by_benchmark.values() for r in rows), default=0)
    report: dict[str, Any] = {
        "protocol": json.loads((out / "protocol.json").read_text()),
        "n": n,
        "benchmarks": benchmarks,
        # the paper's Avg column: the mean of the benchmarks' Avg@n
        "average": sum(b[f"avg@{n}"]["mean"] for b in benchmarks.values()) / len(benchmarks) if benchmarks else None,
        "unrunnable": json.loads((out / "unrunnable.json").read_text()),
        "errors": errors,
    }
    if train_data:
        report["training_overlap"] = {"train_data": list(train_data), **training_overlap(out, train_data)}
    if baseline is not None:
        report["baseline"] = compare(report, json.loads((baseline / "report.json").read_text()), str(baseline))
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "report.md").write_text(markdown(report))
    plot(report, out / "report.png")
    return report


def compare(report: dict[str, Any], base: dict[str, Any], where: str) -> dict[str, Any]:
    """Paired per-problem differences of Avg@n (this run minus the baseline) on the problems both ran."""
    out: dict[str, Any] = {"path": where, "model": base["protocol"]["model"], "benchmarks": {}}
    pooled = []
    for name, mine in report["benchmarks"].items():
        theirs = base["benchmarks"].get(name, {}).get("per_problem", {})
        diffs = [v - theirs[pid] for pid, v in mine["per_problem"].items() if pid in theirs]
        if diffs:
            out["benchmarks"][name] = {
                "problems": len(diffs),
                "baseline": sum(theirs.values()) / len(theirs),
                "difference": bounded_interval(diffs, DIFFERENCE),
                "sign_test": sign_test(diffs),
            }
            pooled += diffs
    out["all"] = (
        {"problems": len(pooled), "difference": bounded_interval(pooled, DIFFERENCE), "sign_test": sign_test(pooled)}
        if pooled
        else None
    )
    return out


def _pct(x: dict[str, float]) -> str:
    return f"{100 * x['mean']:.1f} [{100 * x['low']:.1f}, {100 * x['high']:.1f}]"


def markdown(report: dict[str, Any]) -> str:
    n, protocol = report["n"], report["protocol"]
    ks = sorted({k for b in report["benchmarks"].values() for k in b["pass@k"]}, key=int)
    count = len(report["benchmarks"])
    lines = [
        f"# `{protocol['model']}`: Avg@{n} on {count} benchmark{'s' if count != 1 else ''}",
        "",
        f"n={protocol['n']}, temperature {protocol['temperature']}, top-p {protocol['top_p']}, top-k "
        f"{protocol['top_k']}, {protocol['max_new_tokens']} new tokens, extraction `{protocol['extraction']}`, "
        f"{protocol['time_limit']} s per test. % with 95% Wilson intervals over problems. Samples: *has code*, "
        "the share with a program that ran to its end of generation; *cut*, stopped at the token limit; then the "
        "share that failed by each reason.",
        "",
        "| benchmark | problems | Avg@n | "
        + " | ".join(f"pass@{k}" for k in ks)
        + " | tokens/sample | s/sample | has code | cut | no code | wrong | runtime error | timeout | memory | "
        "compile error |",
        "|---|---|---|" + "---|" * len(ks) + "---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, b in report["benchmarks"].items():
        passes = " | ".join(_pct(b["pass@k"][k]) if k in b["pass@k"] else "—" for k in ks)
        failures = " | ".join(f"{100 * b['failures'][r]:.0f}%" for r in REASONS)
        lines.append(
            f"| {name} | {b['problems']} | **{_pct(b[f'avg@{n}'])}** | {passes} | {b['tokens_per_sample']:.0f} | "
            f"{b['seconds_per_sample']:.2f} | {100 * b['validity']:.0f}% | {100 * b['truncated']:.0f}% | {failures} |"
        )
    if report["average"] is not None:
        lines += ["", f"Average Avg@{n} over the benchmarks: **{100 * report['average']:.1f}%**."]
    several = {name: b["several_answers"] for name, b in report["benchmarks"].items() if b.get("several_answers")}
    if several:
        counts = ", ".join(f"{name} {count}" for name, count in several.items())
        lines += [
            "",
            f"Problems whose statement accepts any of several outputs, judged against the one expected because the "
            f"data has no checker for them (a right answer can count as wrong): {counts}.",
        ]
    broken = {name: b["infrastructure"] for name, b in report["benchmarks"].items() if b["infrastructure"]}
    if broken:
        counts = ", ".join(f"{name} {count}" for name, count in broken.items())
        lines += ["", f"Samples the sandbox could not run (left out, not failures): {counts}."]
    overlap = report.get("training_overlap")
    if overlap:
        trained = {k: v for k, v in overlap.items() if k != "train_data" and v}
        said = ", ".join(f"{name} {count}" for name, count in trained.items()) or "none"
        lines += ["", f"Problems the policy was trained on ({', '.join(overlap['train_data'])}): {said}."]
    if "baseline" in report:
        base = report["baseline"]
        lines += [
            "",
            f"## Against `{base['model']}` ({base['path']})",
            "",
            "Paired per-problem difference of Avg@n, this run minus the baseline, in points, 95% Wilson interval; "
            "problems better / worse / tied, and the exact sign test's p-value:",
            "",
            "| benchmark | problems | baseline Avg@n | difference | better / worse / tied | sign test p |",
            "|---|---|---|---|---|---|",
        ]
        rows = [*base["benchmarks"].items(), *([("all", base["all"])] if base["all"] else [])]
        for name, d in rows:
            t = d["sign_test"]
            shown = f"{100 * d['baseline']:.1f}" if "baseline" in d else ""
            lines.append(
                f"| {name} | {d['problems']} | {shown} | {_pct(d['difference'])} | "
                f"{t['better']} / {t['worse']} / {t['ties']} | {t['p']:.2g} |"
            )
    if report["unrunnable"]:
        lines += ["", f"Not run, and not counted ({len(report['unrunnable'])}):", ""]
        lines += [f"* {u['benchmark']} {u['id']}: {u['reason']}" for u in report["unrunnable"]]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Avg@n per benchmark with its interval, the baseline's beside it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are an extra: the figures are in report.json and report.md
        return
    n, names = report["n"], list(report["benchmarks"])
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 3, 3.5))
    x = range(len(names))
    avg = [report["benchmarks"][b][f"avg@{n}"] for b in names]
    ax.bar(
        x,
        [100 * a["mean"] for a in avg],
        0.4,
        label=report["protocol"]["model"],
        yerr=[[100 * (a["mean"] - a["low"]) for a in avg], [100 * (a["high"] - a["mean"]) for a in avg]],
    )
    if "baseline" in report:
        base = report["baseline"]["benchmarks"]
        ax.bar(
            [i + 0.4 for i in x],
            [100 * base[b]["baseline"] if b in base else 0 for b in names],
            0.4,
            label=report["baseline"]["model"],
        )
    for i, a in zip(x, avg):  # the value over its bar: bars of 0% are still read as 0%, not as nothing
        ax.annotate(f"{100 * a['mean']:.1f}%", (i, 100 * a["high"]), ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_xticks([i + 0.2 for i in x], names, rotation=20)
    ax.set_ylabel(f"Avg@{n} (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
