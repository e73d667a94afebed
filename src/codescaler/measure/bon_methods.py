"""Best-of-N selection methods: each turns one problem's facts into a pick, and :func:`accuracy_at_n` averages
the picks over subsets of N candidates.

Every method is a function ``(pool view of one problem, chosen subset) -> score per candidate``; the pick
is the top score, ties share it (the expected correctness over the tied candidates is what counts, so
no method is lucky or unlucky on a coin flip). Accuracy at N averages ``draws`` subsets of N candidates
drawn without replacement with a fixed seed, over problems, with a 95% normal interval over problems.

Methods:
* ``rm``: highest shaped reward (``rm-strict`` / ``rm-lenient`` pin the extraction mode; ``rm-names`` is
  ``rm`` with the undefined-name check, ``ScoringConfig.check="names"``, so a program that uses a name it
  never defines gets the invalid reward).
* ``coder``, ``reviewer``: a causal LM's mean log-likelihood of the code given the question, or of the
  question given the code (:mod:`codescaler.judges.likelihood`); ``coder-reviewer``: their sum (Coder-Reviewer).
* ``rm+reviewer``, ``rm+coder-reviewer``: ensembles, the sum of each judge's scores z-scored among the
  valid candidates of the subset (their scales differ); an invalid candidate is never picked over a valid.
* ``codet``: CodeT's dual execution agreement: candidates are grouped by the exact set of generated tests
  they pass; a group scores |candidates in it| x |tests they pass|.
* ``vote``: MBR-exec: candidates grouped by their outputs on the generated tests' inputs; the largest
  group wins.
* ``rm+codet``: CodeT's groups decide, the RM picks inside the winning group and decides alone where no
  generated test passes. CodeT's weakness is its ties (every member of a group looks the same to the
  tests, yet they can differ on the real tests), and where the generated tests are wrong or absent it
  has nothing to say; the RM is informative in exactly those places and costs one forward pass each.
* Selective execution (:mod:`codescaler.rewards.selective`), each over the RM's order and its distinct programs:
  ``cascade@K`` runs the generated tests only on the RM's top K programs and picks as ``rm+codet`` among
  them (CodeT's groups form among what ran); ``verify-top@K`` runs the problem's own tests on the RM's top
  K programs in order and stops at the first that passes (else the RM's top-1); ``gate@T`` trusts the RM
  where its top-1's calibrated P(pass) is at least T and runs ``rm+codet`` on every program elsewhere.
  K and T come from ``BonConfig.cascade_k`` and ``BonConfig.gate``.
* ``random`` (the exact expectation, not a sample) and ``oracle`` (any correct among the N: the cost of
  running every program on the problem's own tests).
"""

from __future__ import annotations

import ast
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from codescaler.execution.compare import values_match
from codescaler.extraction.extract import Check, Mode
from codescaler.extraction.syntax import parse_python
from codescaler.measure.rm_eval import mean_interval
from codescaler.records.tagged_json import to_json
from codescaler.rewards.selective import program_order

# Methods that rank by one judge's shaped reward -> (judge, extraction mode, ScoringConfig.check).
JUDGED: dict[str, tuple[str, Mode, Check]] = {
    "rm": ("rm", "strict", "syntax"),
    "rm-strict": ("rm", "strict", "syntax"),
    "rm-lenient": ("rm", "lenient", "syntax"),
    "rm-names": ("rm", "strict", "names"),
    "coder": ("coder", "strict", "syntax"),
    "reviewer": ("reviewer", "strict", "syntax"),
}


# Methods that combine judged methods' raw scores: summed as they are (log-likelihoods), or z-scored first.
_SUMMED = {"coder-reviewer": ("coder", "reviewer")}


_Z_SCORED = {"rm+reviewer": ("rm", "reviewer"), "rm+coder-reviewer": ("rm", "coder-reviewer")}


NEEDS_TESTS = {"codet", "vote", "rm+codet", "cascade", "gate"}


_SELECTIVE = ("cascade", "verify-top", "gate")  # families: one method per K or T


def _parts(method: str) -> tuple[str, ...]:
    """The judged methods a score is the sum of (itself, when it is one)."""
    return _SUMMED.get(method, (method,))


# method -> the judged methods whose facts it reads
READS: dict[str, tuple[str, ...]] = {
    **{m: _parts(m) for m in (*JUDGED, *_SUMMED)},
    **{m: tuple(j for part in parts for j in _parts(part)) for m, parts in _Z_SCORED.items()},
    **{m: ("rm",) for m in ("rm+codet", *_SELECTIVE)},
}


