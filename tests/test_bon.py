import json
import os

import pytest
import torch

from codescaler.execution.sandbox import Sandbox
from codescaler.judges.calibration import Calibration
from codescaler.measure.bon import best_of_n
from codescaler.measure.bon_methods import (
    BonConfig,
    Problem,
    accuracy_at_n,
    codet_scores,
    expected_pick,
    generated_calls,
    select,
    signature,
    vote_scores,
)


def test_generated_calls_parse_literal_asserts_only():
    calls = generated_calls(
        [
            "assert f([1, 2], 3) == True",
            "assert f([1, 2], 3) == True",
            "assert g(1) == 2",
            "assert f(x) == 1",
            "assert f(1) != 2",
            "assert f(2)",
            "not python (",
        ],
        "f",
    )
    assert calls == [{"type": "call", "fn": "f", "args": [[1, 2], 3], "expected": True}]


def test_expected_pick_shares_ties():
    assert expected_pick({0: 1.0, 1: 1.0, 2: 0.5}, [True, False, True]) == 0.5
    assert expected_pick({0: (2, 0.1), 1: (2, 0.9)}, [False, True]) == 1.0


def test_codet_and_vote_groups():
    # candidates 0,1 agree and pass test 0; candidate 2 passes both tests alone; 3 never returns
    outputs = [[[1], [5]], [[1], [5]], [[1], [2]], [None, None]]
    expected = [1, 2]
    assert codet_scores(outputs, expected, [0, 1, 2, 3]) == {0: 2.0, 1: 2.0, 2: 1.0 * 2, 3: 0.0}
    assert codet_scores(outputs, expected, [0, 2]) == {0: 1.0, 2: 2.0}  # groups depend on the subset
    signatures = [signature(o) if any(x is not None for x in o) else None for o in outputs]
    assert vote_scores(signatures, [0, 1, 2, 3]) == {0: 2.0, 1: 2.0, 2: 1.0, 3: 0.0}
    assert signature([[10**5000]]) != signature([[10**5000 + 1]])  # huge ints compare without repr limits


def test_selective_methods_run_the_judges_top_programs_only():
    # rewards rank 3 > 0 > 1 > 2 > 4; candidates 0 and 4 are the same program; 1 and 2 are correct and agree
    # on the generated test with 0/4 disagreeing, so CodeT over everything picks 1 or 2
    p = Problem(
        "p",
        [False, True, True, False, False],
        rewards={"rm": [0.8, 0.6, 0.5, 0.9, 0.1]},
        outputs=[[[0]], [[1]], [[1]], [[0]], [[0]]],
        expected=[1],
        programs=[0, 1, 2, 3, 0],
        p_pass=[0.4, 0.3, 0.2, 0.45, 0.1],
    )
    everything = [0, 1, 2, 3, 4]
    assert select("rm", p, everything) == (0.0, 0, 0)
    assert select("rm+codet", p, everything) == (1.0, 4, 0)  # four distinct programs ran
    assert select("oracle", p, everything) == (1.0, 0, 4)  # knowing means running every program
    # the RM's top two programs (3, then 0 with its twin 4) pass nothing: the RM's top-1 stands
    assert select("cascade@2", p, everything) == (0.0, 2, 0)
    assert select("cascade@3", p, everything) == (1.0, 3, 0)  # program 1 ran: it alone passes
    assert select("cascade@3", p, [0, 2, 3]) == (1.0, 3, 0)  # over a subset, its own order
    assert select("verify-top@1", p, everything) == (0.0, 0, 1)
    assert select("verify-top@3", p, everything) == (1.0, 0, 3)  # stops at the first that passes
    assert select("verify-top@8", p, [0, 3, 4]) == (0.0, 0, 2)  # only two programs to run
    assert select("gate@0.4", p, everything) == (0.0, 0, 0)  # sure enough (0.45): nothing runs
    assert select("gate@0.5", p, everything) == select("rm+codet", p, everything)  # unsure: run everything
    with pytest.raises(ValueError, match="P\\(pass\\)"):
        select("gate@0.5", Problem("q", [True], rewards={"rm": [1.0]}), [0])
    assert BonConfig(methods=["cascade", "gate"], cascade_k=[1, 4], gate=[0.5]).expanded() == [
        "cascade@1",
        "cascade@4",
        "gate@0.5",
    ]
    with pytest.raises(ValueError, match="every K"):
        BonConfig(cascade_k=[0])


