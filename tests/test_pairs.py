import json

import pytest

from codescaler import benchmarks
from codescaler.training.pairs import (
    PairsConfig,
    build_pairs,
    fingerprints,
    humaneval_match,
    problem_split,
    strip_test_code,
)

CHOSEN = "def add(a, b):\n    return a + b\n"


def problem(pid="toy/7", **extra):
    responses = [
        f"```python\n{CHOSEN}```",
        "```python\ndef add(a, b):\n    return a - b\n```",
        "```python\ndef add(a, b):\n    return a * b\n```",
        "no code here",
        "```python\ndef add(a, b):\n    return a - b  # same program\n```",
    ]
    return {
        "id": pid,
        "question": "Add two numbers.",
        "responses": responses,
        "passed": [True, False, False, False, False],
        "pass_fraction": [1.0, 0.5, 0.0, 0.0, 0.5],
        "candidate_sources": ["reference", "mutant:arithmetic", "unaligned", "sample", "sample"],
        **extra,
    }


def test_pairs_rule_dedup_hard_negatives_and_bare_code():
    pairs = list(build_pairs([problem()], PairsConfig(validation_fraction=0.0)))
    assert [p["rejected_pass"] for p in pairs] == [0.5, 0.0]  # hardest first; the duplicate and the no-code drop
    assert all(p["chosen"] == CHOSEN.rstrip("\n") or p["chosen"] == CHOSEN for p in pairs)
    assert all("```" not in p["chosen"] + p["rejected"] for p in pairs)
    assert {p["source"] for p in pairs} == {"mutant:arithmetic", "unaligned"}
    assert set(pairs[0]) == {
        "question",
        "chosen",
        "rejected",
        "problem_id",
        "source",
        "chosen_pass",
        "rejected_pass",
        "split",
    }


def test_cap_ratios_and_no_pairs_without_both_sides():
    capped = list(build_pairs([problem()], PairsConfig(max_pairs_per_problem=1, source_ratios=["unaligned=1"])))
    assert [p["source"] for p in capped] == ["unaligned"]
    all_wrong = {**problem(), "passed": [False] * 5}
    assert list(build_pairs([all_wrong])) == []
    with pytest.raises(ValueError, match="name=fraction"):
        list(build_pairs([problem()], PairsConfig(source_ratios=["unaligned"])))


def test_problem_level_split_is_stable_and_shared_by_mbpp_and_mbppplus():
    assert problem_split("mbpp/12", 0.5, 0) == problem_split("Mbpp/12", 0.5, 0)
    splits = [problem_split(f"mbpp/{i}", 0.2, 0) for i in range(2000)]
    assert 0.15 < splits.count("validation") / 2000 < 0.25
    pairs = list(build_pairs([problem("toy/3"), problem("toy/3")], PairsConfig(validation_fraction=0.5)))
    assert len({p["split"] for p in pairs}) == 1


@pytest.mark.data
def test_refuses_humaneval_by_split_id_prompt_and_line():
    he = benchmarks.load("humaneval")[0]
    assert humaneval_match({"id": "x", "question": "q", "split": "eval"}) == "split"
    assert humaneval_match({"id": "HumanEval/0", "question": "q"}) == "id"
    assert humaneval_match({"id": "x", "question": he["question"]}) == "prompt"
    longest = max(he["question"].splitlines(), key=len)
    assert humaneval_match({"id": "x", "question": "Solve this:\n" + longest + "\nThanks"}) == "line"
    with pytest.raises(ValueError, match="HumanEval-derived"):
        list(build_pairs([problem("HumanEval/0")]))
    assert list(build_pairs([problem("HumanEval/0")], PairsConfig(allow_eval=True)))


@pytest.mark.data
@pytest.mark.parametrize("name", ["mbpp", "mbpp-codet", "mbppplus", "leetcode-train", "lcb-train", "codecontests"])
def test_training_sets_are_not_flagged(name):
    assert not any(humaneval_match(r) for r in benchmarks.load(name))


@pytest.mark.data
def test_packaged_fingerprints_are_current():
    from importlib import resources

    prompts = [r["question"] for n in benchmarks.names() for r in benchmarks.load(n) if r.get("split") == "eval"]
    packaged = json.loads(resources.files("codescaler").joinpath("humaneval_fingerprints.json").read_text())
    assert packaged == fingerprints(prompts)