METHODS = (*JUDGED, *_SUMMED, *_Z_SCORED, "codet", "vote", "rm+codet", *_SELECTIVE, "random", "oracle")


def family(method: str) -> str:
    """``cascade`` of ``cascade@4``; a method without a parameter is its own family."""
    return method.partition("@")[0]


@dataclass
class BonConfig:
    methods: list[str] = field(
        default_factory=lambda: ["rm", "codet", "vote", "rm+codet", "random", "oracle"],
        metadata={"help": f"selection methods, of {', '.join(METHODS)}"},
    )
    n: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64, 100], metadata={"help": "N values"})
    draws: int = field(default=20, metadata={"help": "subsets drawn per problem and N (without replacement)"})
    seed: int = field(default=0, metadata={"help": "seed of the subsets"})
    test_timeout: float = field(default=1.0, metadata={"help": "seconds per generated test"})
    cascade_k: list[int] = field(
        default_factory=lambda: [1, 2, 4, 8, 16],
        metadata={"help": "K of cascade@K and verify-top@K: the RM's top programs they may run"},
    )
    gate: list[float] = field(
        default_factory=lambda: [0.3, 0.4, 0.5],
        metadata={"help": "T of gate@T: tests run where the RM's top-1 has a calibrated P(pass) below T"},
    )

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
        if not self.methods:
            raise ValueError("no methods given")
        if any(n < 1 for n in self.n):
            raise ValueError(f"every N must be at least 1, got {self.n}")
        if any(k < 1 for k in self.cascade_k) or any(not 0 <= t <= 1 for t in self.gate):
            raise ValueError(f"every K must be at least 1 and every T in [0, 1], got {self.cascade_k}, {self.gate}")

    def expanded(self) -> list[str]:
        """The methods as measured: ``cascade`` becomes ``cascade@1``, ``cascade@2``..., ``gate`` ``gate@0.5``..."""
        out = []
        for m in self.methods:
            if m == "gate":
                out += [f"gate@{t:g}" for t in self.gate]
            elif m in _SELECTIVE:
                out += [f"{m}@{k}" for k in self.cascade_k]
            else:
                out.append(m)
        return out

    def judges(self) -> list[str]:
        """The judges the methods read (``rm``, ``coder``, ``reviewer``), in the order they first appear."""
        return list(dict.fromkeys(JUDGED[j][0] for m in self.methods for j in READS.get(m, ())))


@dataclass
class Problem:
    """What selection needs of one pool problem, computed once."""

    id: str
    correct: list[bool]
    rewards: dict[str, list[float]] = field(default_factory=dict)  # judged method -> shaped reward per candidate
    scores: dict[str, list[float | None]] = field(default_factory=dict)  # judged method -> raw score (None: invalid)
    outputs: list[list[Any]] | None = None  # per candidate, per generated call: output (None: no output)
    expected: list[Any] | None = None  # per generated call: the value the test asserts
    signatures: list[str | None] | None = None  # per candidate, for voting (computed on first use)
    programs: list[int | None] | None = None  # per candidate, its distinct runnable program (None: none)
    p_pass: list[float] | None = None  # per candidate, the RM's calibrated P(pass) (0 when invalid)
    cost: dict[str, Any] = field(default_factory=dict)  # measured over all candidates of the problem

    def distinct(self, subset: Sequence[int]) -> int:
        """Distinct runnable programs among ``subset``: what running all of them costs."""
        if self.programs is None:
            return 0
        return len({self.programs[i] for i in subset if self.programs[i] is not None})


def generated_calls(asserts: Sequence[str], entry_point: str) -> list[dict[str, Any]]:
    """``assert f(args) == expected`` lines as call tests; lines that are not literal calls are skipped.

    Arguments and expected values are in the sandbox's tagged JSON form, so tuples, sets and dict keys
    survive the trip to the worker and back.
    """
    calls, seen = [], set()
    for line in asserts:
        try:
            node = parse_python(line.strip()).body[0]
        except (SyntaxError, IndexError, ValueError):
            continue
        if not (
            isinstance(node, ast.Assert)
            and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)
            and isinstance(node.test.left, ast.Call)
        ):
            continue
        call = node.test.left
        if not (isinstance(call.func, ast.Name) and call.func.id == entry_point) or call.keywords:
            continue
        try:
            args = [to_json(ast.literal_eval(a)) for a in call.args]
            expected = to_json(ast.literal_eval(node.test.comparators[0]))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        key = repr((args, expected))
        if key not in seen:
            seen.add(key)
            calls.append({"type": "call", "fn": entry_point, "args": args, "expected": expected})
    return calls


