import json
from pathlib import Path

import pytest
from conftest import run_cli_without

from codescaler.cli import main
from codescaler.measure.rm_eval import builtin_pairs, pairwise, rmbench, wilson

FIXTURE = Path(__file__).parent / "fixtures" / "rmbench_code.json"


class LengthModel:
    """Scores by length: long answers win. Enough to check the bookkeeping of the protocols."""

    def score(self, questions, codes, show_progress=False):
        return [float(len(c)) for c in codes]


class ContainsModel:
    """Scores 1 when the code contains `needle`: a judge that is right on every item of the fixture."""

    def __init__(self, needle):
        self.needles = needle

    def score(self, questions, codes, show_progress=False):
        return [float(any(n in c for n in self.needles)) for c in codes]


def test_wilson_interval():
    low, high = wilson(8, 10)
    assert 0.49 < low < 0.5 and 0.94 < high < 0.95


def test_pairwise_counts_ties_as_wrong_and_groups():
    pairs = [
        {"question": "q", "chosen": "aaa", "rejected": "a", "language": "py"},
        {"question": "q", "chosen": "a", "rejected": "aaa", "language": "js"},
        {"question": "q", "chosen": "aa", "rejected": "bb", "language": "js"},
    ]
    result = pairwise(LengthModel(), pairs, group_by=["language"])
    assert result["overall"]["accuracy"] == pytest.approx(1 / 3)
    assert result["groups"]["language"]["py"]["accuracy"] == 1.0 and result["groups"]["language"]["js"]["n"] == 2


def test_rmbench_levels():
    items = json.loads(FIXTURE.read_text())
    by_length = rmbench(LengthModel(), items)["all"]
    # chosen and rejected of one style have nearly equal lengths; a fancier style is always longer
    assert by_length["easy"]["accuracy"] == 1.0 and by_length["hard"]["accuracy"] == 0.0
    right = rmbench(ContainsModel(["a + b", "[::-1]"]), items)
    assert right["all"]["average"] == 1.0 and right["language=python"]["normal"]["n"] == 6
    with pytest.raises(ValueError, match="list of 3"):
        rmbench(LengthModel(), [{"prompt": "p", "chosen": ["a"], "rejected": ["b", "c", "d"]}])


def test_rmbench_extract_flag_scores_bare_code():
    items = json.loads(FIXTURE.read_text())
    plain = rmbench(LengthModel(), items, extract=True)["all"]
    # after extraction the concise and markdown styles carry the same bare code, so they compare as equals
    assert plain["easy"]["accuracy"] < 1.0


@pytest.mark.data
def test_builtin_humanevalpack_pairs():
    pairs = builtin_pairs("humanevalpack-python")
    assert len(pairs) == 164 and all(p["chosen"] != p["rejected"] for p in pairs)
    assert pairs[0]["chosen"].startswith("from typing import List")
    with pytest.raises(ValueError, match="unknown built-in"):
        builtin_pairs("humanevalpack-cobol")


@pytest.mark.data
def test_onpolicy_pairs_are_one_models_own_passing_and_failing_programs():
    from codescaler import benchmarks
    from codescaler.extraction.extract import completion_program

    pairs = builtin_pairs("multiple-python-onpolicy")
    pools = {r["id"]: r for r in benchmarks.load("multiple-python")}
    mixed = [r for r in pools.values() if any(r["labels"]) and not all(r["labels"])]
    assert len(pairs) == len(mixed) > 100  # one pair per problem that has both
    for pair in pairs:
        pool = pools[pair["problem_id"]]
        programs = [completion_program(pool["code_prefix"], r) for r in pool["responses"]]
        assert pool["labels"][programs.index(pair["chosen"])]
        assert not pool["labels"][programs.index(pair["rejected"])]


@pytest.mark.data
def test_pairwise_and_rmbench_cli(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "p.json"
    assert (
        main(
            [
                "pairwise",
                "humanevalpack-python",
                "--model",
                str(tiny_model_dir),
                "--group-by",
                "bug_type",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())["results"][str(tiny_model_dir)]
    assert result["overall"]["n"] == 164 and "missing logic" in result["groups"]["bug_type"]
    assert main(["rmbench", str(FIXTURE), "--models", str(tiny_model_dir), "-o", str(tmp_path / "r.json")]) == 0
    assert "language=python" in capsys.readouterr().out
    assert set(json.loads((tmp_path / "r.json").read_text())["results"][str(tiny_model_dir)]["all"]) == {
        "easy",
        "normal",
        "hard",
        "average",
    }


def test_pairwise_reads_pairs_without_trl(tiny_model_dir, tmp_path):
    """read_pairs lived in train.py, which imports trl: scoring a pairs file needed the training extra."""
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"question": "q", "chosen": "x = 1", "rejected": "x = 2"}) + "\n")
    out = run_cli_without(("trl",), ["pairwise", str(pairs), "--model", str(tiny_model_dir)])
    assert "all" in out
