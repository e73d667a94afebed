"""Execution-verified preference pairs: same problem, chosen passes every test, rejected fails one or more.

Input records are problems with ``responses``, their verification (``passed``, ``pass_fraction``, as
``codescaler verify`` writes them) and optionally ``candidate_sources``. Output pairs carry the
CodeScalerPair fields plus provenance:
``{"question", "chosen", "rejected", "problem_id", "source", "chosen_pass", "rejected_pass", "split"}``,
where ``chosen``/``rejected`` are the bare extracted programs the RM reads.

HumanEval is the evaluation split of the field: pairs refuse any problem whose id, split or normalised
prompt matches HumanEval's (see :func:`humaneval_match`) unless ``allow_eval`` is set.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from codescaler.benchmarks.overlap import evaluation_overlap, without_evaluation_problems
from codescaler.extraction.extract import extract_program
from codescaler.extraction.syntax import parse_python
from codescaler.records.schema import Pair, RecordError, check_record

# The released CodeScalerPair-51K layout, mapped onto ours.
logger = logging.getLogger(__name__)
_CODESCALER_PAIR_COLUMNS = {"question_content": "question", "code_pos": "chosen", "code_neg": "rejected"}
_EVAL_ID = re.compile(r"^(humaneval|cpp|javascript|java|go|rust|python|js)/|^humaneval_", re.IGNORECASE)
# A line shorter than this is too generic ("return the result.") to identify a HumanEval problem.
_MIN_FINGERPRINT_LINE = 30


@dataclass
class PairsConfig:
    """How pairs are drawn from verified candidates (defaults: the paper's rule plus light curation)."""

    max_pairs_per_problem: int = field(default=8, metadata={"help": "cap on pairs per problem (0: no cap)"})
    hard_negatives_first: bool = field(
        default=True, metadata={"help": "prefer rejected programs that pass the most tests"}
    )
    dedup: bool = field(default=True, metadata={"help": "drop programs equal up to formatting and comments"})
    balance_lengths: bool = field(
        default=True, metadata={"help": "pair each rejected with the chosen closest in length, so length is no cue"}
    )
    source_ratios: list[str] = field(
        default_factory=list, metadata={"help": "mix of rejected sources, e.g. sample=0.5 mutant=0.4 unaligned=0.1"}
    )
    validation_fraction: float = field(
        default=0.1, metadata={"help": "fraction of problems (not pairs) held out as split 'validation'"}
    )
    strip_tests: bool = field(
        default=True,
        metadata={"help": "drop a Python program's module-level test code (asserts, prints, a __main__ block)"},
    )
    seed: int = field(default=0, metadata={"help": "seed for the split and for sampling"})
    allow_eval: bool = field(
        default=False, metadata={"help": "allow HumanEval-derived problems (evaluation-only pair sets)"}
    )

    def __post_init__(self) -> None:
        _parse_ratios(self.source_ratios)  # a malformed ratio fails here, not at the first problem

    @property
    def ratios(self) -> dict[str, float]:
        return _parse_ratios(self.source_ratios)


def normalize_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _digest(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()[:24]


def fingerprints(prompts: Iterable[str]) -> dict[str, list[str]]:
    """Hashes that identify prompts: the whole normalised prompt and each long normalised line."""
    whole: set[str] = set()
    lines: set[str] = set()
    for prompt in prompts:
        whole.add(_digest(prompt))
        lines.update(_digest(line) for line in prompt.splitlines() if len(line.strip()) >= _MIN_FINGERPRINT_LINE)
    return {"prompt": sorted(whole), "line": sorted(lines)}


@cache
def _humaneval_fingerprints() -> dict[str, frozenset[str]]:
    # Generated from HumanEval and CodeT's HumanEval prompts (tests/test_pairs.py checks it is current).
    data = json.loads(resources.files("codescaler").joinpath("humaneval_fingerprints.json").read_text())
    return {key: frozenset(values) for key, values in data.items()}


def humaneval_match(problem: dict[str, Any]) -> str | None:
    """Why ``problem`` is HumanEval-derived (``"id"``, ``"split"``, ``"prompt"``, ``"line"``), or None."""
    if problem.get("split") == "eval":
        return "split"
    if _EVAL_ID.match(str(problem.get("id", ""))):
        return "id"
    known = _humaneval_fingerprints()
    question = problem.get("question", "")
    if _digest(question) in known["prompt"]:
        return "prompt"
    if any(_digest(line) in known["line"] for line in question.splitlines() if len(line.strip()) >= 30):
        return "line"
    return None


def refuse_eval(pairs: Sequence[Mapping[str, Any]], source: str) -> None:
    """Raise if any pair is HumanEval-derived: HumanEval is the evaluation split and never trains an RM."""
    for number, pair in enumerate(pairs, start=1):
        why = humaneval_match({"id": pair.get("problem_id", ""), "question": pair["question"]})
        if why:
            raise ValueError(
                f"{source} pair {number} (problem {pair.get('problem_id')!r}) is HumanEval-derived (matched by "
                f"{why}); HumanEval is the evaluation split. Remove it, or pass --allow_eval for a throwaway model."
            )


def training_rows(
    rows: list[Pair], eval_rows: list[Pair] | None, source: str, allow_eval: bool = False
) -> tuple[list[Pair], list[Pair]]:
    """The pairs to train on and to evaluate with: ``eval_rows`` when given, else the rows' own ``validation``
    split. Unless ``allow_eval``, a HumanEval-derived training pair is refused and the pairs of evaluation
    benchmarks' problems (MBPP+ in MBPP, ...) are dropped and counted in a warning."""
    if eval_rows is None:
        eval_rows = [r for r in rows if r.get("split") == "validation"]
        rows = [r for r in rows if r.get("split", "train") != "validation"]
    if not allow_eval:
        refuse_eval(rows, source)
        kept, _ = without_evaluation_problems([dict(r) for r in rows], source)  # a pair names its problem_id
        rows = cast(list[Pair], kept)
    return rows, eval_rows


def problem_split(problem_id: str, validation_fraction: float, seed: int) -> str:
    """A stable problem-level split; MBPP and MBPP+ ids of one task land on the same side."""
    digest = hashlib.sha256(f"{seed}:{problem_id.lower()}".encode()).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2**64 < validation_fraction else "train"


def _is_test_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return isinstance(node.value.func, ast.Name) and node.value.func.id == "print"
    if isinstance(node, ast.If):  # if __name__ == "__main__":
        test = node.test
        return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
    return False


def strip_test_code(code: str) -> str:
    """``code`` without its module-level asserts, print calls and ``__main__`` block.

    Chat models paste the question's asserts under their answer. An answer that fails those asserts fails
    every test, while references carry none, so unstripped pairs teach "has asserts → worse" (seen in
    Qwen2.5-Coder-0.5B's MBPP samples: 50% of pairs had asserts only in the rejected program, 2% only in
    the chosen). The RM should judge the solution, as it does in a best-of-N pool of bare functions.
    Code that does not parse is returned unchanged; trailing comments left behind ("# Test cases") go too.
    """
    try:
        tree = parse_python(code)
    except (SyntaxError, ValueError):
        return code
    drop = [n for n in tree.body if _is_test_statement(n)]
    kept_lines = {i for n in tree.body if n not in drop for i in _lines(n)}
    # a statement sharing a line with kept code (`x = 1; assert x`) stays: lines are what get deleted
    drop = [n for n in drop if not kept_lines & _lines(n)]
    if not drop or len(drop) == len(tree.body):
        return code
    lines = code.splitlines(keepends=True)
    for node in reversed(drop):
        del lines[node.lineno - 1 : node.end_lineno]
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    return "".join(lines)


def _lines(node: ast.stmt) -> set[int]:
    return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))