def signature(outputs: list[Any]) -> str:
    """One candidate's outputs as a comparable string (tagged JSON: safe for huge ints and mixed keys)."""
    return json.dumps(to_json(outputs))


def codet_scores(outputs: list[list[Any]], expected: list[Any], subset: Sequence[int]) -> dict[int, float]:
    passes = {
        i: frozenset(t for t, (o, e) in enumerate(zip(outputs[i], expected)) if o is not None and values_match(o[0], e))
        for i in subset
    }
    members: dict[frozenset, int] = {}
    for i in subset:
        members[passes[i]] = members.get(passes[i], 0) + 1
    return {i: float(members[passes[i]] * len(passes[i])) for i in subset}


def vote_scores(signatures: list[str | None], subset: Sequence[int]) -> dict[int, float]:
    """Size of each candidate's group of identical outputs; 0 for a candidate that returned nothing."""
    sizes: dict[str, int] = {}
    for i in subset:
        if (key := signatures[i]) is not None:
            sizes[key] = sizes.get(key, 0) + 1
    return {i: float(sizes[key]) if (key := signatures[i]) is not None else 0.0 for i in subset}


def summed_scores(scores: Sequence[list[float | None]], subset: Sequence[int]) -> dict[int, float]:
    """The sum of several judges' raw scores per candidate; -inf where any judge found no valid program."""
    out = {}
    for i in subset:
        parts = [s[i] for s in scores]
        out[i] = -math.inf if any(p is None for p in parts) else sum(p for p in parts if p is not None)
    return out


def z_summed(parts: Sequence[dict[int, float]]) -> dict[int, float]:
    """Each judge's scores z-scored among the valid candidates (a spread of 0 counts as 1), then summed."""
    total = dict.fromkeys(parts[0], 0.0)
    for scores in parts:
        valid = [s for s in scores.values() if s != -math.inf]
        mean = sum(valid) / len(valid) if valid else 0.0
        sd = math.sqrt(sum((s - mean) ** 2 for s in valid) / len(valid)) if valid else 1.0
        for i, s in scores.items():
            total[i] += (s - mean) / (sd or 1.0)  # -inf stays -inf
    return total


def expected_pick(scores: dict[int, float] | dict[int, tuple], correct: list[bool]) -> float:
    """Correctness of the top-scored candidate; tied tops share the pick (their mean correctness)."""
    best = max(scores.values())
    tied = [i for i, s in scores.items() if s == best]
    return sum(correct[i] for i in tied) / len(tied)


class Pick(NamedTuple):
    """A method's pick among a subset: its expected correctness, and the distinct programs it ran."""

    correct: float
    generated: float = 0  # programs run on the generated tests
    verified: float = 0  # programs run on the problem's own tests


