"""Reward-model benchmarks: pairwise accuracy (RewardBench's hep-* style) and the RM-Bench protocol.

Both compare raw RM scores with a strict ``>``: a tie is a loss, so a constant model scores 0, not 50%.
Intervals are 95% Wilson intervals over the compared items; ``mean_interval`` is the normal one over
problems that best-of-N and ``eval-policy`` report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from codescaler.extraction.extract import completion_program, extract_code

HUMANEVALPACK_PAIRS = tuple(f"humanevalpack-{lang}" for lang in ("python", "js", "java", "go", "cpp", "rust"))
# A model's own passing against its own failing completion of one problem: code-davinci-002's MultiPL-E samples.
ONPOLICY_PAIRS = ("multiple-python-onpolicy",)
BUILTIN_PAIRS = HUMANEVALPACK_PAIRS + ONPOLICY_PAIRS


def wilson(wins: float, n: int) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p, z = wins / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def mean_interval(values: Sequence[float]) -> dict[str, float]:
    """Mean with a 95% normal interval over the values (problems): fine over many, degenerate over a few."""
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))
    half = 1.96 * sd / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half}


def bounded_interval(values: Sequence[float], bounds: tuple[float, float]) -> dict[str, float]:
    """Mean of values that lie in ``bounds`` with a 95% Wilson interval over them, honest at any count.

    A value in [0, 1] has variance at most p(1 - p) around its mean p, so Wilson's interval for a rate, taken
    over the values as if each were one trial, holds for their mean too; it is wide over a handful of values and
    never claims certainty (two problems at 0% give [0, 66%], where the normal interval gives [0, 0]). Other
    bounds (a paired difference in [-1, 1]) are mapped onto [0, 1] and back. Over many values it is wider than
    the normal interval where the values vary little: the price of never being overconfident.
    """
    low, high = bounds
    scaled = [(v - low) / (high - low) for v in values]
    lo, hi = wilson(sum(scaled), len(scaled))
    return {
        "mean": sum(values) / len(values),
        "low": max(low, low + lo * (high - low)),
        "high": min(high, low + hi * (high - low)),
    }


def sign_test(differences: Sequence[float]) -> dict[str, Any]:
    """How many paired differences are above and below zero, and the exact two-sided sign test's p-value."""
    better, worse = sum(d > 0 for d in differences), sum(d < 0 for d in differences)
    n, k = better + worse, min(better, worse)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    return {"better": better, "worse": worse, "ties": len(differences) - n, "p": p}


def _summary(wins: Sequence[bool]) -> dict[str, Any]:
    n, k = len(wins), sum(wins)
    low, high = wilson(k, n)
    return {"n": n, "accuracy": k / n if n else float("nan"), "ci95": [low, high]}


def pair_summary(chosen: Sequence[float], rejected: Sequence[float]) -> dict[str, Any]:
    """Pairwise accuracy of scores already computed: the share of pairs with chosen > rejected (a tie is a
    loss), with its Wilson 95% interval. The one definition behind ``pairwise`` and the judge benchmarks."""
    return _summary([c > r for c, r in zip(chosen, rejected)])


def builtin_pairs(name: str) -> list[dict[str, Any]]:
    """Built-in evaluation pairs (all HumanEval-derived: the evaluation split), whole programs on each side.

    * ``humanevalpack-LANG``: the canonical program against the human-written buggy one;
    * ``multiple-python-onpolicy``: on-policy pairs, the hard case for an RM: per MultiPL-E problem with
      both kinds, code-davinci-002's first passing completion against its first failing one (by the
      pool's own verdicts).
    """
    from codescaler import benchmarks

    if name not in BUILTIN_PAIRS:
        raise ValueError(f"unknown built-in pair set {name!r}; choose from {', '.join(BUILTIN_PAIRS)}")
    pairs = []
    for r in benchmarks.load(name.removesuffix("-onpolicy")):
        if name in HUMANEVALPACK_PAIRS:
            chosen, rejected, extra = r["responses"][0], r["responses"][1], {"bug_type": r.get("bug_type")}
        elif all(r["labels"]) or not any(r["labels"]):
            continue
        else:
            chosen, rejected = r["responses"][r["labels"].index(True)], r["responses"][r["labels"].index(False)]
            extra = {}
        pairs.append(
            {
                "question": r["question"],
                "chosen": completion_program(r["code_prefix"], chosen),
                "rejected": completion_program(r["code_prefix"], rejected),
                "problem_id": r["id"],
                "language": r["language"],
                "source": name,
                **extra,
            }
        )
    return pairs