def _code_key(code: str) -> str:
    try:
        return ast.dump(parse_python(code))
    except (SyntaxError, ValueError):
        return normalize_text(code)


def _parse_ratios(parts: list[str]) -> dict[str, float]:
    ratios = {}
    for part in parts:
        name, _, value = part.partition("=")
        try:
            ratios[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"source_ratios: {part!r} is not name=fraction") from None
    return ratios


def _pick_rejected(rejected: list[dict], limit: int, ratios: dict[str, float], rng: random.Random) -> list[dict]:
    if not ratios:
        return rejected[:limit]
    by_source: dict[str, list[dict]] = {}
    for r in rejected:
        by_source.setdefault(r["source"].split(":")[0], []).append(r)
    total = sum(ratios.values())
    picked = []
    for source, ratio in ratios.items():
        picked += by_source.get(source, [])[: max(1, round(limit * ratio / total))]
    leftovers = [r for r in rejected if r not in picked]  # fill the cap when a source runs short
    return (picked + leftovers)[:limit]


def problem_pairs(problem: dict[str, Any], config: PairsConfig, rng: random.Random) -> list[dict[str, Any]]:
    """The pairs of one verified problem record."""
    language = problem.get("language", "python")
    sources = problem.get("candidate_sources") or ["sample"] * len(problem["responses"])
    fractions = problem.get("pass_fraction") or [float(bool(p)) for p in problem["passed"]]
    chosen: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    seen: set[str] = set()
    for response, passed, fraction, source in zip(problem["responses"], problem["passed"], fractions, sources):
        if passed is None:
            continue  # the sandbox could not run it: neither chosen nor rejected
        extraction = extract_program(response, language, "lenient", problem.get("code_prefix"))
        if not extraction.valid:
            continue  # invalid answers get reward 0 from shaping; the RM never sees them
        code = strip_test_code(extraction.code) if config.strip_tests and language == "python" else extraction.code
        key = _code_key(code)
        if config.dedup and key in seen:
            continue
        seen.add(key)
        (chosen if passed else rejected).append({"code": code, "pass": fraction, "source": source})
    if not chosen or not rejected:
        return []
    rng.shuffle(rejected)
    if config.hard_negatives_first:
        rejected.sort(key=lambda r: -r["pass"])
    limit = config.max_pairs_per_problem or len(chosen) * len(rejected)
    picked = _pick_rejected(rejected, limit, config.ratios, rng)
    split = problem_split(problem["id"], config.validation_fraction, config.seed)
    pairs = []
    for i, r in enumerate(picked):
        if config.balance_lengths:
            c = min(chosen, key=lambda c: (abs(len(c["code"]) - len(r["code"])), c["code"]))
        else:
            c = chosen[i % len(chosen)]
        pairs.append(
            {
                "question": problem["question"],
                "chosen": c["code"],
                "rejected": r["code"],
                "problem_id": problem["id"],
                "source": r["source"],
                "chosen_pass": c["pass"],
                "rejected_pass": r["pass"],
                "split": split,
            }
        )
    return pairs