def select(method: str, problem: Problem, subset: Sequence[int]) -> Pick:
    """``method``'s pick among ``subset``."""
    correct, kind, parameter = problem.correct, family(method), method.partition("@")[2]
    if method == "oracle":
        return Pick(float(any(correct[i] for i in subset)), verified=problem.distinct(subset))
    if method == "random":
        return Pick(sum(correct[i] for i in subset) / len(subset))
    if method in JUDGED:
        rewards = problem.rewards[method]
        return Pick(expected_pick({i: rewards[i] for i in subset}, correct))
    if method in _SUMMED:
        return Pick(expected_pick(summed_scores([problem.scores[j] for j in _parts(method)], subset), correct))
    if method in _Z_SCORED:
        parts = [summed_scores([problem.scores[j] for j in _parts(part)], subset) for part in _Z_SCORED[method]]
        return Pick(expected_pick(z_summed(parts), correct))
    rewards = problem.rewards["rm"] if kind in READS else []
    judged = {i: rewards[i] for i in subset} if rewards else {}
    if kind == "verify-top":
        order = program_order(rewards, _programs(problem), subset)[: int(parameter)]
        for ran, members in enumerate(order, start=1):
            if correct[members[0]]:  # a program's candidates share its verdict
                return Pick(1.0, verified=ran)
        return Pick(expected_pick(judged, correct), verified=len(order))
    if kind == "gate":
        if problem.p_pass is None:
            raise ValueError(f"{method} needs the RM's calibrated P(pass)")
        if max(problem.p_pass[i] for i in subset) >= float(parameter):
            return Pick(expected_pick(judged, correct))
        kind = "rm+codet"  # unsure: run everything
    if problem.outputs is None or problem.expected is None:
        raise ValueError(f"method {method!r} needs generated tests; problem {problem.id!r} has none")
    runs = 1 if problem.expected else 0  # with no usable generated test nothing runs, and all tie
    if kind == "vote":
        if problem.signatures is None:
            problem.signatures = [signature(o) if any(x is not None for x in o) else None for o in problem.outputs]
        return Pick(expected_pick(vote_scores(problem.signatures, subset), correct), runs * problem.distinct(subset))
    if kind == "cascade":
        top = program_order(rewards, _programs(problem), subset)[: int(parameter)]
        codet = codet_scores(problem.outputs, problem.expected, [i for members in top for i in members])
        # what did not run never beats what did; the RM decides among equals and where nothing passed
        return Pick(expected_pick({i: (codet.get(i, -1.0), r) for i, r in judged.items()}, correct), runs * len(top))
    codet = codet_scores(problem.outputs, problem.expected, subset)
    if kind == "codet":
        return Pick(expected_pick(codet, correct), runs * problem.distinct(subset))
    if kind == "rm+codet":
        pick = expected_pick({i: (codet[i], r) for i, r in judged.items()}, correct)
        return Pick(pick, runs * problem.distinct(subset))
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def _programs(problem: Problem) -> list[int | None]:
    if problem.programs is None:
        raise ValueError(f"problem {problem.id!r} has no program identities: selective methods need them")
    return problem.programs


def accuracy_at_n(
    problems: list[Problem], methods: Sequence[str], ns: Sequence[int], draws: int, seed: int
) -> dict[str, dict[int, dict[str, Any]]]:
    """method -> N -> {mean, low, high, problems}: top-1 pass rate with a 95% interval over problems; with
    the programs each pick ran (``generated``, ``verified``: means per problem) and their CPU and wall
    seconds (None where a pool's labels carry no timing)."""
    table: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in methods}
    for n in ns:
        per_method: dict[str, list[tuple[Pick, float | None, float | None]]] = {m: [] for m in methods}
        for p in problems:
            size = len(p.correct)
            if size < n:
                continue
            rng = random.Random(f"{seed}:{p.id}:{n}")
            subsets = [list(range(size))] if n == size else [rng.sample(range(size), n) for _ in range(draws)]
            for m in methods:
                if m == "random":  # its expectation over every subset of any size is the pool's pass rate
                    picks = [Pick(sum(p.correct) / size)]
                else:
                    picks = [select(m, p, s) for s in subsets]
                average = Pick(*(sum(column) / len(picks) for column in zip(*picks)))
                per_method[m].append((average, _exec_seconds(p, average, "cpu"), _exec_seconds(p, average, "wall")))
        for m, rows in per_method.items():
            if rows:
                cpu, wall = [c for _, c, _ in rows], [w for _, _, w in rows]
                table[m][n] = {
                    **mean_interval([pick.correct for pick, _, _ in rows]),
                    "problems": len(rows),
                    "generated_programs": sum(pick.generated for pick, _, _ in rows) / len(rows),
                    "verified_programs": sum(pick.verified for pick, _, _ in rows) / len(rows),
                    "exec_cpu_s": None if None in cpu else sum(c for c in cpu if c is not None) / len(rows),
                    "exec_wall_s": None if None in wall else sum(w for w in wall if w is not None) / len(rows),
                }
    return table


def _exec_seconds(problem: Problem, pick: Pick, clock: str) -> float | None:
    """Seconds of the programs a pick ran: per kind of test, their count times the problem's measured
    seconds per program (None where programs ran on tests that were never timed)."""
    total = 0.0
    for ran, kind in ((pick.generated, "exec"), (pick.verified, "truth")):
        if ran:
            measured, programs = problem.cost.get(f"{kind}_{clock}"), problem.cost.get(f"{kind}_programs")
            if measured is None or not programs:
                return None
            total += ran * measured / programs
    return total


def cpu_seconds(cost: dict[str, Any]) -> float | None:
    return None if cost["exec_cpu_s"] is None else cost["model_cpu_s"] + cost["exec_cpu_s"]