PASTED_TESTS = """import math

def area(r):
    assert r >= 0  # a check inside the solution is part of it
    return math.pi * r * r

# Test cases
assert area(1) == math.pi
print(area(2))
if __name__ == "__main__":
    print(area(3))
"""


def test_strip_test_code_drops_module_level_tests_and_keeps_the_solution():
    stripped = strip_test_code(PASTED_TESTS)
    assert stripped == PASTED_TESTS.split("\n# Test cases")[0]
    assert strip_test_code("x = 1; assert x\n") == "x = 1; assert x\n"  # a shared line stays whole
    assert strip_test_code("assert True\n") == "assert True\n"  # nothing left to judge: unchanged
    assert strip_test_code("def f(:\n") == "def f(:\n"  # does not parse: unchanged


def test_pairs_strip_pasted_tests_so_they_are_no_cue():
    # a failing answer that pasted the question's asserts, against a reference that has none
    rejected = "def add(a, b):\n    return a - b\n\nassert add(1, 2) == 3\nprint(add(2, 2))\n"
    record = {
        "id": "toy/9",
        "question": "Add.",
        "responses": [f"```python\n{CHOSEN}```", f"```python\n{rejected}```"],
        "passed": [True, False],
        "candidate_sources": ["reference", "sample"],
    }
    [pair] = build_pairs([record], PairsConfig(validation_fraction=0.0))
    assert pair["rejected"].rstrip() == "def add(a, b):\n    return a - b"
    [kept] = build_pairs([record], PairsConfig(validation_fraction=0.0, strip_tests=False))
    assert "assert add(1, 2) == 3" in kept["rejected"]


@pytest.mark.data
def test_rl_holds_out_the_problems_the_pairs_hold_out():
    """A set with no validation split of its own is split as `codescaler pairs` splits it, by its flags."""
    from codescaler.rl.grpo import RLConfig, problem_sets

    config = RLConfig(problems="leetcode-train", validation_fraction=0.3, split_seed=5, eval_problems=10_000)
    train, held = problem_sets(config)
    assert {problem_split(p["id"], 0.3, 5) for p in train} == {"train"}
    assert {problem_split(p["id"], 0.3, 5) for p in held} == {"validation"}
    assert 0.2 < len(held) / (len(train) + len(held)) < 0.4


@pytest.mark.data
def test_rl_on_mbpp_keeps_its_official_split_and_never_trains_on_an_evaluation_problem(caplog):
    from codescaler.benchmarks.overlap import evaluation_overlap
    from codescaler.rl.grpo import RLConfig, problem_sets

    train, held = problem_sets(RLConfig(eval_problems=10_000))
    ids = [int(p["id"].split("/")[1]) for p in train + held]
    assert all(601 <= int(p["id"].split("/")[1]) <= 974 for p in train)  # MBPP's train split
    assert all(511 <= int(p["id"].split("/")[1]) <= 600 for p in held)  # its validation split
    assert not any(evaluation_overlap(p) for p in train + held) and len(ids) == len(set(ids))
    assert len(train) == 374 - 108 and len(held) == 90 - 39  # MBPP+ holds 108 and 39 of them: dropped, and said
    assert "dropped 378 evaluation problems (378 from mbppplus)" in caplog.text


def test_pairs_and_training_drop_evaluation_problems_and_say_so(caplog):
    from codescaler.training.pairs import training_rows

    mbppplus = problem("mbpp/602")  # MBPP+'s Mbpp/602: an evaluation problem, by id
    assert list(build_pairs([mbppplus], PairsConfig(validation_fraction=0.0))) == []
    assert "dropped 1 evaluation problems (1 from mbppplus)" in caplog.text
    assert list(build_pairs([mbppplus], PairsConfig(validation_fraction=0.0, allow_eval=True)))
    pairs = [
        {"question": "q", "chosen": "a", "rejected": "b", "problem_id": "Mbpp/602", "split": "train"},
        {"question": "q", "chosen": "a", "rejected": "b", "problem_id": "toy/1", "split": "train"},
        {"question": "q", "chosen": "a", "rejected": "b", "problem_id": "toy/2", "split": "validation"},
    ]
    train, held = training_rows(pairs, None, "pairs.jsonl")
    assert [p["problem_id"] for p in train] == ["toy/1"] and [p["problem_id"] for p in held] == ["toy/2"]