def _prepare(texts: Sequence[str], languages: Sequence[str | None], extract: bool) -> list[str]:
    if not extract:
        return list(texts)
    return [extract_code(t, language or "python", "lenient").code for t, language in zip(texts, languages)]


def pairwise(
    model,
    pairs: Sequence[Mapping[str, Any]],
    *,
    group_by: Sequence[str] = (),
    extract: bool = False,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Accuracy of r(chosen) > r(rejected), overall and per value of each ``group_by`` field."""
    questions = [p["question"] for p in pairs]
    languages = [p.get("language") for p in pairs]
    chosen = _prepare([p["chosen"] for p in pairs], languages, extract)
    rejected = _prepare([p["rejected"] for p in pairs], languages, extract)
    scores = model.score(questions + questions, chosen + rejected, show_progress=show_progress)
    wins = [c > r for c, r in zip(scores[: len(pairs)], scores[len(pairs) :])]
    result: dict[str, Any] = {"overall": pair_summary(scores[: len(pairs)], scores[len(pairs) :]), "groups": {}}
    for key in group_by:
        buckets: dict[str, list[bool]] = defaultdict(list)
        for pair, win in zip(pairs, wins):
            buckets[str(pair.get(key))].append(win)
        result["groups"][key] = {value: _summary(w) for value, w in sorted(buckets.items())}
    return result


def rmbench(model, items: Sequence[dict[str, Any]], *, extract: bool = False, show_progress: bool = False) -> dict:
    """RM-Bench: every chosen style against every rejected style (3 x 3) per item.

    Styles are ordered concise, detailed plain, detailed markdown. ``hard`` = chosen plainer than
    rejected (above the diagonal), ``normal`` = same style, ``easy`` = chosen fancier (below it).
    """
    questions, texts = [], []
    for number, item in enumerate(items, start=1):
        for key in ("chosen", "rejected"):
            if not isinstance(item.get(key), list) or len(item[key]) != 3:
                raise ValueError(f"item {number} (id {item.get('id')!r}): {key!r} must be a list of 3 responses")
        language = item.get("language")
        for key in ("chosen", "rejected"):
            texts += _prepare(item[key], [language] * 3, extract)
            questions += [item["prompt"]] * 3
    scores = model.score(questions, texts, show_progress=show_progress)
    cells: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for k, item in enumerate(items):
        chosen, rejected = scores[6 * k : 6 * k + 3], scores[6 * k + 3 : 6 * k + 6]
        for i in range(3):
            for j in range(3):
                level = "normal" if i == j else ("hard" if i < j else "easy")
                win = chosen[i] > rejected[j]
                for group in ("all", f"language={item.get('language')}" if item.get("language") else None):
                    if group:
                        cells[group][level].append(win)
    out = {}
    for group, levels in cells.items():
        row = {level: _summary(levels[level]) for level in ("easy", "normal", "hard")}
        row["average"] = sum(row[level]["accuracy"] for level in ("easy", "normal", "hard")) / 3
        out[group] = row
    return out


def verified_scores(
    judge, problems: Sequence[Mapping[str, Any]], *, config=None, show_progress: bool = False
) -> tuple[list[float | None], list[bool]]:
    """Every response's raw score (None where no valid program was found) and whether it passes, from
    problem records verified by ``codescaler verify``/``candidates`` (``passed``) or labelled (``labels``).
    A response the sandbox could not run (``passed`` null) has no label and is left out."""
    from codescaler.rewards.kinds import reward

    questions, responses, prefixes, passed = [], [], [], []
    for problem in problems:
        labels = problem.get("passed", problem.get("labels"))
        if labels is None or len(labels) != len(problem["responses"]):
            raise ValueError(f"problem {problem.get('id')!r}: needs one `passed` (or `labels`) entry per response")
        for response, label in zip(problem["responses"], labels):
            if label is None:
                continue
            questions.append(problem["question"])
            responses.append(response)
            prefixes.append(problem.get("code_prefix"))
            passed.append(bool(label))
    results = reward(judge, questions, responses, code_prefixes=prefixes, config=config, show_progress=show_progress)
    return [r.score for r in results], passed


def calibration_figures(probabilities: Sequence[float], passed: Sequence[bool]) -> dict[str, Any]:
    """ECE (10 bins) and Brier score of P(pass) predictions against execution labels."""
    from codescaler.judges.calibration import brier_score, expected_calibration_error

    return {
        "programs": len(passed),
        "pass_rate": sum(passed) / len(passed),
        "ece": expected_calibration_error(probabilities, passed),
        "brier": brier_score(probabilities, passed),
    }