def test_methods_and_exact_random():
    p = Problem(
        "p",
        [True, False, False, False],
        rewards={"rm": [0.9, 0.1, 0.5, 0.0]},
        outputs=[[[1]], [[0]], [[0]], [[0]]],
        expected=[1],
    )
    everything = [0, 1, 2, 3]
    assert select("rm", p, everything).correct == 1.0
    assert select("random", p, everything).correct == 0.25
    assert select("oracle", p, [1, 2]).correct == 0.0
    assert select("vote", p, everything).correct == 0.0  # the wrong majority wins the vote
    assert select("codet", p, everything).correct == 1.0  # 1 x 1 beats 3 x 0
    table = accuracy_at_n([p], ["random", "oracle", "rm"], [1, 4], draws=50, seed=0)
    assert table["random"][4]["mean"] == 0.25 and table["oracle"][4]["mean"] == 1.0
    assert table["random"][1]["mean"] == 0.25  # exact, not a sample of the 50 draws
    with pytest.raises(ValueError, match="needs generated tests"):
        select("codet", Problem("q", [True]), [0])


POOL = [
    {
        "id": "t/1",
        "question": "Return the double of x.",
        "entry_point": "double",
        "code_prefix": "def double(x):\n",
        "responses": [
            "    return 2 * x\n",
            "    return x + x\n",
            "    return x * x\n",
            "    return x + 2\n",
            "    while True: pass\n",
        ],
        "tests": [{"type": "assert", "code": "assert double(3) == 6\nassert double(0) == 0"}],
        "generated_tests": ["assert double(2) == 4", "assert double(1) == 2", "assert double(5) == 10"],
    },
    {
        "id": "t/2",
        "question": "Return x minus one.",
        "entry_point": "dec",
        "code_prefix": "def dec(x):\n",
        "responses": [
            "    return x - 1\n",
            "    return x + 1\n",
            "    return x - 1  # again\n",
            "    return 1 - x\n",
            "    return x\n",
        ],
        "tests": [{"type": "assert", "code": "assert dec(5) == 4"}],
        "generated_tests": ["assert dec(5) == 4", "assert dec(1) == 0"],
    },
]


def test_report_end_to_end_and_caches(tmp_path, tiny_rm):
    config = BonConfig(
        methods=["rm", "codet", "vote", "rm+codet", "random", "oracle"], n=[1, 2, 5], draws=5, test_timeout=0.5
    )
    with Sandbox(workers=2) as sandbox:
        report = best_of_n(
            POOL, tmp_path, config=config, judges={"rm": tiny_rm}, judge_ids={"rm": "tiny"}, sandbox=sandbox
        )
        assert report["accuracy"]["oracle"]["5"]["mean"] == 1.0
        assert report["accuracy"]["random"]["5"]["mean"] == pytest.approx((2 / 5 + 2 / 5) / 2)
        assert report["accuracy"]["codet"]["5"]["mean"] == 1.0
        for name in ("report.json", "report.md", "accuracy_vs_n.png", "latency.png", "cache/ground_truth.jsonl"):
            assert (tmp_path / name).exists()
        timing = report["latency"]["codet"]["5"]
        assert timing["exec_wall_s"] > 0 and timing["programs_run"] > 0 and timing["model_wall_s"] == 0
        assert report["latency"]["rm"]["5"]["forward_tokens"] > 0
        # a second run executes and scores nothing new
        before, cached = sandbox.cpu_seconds, (tmp_path / "cache" / "judges.jsonl").read_text()
        again = best_of_n(
            POOL, tmp_path, config=config, judges={"rm": tiny_rm}, judge_ids={"rm": "tiny"}, sandbox=sandbox
        )
        assert sandbox.cpu_seconds == before and (tmp_path / "cache" / "judges.jsonl").read_text() == cached
        assert again["accuracy"] == json.loads((tmp_path / "report.json").read_text())["accuracy"]
        # the same name over other weights is scored afresh, never read from the old model's cache
        with torch.no_grad():
            tiny_rm.head.weight.mul_(-1)
        flipped = best_of_n(
            POOL, tmp_path, config=config, judges={"rm": tiny_rm}, judge_ids={"rm": "tiny"}, sandbox=sandbox
        )
        assert len((tmp_path / "cache" / "judges.jsonl").read_text().splitlines()) == 2 * len(cached.splitlines())
        assert sandbox.cpu_seconds == before  # ground truth and generated tests are still cached
        assert flipped["accuracy"]["oracle"] == again["accuracy"]["oracle"]
    # every cache file was closed after its pass
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
    assert not {str(p) for p in (tmp_path / "cache").iterdir()} & open_files