def build_pairs(problems: Iterable[dict[str, Any]], config: PairsConfig | None = None) -> Iterator[dict[str, Any]]:
    """Pairs from verified problem records; raises ValueError on a HumanEval-derived problem."""
    config = config or PairsConfig()
    rng = random.Random(config.seed)
    dropped: Counter[str] = Counter()
    for problem in problems:
        missing = [k for k in ("id", "question", "responses", "passed") if k not in problem]
        if missing:
            raise ValueError(f"problem {problem.get('id')!r}: missing {', '.join(missing)}")
        if len(problem["passed"]) != len(problem["responses"]):
            raise ValueError(
                f"problem {problem['id']!r}: {len(problem['passed'])} verdicts for "
                f"{len(problem['responses'])} responses"
            )
        why = None if config.allow_eval else humaneval_match(problem)
        if why:
            raise ValueError(
                f"problem {problem['id']!r} is HumanEval-derived (matched by {why}); HumanEval is the evaluation "
                "split and never enters RM training. Pass allow_eval (--allow-eval) for an evaluation-only set."
            )
        overlap = None if config.allow_eval else evaluation_overlap(problem)
        if overlap:
            dropped[overlap.split()[0]] += 1
            continue
        yield from problem_pairs(problem, config, rng)
    if dropped:
        counts = ", ".join(f"{n} from {name}" for name, n in sorted(dropped.items()))
        logger.warning("pairs: dropped %d evaluation problems (%s)", sum(dropped.values()), counts)


def read_pairs(source: str) -> list[Pair]:
    """Pairs from a JSONL or Parquet file or a hub dataset id, in ours or CodeScalerPair's layout.

    Raises :class:`~codescaler.records.schema.RecordError` naming the file, line and field of a malformed pair.
    """
    from codescaler.records.jsonl import read_lines

    path = Path(source)
    if path.suffix == ".jsonl" and path.exists():
        rows: list[Any] = [record for _, record in read_lines(path)]
    else:
        import datasets

        if path.exists():
            data = datasets.load_dataset(path.suffix.lstrip(".") or "parquet", data_files=str(path), split="train")
        else:
            data = datasets.load_dataset(source, split="train")
        rows = list(data)
    pairs = []
    for number, row in enumerate(rows, start=1):
        try:
            if isinstance(row, RecordError):
                raise row
            row = {_CODESCALER_PAIR_COLUMNS.get(k, k): v for k, v in row.items()}
            pairs.append(check_record(row, Pair, number))
        except RecordError as err:
            raise RecordError(f"{source}: {err}") from None
    return pairs
