"""Best-of-N test-time selection: the RM against unit-test methods, on a pool of labelled samples.

Every method is a function ``(pool view of one problem, chosen subset) -> score per candidate``; the pick
is the top score, ties share it (the expected correctness over the tied candidates is what counts, so
no method is lucky or unlucky on a coin flip). Accuracy at N averages ``draws`` subsets of N candidates
drawn without replacement with a fixed seed, over problems, with a 95% normal interval over problems.

Methods:
* ``rm``: highest shaped reward (``rm-strict`` / ``rm-lenient`` pin the extraction mode; ``rm-names`` is
  ``rm`` with the undefined-name check, ``ScoringConfig.check="names"``, so a program that uses a name it
  never defines gets the invalid reward).
* ``coder``, ``reviewer``: a causal LM's mean log-likelihood of the code given the question, or of the
  question given the code (:mod:`codescaler.likelihood`); ``coder-reviewer``: their sum (Coder-Reviewer).
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
* Selective execution (:mod:`codescaler.selective`), each over the RM's order and its distinct programs:
  ``cascade@K`` runs the generated tests only on the RM's top K programs and picks as ``rm+codet`` among
  them (CodeT's groups form among what ran); ``verify-top@K`` runs the problem's own tests on the RM's top
  K programs in order and stops at the first that passes (else the RM's top-1); ``gate@T`` trusts the RM
  where its top-1's calibrated P(pass) is at least T and runs ``rm+codet`` on every program elsewhere.
  K and T come from ``BonConfig.cascade_k`` and ``BonConfig.gate``.
* ``random`` (the exact expectation, not a sample) and ``oracle`` (any correct among the N: the cost of
  running every program on the problem's own tests).

Cost: each pick counts the distinct programs it ran on generated tests and on the problem's own tests;
CPU seconds are those counts times the problem's measured CPU per program for each kind of test (the
problem's own tests are timed when the ground truth is computed in the sandbox; a pool's ``labels`` carry
no timing, so there those costs are programs only). Model cost is measured per problem over all candidates
and prorated to N.

Expensive facts are computed once and cached under the report folder: ground truth per candidate (the
pool's ``labels`` or a sandbox run of its ``tests``), each candidate's outputs on the generated tests, and
RM rewards with their per-problem timings, in ``<report folder>/cache``. A second run of the report
executes and scores nothing new.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from codescaler.extract import Check, Mode
from codescaler.selective import program_order
from codescaler.tagged_json import from_json, to_json
from codescaler.verify import program_of, values_match

# Methods that rank by one judge's shaped reward -> (judge, extraction mode, ScoringConfig.check).
_JUDGED: dict[str, tuple[str, Mode, Check]] = {
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
_NEEDS_TESTS = {"codet", "vote", "rm+codet", "cascade", "gate"}
_SELECTIVE = ("cascade", "verify-top", "gate")  # families: one method per K or T


def _parts(method: str) -> tuple[str, ...]:
    """The judged methods a score is the sum of (itself, when it is one)."""
    return _SUMMED.get(method, (method,))


# method -> the judged methods whose facts it reads
_READS: dict[str, tuple[str, ...]] = {
    **{m: _parts(m) for m in (*_JUDGED, *_SUMMED)},
    **{m: tuple(j for part in parts for j in _parts(part)) for m, parts in _Z_SCORED.items()},
    **{m: ("rm",) for m in ("rm+codet", *_SELECTIVE)},
}
METHODS = (*_JUDGED, *_SUMMED, *_Z_SCORED, "codet", "vote", "rm+codet", *_SELECTIVE, "random", "oracle")


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
        return list(dict.fromkeys(_JUDGED[j][0] for m in self.methods for j in _READS.get(m, ())))


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


# ---- generated tests ---------------------------------------------------------------------------


def generated_calls(asserts: Sequence[str], entry_point: str) -> list[dict[str, Any]]:
    """``assert f(args) == expected`` lines as call tests; lines that are not literal calls are skipped.

    Arguments and expected values are in the sandbox's tagged JSON form, so tuples, sets and dict keys
    survive the trip to the worker and back.
    """
    calls, seen = [], set()
    for line in asserts:
        try:
            node = ast.parse(line.strip()).body[0]
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


# ---- selection -----------------------------------------------------------------------------------


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
    if method in _JUDGED:
        rewards = problem.rewards[method]
        return Pick(expected_pick({i: rewards[i] for i in subset}, correct))
    if method in _SUMMED:
        return Pick(expected_pick(summed_scores([problem.scores[j] for j in _parts(method)], subset), correct))
    if method in _Z_SCORED:
        parts = [summed_scores([problem.scores[j] for j in _parts(part)], subset) for part in _Z_SCORED[method]]
        return Pick(expected_pick(z_summed(parts), correct))
    rewards = problem.rewards["rm"] if kind in _READS else []
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
                values = [pick.correct for pick, _, _ in rows]
                mean = sum(values) / len(values)
                sd = math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))
                half = 1.96 * sd / math.sqrt(len(values))
                cpu, wall = [c for _, c, _ in rows], [w for _, _, w in rows]
                table[m][n] = {
                    "mean": mean,
                    "low": mean - half,
                    "high": mean + half,
                    "problems": len(values),
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


# ---- facts, cached -------------------------------------------------------------------------------


class _FactCache:
    """A JSONL file of ``{key, value}`` rows: read whole on open, appended and flushed per row, closed after."""

    def __init__(self, path: Path) -> None:
        self.known: dict[str, Any] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a half-written last line from a killed run: recomputed
                    self.known[row["key"]] = row["value"]
        self._file = open(path, "a")

    def put(self, key: str, value: Any) -> None:
        self.known[key] = value
        self._file.write(json.dumps({"key": key, "value": value}) + "\n")
        self._file.flush()

    def __enter__(self) -> _FactCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def program_ids(problem: dict[str, Any]) -> list[int | None]:
    """Per candidate, which of the problem's distinct runnable programs it is (None: no program), as the
    sandbox runs them: identical programs run once."""
    ids: dict[str, int] = {}
    out: list[int | None] = []
    for response in problem["responses"]:
        program = program_of(problem, response, "lenient")[0]
        out.append(None if program is None else ids.setdefault(program, len(ids)))
    return out


def ground_truth(pool: list[dict[str, Any]], sandbox, cache_dir: Path) -> list[dict[str, Any]]:
    """Per problem: ``passed``, per candidate, whether it passes every real test (the pool's ``labels`` where
    it has them), and the ``wall`` and ``cpu`` seconds and distinct ``programs`` of running them (None for
    labels: nothing ran)."""
    from codescaler.verify import verify_responses

    out = []
    with _FactCache(cache_dir / "ground_truth.jsonl") as cache:
        for problem in pool:
            if "labels" in problem:
                out.append(
                    {"passed": [bool(x) for x in problem["labels"]], "wall": None, "cpu": None, "programs": None}
                )
                continue
            key = _key("truth+cost", problem["id"], problem["responses"], problem.get("tests"))
            if key not in cache.known:
                wall, cpu = time.perf_counter(), sandbox.cpu_seconds
                (verdicts,) = verify_responses([problem], sandbox)
                wall, cpu = time.perf_counter() - wall, sandbox.cpu_seconds - cpu
                programs = len({i for i in program_ids(problem) if i is not None})
                cache.put(key, {"passed": [v.passed for v in verdicts], "wall": wall, "cpu": cpu, "programs": programs})
            out.append(cache.known[key])
    return out


def run_generated(pool: list[dict[str, Any]], sandbox, cache_dir: Path) -> list[dict[str, Any]]:
    """Per problem: outputs of every candidate on its generated calls, with wall and CPU time.

    A problem with no usable generated test gets empty outputs: for CodeT and voting all its candidates
    tie (the pick is random), and ``rm+codet`` falls back to the RM.
    """
    with _FactCache(cache_dir / "generated.jsonl") as cache:
        return [_generated_facts(problem, sandbox, cache) for problem in pool]


def _generated_facts(problem: dict[str, Any], sandbox, cache: _FactCache) -> dict[str, Any]:
    from codescaler.sandbox import Job

    calls = generated_calls(problem.get("generated_tests") or [], problem.get("entry_point") or "")
    if not calls:  # nothing to run: every candidate ties, as CodeT's groups would
        return {
            "outputs": [[] for _ in problem["responses"]],
            "expected": [],
            "wall": 0.0,
            "cpu": 0.0,
            "programs": 0,
            "tests": 0,
        }
    key = _key("generated", problem["id"], problem["responses"], calls)
    if key not in cache.known:
        tests = [{"type": "call", "fn": c["fn"], "args": c["args"], "entry_point": c["fn"]} for c in calls]
        programs = [program_of(problem, r, "lenient")[0] for r in problem["responses"]]
        distinct = sorted({p for p in programs if p is not None})
        wall, cpu = time.perf_counter(), sandbox.cpu_seconds
        results = dict(zip(distinct, sandbox.run([Job(p, tests) for p in distinct])))
        wall, cpu = time.perf_counter() - wall, sandbox.cpu_seconds - cpu
        outputs = [
            [[o["value"]] if o.get("status") == "returned" else None for o in results[p]] if p else [None] * len(calls)
            for p in programs
        ]
        cache.put(
            key,
            {
                "outputs": outputs,
                "expected": [c["expected"] for c in calls],
                "wall": wall,
                "cpu": cpu,
                "programs": len(distinct),
                "tests": len(calls),
            },
        )
    return cache.known[key]


def judge_facts(
    pool: list[dict[str, Any]], judge, judge_id: str, mode: Mode, check: Check, cache_dir: Path
) -> list[dict[str, Any]]:
    """Per problem: every candidate's raw score and shaped reward under ``judge``, with the wall and CPU time
    and the tokens it took."""
    from codescaler.reward import ScoringConfig, reward

    config = ScoringConfig(mode=mode, check=check)
    # A name says nothing of the weights behind it (a re-trained codescaler-mini keeps its name).
    weights = judge.fingerprint()
    extraction = mode if check == "syntax" else f"{mode}+{check}"
    out = []
    with _FactCache(cache_dir / "judges.jsonl") as cache:
        for problem in pool:
            key = _key(
                "judge", judge_id, weights, extraction, problem["id"], problem["responses"], problem.get("code_prefix")
            )
            if key not in cache.known:
                n = len(problem["responses"])
                prefixes = [problem.get("code_prefix")] * n if problem.get("code_prefix") is not None else None
                wall, cpu = time.perf_counter(), time.process_time()
                results = reward(
                    judge,
                    [problem["question"]] * n,
                    problem["responses"],
                    code_prefixes=prefixes,
                    config=config,
                    show_progress=False,
                )
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                cache.put(
                    key,
                    {
                        "scores": [r.score for r in results],
                        "rewards": [r.reward for r in results],
                        "wall": wall,
                        "cpu": cpu,
                        "tokens": sum(r.num_tokens for r in results),
                    },
                )
            out.append(cache.known[key])
    return out


# ---- the report ----------------------------------------------------------------------------------


def best_of_n(
    pool: list[dict[str, Any]],
    out_dir: str | Path,
    *,
    config: BonConfig | None = None,
    judges: dict[str, Any] | None = None,
    judge_ids: dict[str, str] | None = None,
    sandbox=None,
) -> dict[str, Any]:
    """Run every method at every N over ``pool``; write report.json, report.md and the plots to ``out_dir``.

    ``judges``: the loaded judge of each name the methods read (``rm``, ``coder``, ``reviewer``:
    :meth:`BonConfig.judges`), and ``judge_ids`` the names they were loaded by.
    """
    config = config or BonConfig()
    methods, judges, judge_ids = config.methods, judges or {}, judge_ids or {}
    missing = [j for j in config.judges() if j not in judges]
    if missing:
        raise ValueError(f"methods {methods} need the judges {missing}")
    out = Path(out_dir)
    cache = out / "cache"  # large (every candidate's outputs): keep it out of version control
    cache.mkdir(parents=True, exist_ok=True)
    truth = ground_truth(pool, sandbox, cache)
    problems = [
        Problem(
            p["id"],
            t["passed"],
            programs=program_ids(p),
            cost={"truth_wall": t["wall"], "truth_cpu": t["cpu"], "truth_programs": t["programs"]},
        )
        for p, t in zip(pool, truth)
    ]
    judged = dict.fromkeys(j for m in methods for j in _READS.get(m, ()))  # in --methods order: a stable cache
    for method in judged:
        name, mode, check = _JUDGED[method]
        for problem, facts in zip(
            problems, judge_facts(pool, judges[name], judge_ids.get(name, ""), mode, check, cache)
        ):
            problem.rewards[method], problem.scores[method] = facts["rewards"], facts["scores"]
            problem.cost.update(
                {f"{method}_wall": facts["wall"], f"{method}_cpu": facts["cpu"], f"{method}_tokens": facts["tokens"]}
            )
    if "gate" in methods:
        calibration = getattr(judges["rm"], "calibration", None)
        if calibration is None:
            raise ValueError(
                f"gate reads the RM's calibrated P(pass); {judge_ids.get('rm') or 'the RM'} has none "
                "(fit one: codescaler calibrate verified.jsonl --save)"
            )
        for problem in problems:
            problem.p_pass = [0.0 if s is None else calibration.p_pass(s) for s in problem.scores["rm"]]
    if set(methods) & _NEEDS_TESTS:
        for problem, facts in zip(problems, run_generated(pool, sandbox, cache)):
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
    _plots(report, methods, ns, out)
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
        reads = _READS.get(family(m), ())  # a method costs what each judge it reads costs
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


def _plots(report: dict[str, Any], methods: Sequence[str], ns: Sequence[int], out: Path) -> None:
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
        ("CPU seconds per problem (judge + execution)", _cpu),
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


def _cpu(cost: dict[str, Any]) -> float | None:
    return None if cost["exec_cpu_s"] is None else cost["model_cpu_s"] + cost["exec_cpu_s"]