def test_selective_methods_in_the_report_with_their_costs(tmp_path, tiny_rm):
    config = BonConfig(
        methods=["codet", "cascade", "verify-top", "gate", "oracle"], n=[5], draws=1, cascade_k=[1, 8], gate=[0.0, 1.0]
    )
    with Sandbox(workers=2) as sandbox:
        with pytest.raises(ValueError, match="has none"):  # gate needs a calibrated judge
            best_of_n(POOL, tmp_path, config=config, judges={"rm": tiny_rm}, sandbox=sandbox)
        tiny_rm.calibration = Calibration(1.0, 0.0)
        report = best_of_n(POOL, tmp_path, config=config, judges={"rm": tiny_rm}, sandbox=sandbox)
        labelled = [{**p, "labels": [True, True, False, False, False]} for p in POOL]
        from_labels = best_of_n(labelled, tmp_path / "labels", config=config, judges={"rm": tiny_rm}, sandbox=sandbox)
    accuracy, cost = report["accuracy"], report["latency"]
    # 5 candidates, 5 distinct programs each (a comment makes a program distinct): cascade@8 runs them all
    assert cost["cascade@8"]["5"]["programs_run"] == cost["codet"]["5"]["programs_run"] == 5.0
    assert cost["cascade@1"]["5"]["programs_run"] == 1.0 and cost["cascade@1"]["5"]["exec_cpu_s"] > 0
    assert accuracy["verify-top@8"]["5"]["mean"] == accuracy["oracle"]["5"]["mean"] == 1.0
    assert 1.0 <= cost["verify-top@8"]["5"]["programs_run"] < cost["oracle"]["5"]["programs_run"]
    assert cost["verify-top@1"]["5"]["exec_cpu_s"] > 0  # the problems' own tests were timed
    assert cost["gate@0"]["5"]["programs_run"] == 0 and cost["gate@1"]["5"]["programs_run"] == 5.0
    assert report["frontier"]["cascade"]["reference"] == "codet"
    reached = report["frontier"]["verify-top"]  # verify-top@8 reaches the oracle, on fewer programs
    assert reached["first"] in ("verify-top@1", "verify-top@8") and reached["top1"] == 1.0 and reached["fraction"] < 1
    assert (tmp_path / "pareto.png").exists() and "least budget" in (tmp_path / "report.md").read_text()
    # a pool's labels carry no timing: programs are counted, seconds are not made up
    assert from_labels["latency"]["verify-top@8"]["5"]["exec_cpu_s"] is None
    assert from_labels["latency"]["verify-top@8"]["5"]["programs_run"] >= 1.0


def test_problem_without_generated_tests_ties_for_codet_and_falls_back_to_rm(tmp_path, tiny_rm):
    pool = [{**POOL[1], "id": "t/none", "generated_tests": ["assert something_else(1) == 2"]}]
    config = BonConfig(methods=["codet", "vote", "rm+codet", "rm", "random"], n=[5], draws=1)
    with Sandbox(workers=1) as sandbox:
        report = best_of_n(
            pool, tmp_path, config=config, judges={"rm": tiny_rm}, judge_ids={"rm": "tiny"}, sandbox=sandbox
        )
    accuracy = {m: report["accuracy"][m]["5"]["mean"] for m in ("codet", "vote", "rm+codet", "rm", "random")}
    assert accuracy["codet"] == accuracy["vote"] == accuracy["random"]
    assert accuracy["rm+codet"] == accuracy["rm"]
    assert report["problems_without_generated_tests"] == 1
    assert report["latency"]["codet"]["5"]["programs_run"] == report["latency"]["codet"]["5"]["exec_cpu_s"] == 0


def test_tuple_outputs_survive_the_sandbox(tmp_path):
    pool = [
        {
            "id": "t/pair",
            "question": "Return (x, x + 1).",
            "entry_point": "pair",
            "code_prefix": "def pair(x):\n",
            "responses": ["    return (x, x + 1)\n", "    return [x, x + 1]\n", "    return {x: 1}\n"],
            "tests": [{"type": "assert", "code": "assert pair(1) == (1, 2)"}],
            "generated_tests": ["assert pair(1) == (1, 2)", "assert pair(5) == (5, 6)"],
        }
    ]
    with Sandbox(workers=1) as sandbox:
        report = best_of_n(
            pool, tmp_path, config=BonConfig(methods=["codet", "oracle"], n=[3], draws=1), sandbox=sandbox
        )
    assert report["accuracy"]["codet"]["3"]["mean"] == 1.0  # only the tuple answer passes the generated tests
    calls = generated_calls(["assert f({1: 'a'}, {2, 3}) == (1,)"], "f")
    assert calls[0]["args"] == [{"__dict__": [[1, "a"]]}, {"__set__": [2, 3]}] and calls[0]["expected"] == {
        "__tuple__": [1]
    }


def test_rm_names_gives_programs_with_undefined_names_no_reward(tmp_path, tiny_rm):
    pool = [{**POOL[0], "responses": ["    return operator.mul(2, x)\n", "    return 2 * x\n", "    return x * x\n"]}]
    config = BonConfig(methods=["rm", "rm-names"], n=[3], draws=1)
    with Sandbox(workers=1) as sandbox:
        best_of_n(pool, tmp_path, config=config, judges={"rm": tiny_rm}, judge_ids={"rm": "tiny"}, sandbox=sandbox)
    rows = [
        json.loads(line)["value"]["rewards"] for line in (tmp_path / "cache" / "judges.jsonl").read_text().splitlines()
    ]
    plain, named = rows  # one cache line per extraction rule, in the order of --methods
    assert plain[0] > 0 and named[0] == 0.0
    assert named[1:] == pytest.approx(plain[1:])
