import ast

import pytest

from codescaler.execution.sandbox import Sandbox
from codescaler.execution.verify import verify_responses
from codescaler.training.candidates import MUTATORS, CandidatesConfig, build_candidates, fenced, mutants

REFERENCE = """def count_below(xs, limit):
    # counts the items strictly under limit
    n = 0
    for i in range(len(xs)):
        if xs[i] < limit and not xs[i] is None:
            n += 1
    return n
"""


def test_mutants_cover_every_operator_and_keep_formatting():
    found = mutants(REFERENCE)
    assert {m.mutator for m in found} == set(MUTATORS)
    for m in found:
        assert m.code != REFERENCE
        ast.parse(m.code)
        # one local edit: the comment and the untouched lines stay byte-identical
        assert "# counts the items strictly under limit" in m.code
        changed = [a for a, b in zip(REFERENCE.splitlines(), m.code.splitlines()) if a != b]
        assert len(changed) <= 1 or m.mutator == "deletion"
    codes = [m.code for m in found]
    assert len(codes) == len(set(codes))
    assert any("xs[i] <= limit" in c for c in codes)
    assert any("n -= 1" in c for c in codes)
    assert any("range(len(xs) - 1)" in c for c in codes)
    assert any("n = 0" not in c and m.mutator == "deletion" for c, m in zip(codes, found))


def test_mutants_of_unparsable_code_and_unknown_operator():
    assert mutants("def f(:\n  pass") == []
    with pytest.raises(ValueError, match="unknown mutators"):
        mutants(REFERENCE, ["swap"])


def test_operator_inside_a_string_is_not_touched():
    code = 'def f(a, b):\n    return a + b if "<" else a\n'
    for m in mutants(code, ["comparison", "arithmetic"]):
        assert '"<"' in m.code


def test_non_ascii_source_positions():
    code = 'def f(x):\n    s = "héllo wörld"; return x + 1\n'
    changed = {m.code for m in mutants(code, ["arithmetic"])}
    assert 'def f(x):\n    s = "héllo wörld"; return x - 1\n' in changed


def test_build_and_verify_candidates_labels_come_from_execution():
    problems = [
        {
            "id": "p/1",
            "question": "count items below limit",
            "reference": REFERENCE,
            "tests": [
                {"type": "assert", "code": "assert count_below([1, 5, 2], 3) == 2"},
                {"type": "assert", "code": "assert count_below([], 3) == 0"},
            ],
        },
        {
            "id": "p/2",
            "question": "add",
            "reference": "def add(a, b):\n    return a + b\n",
            "tests": [{"type": "assert", "code": "assert add(2, 3) == 5"}],
            "responses": [fenced("def add(a, b): return 5")],
        },
    ]
    built = build_candidates(problems, CandidatesConfig(mutants_per_problem=50, unaligned_per_problem=1))
    assert built[1]["candidate_sources"][0] == "sample"  # existing responses are kept first
    assert len({s.split(":")[1] for s in built[0]["candidate_sources"] if s.startswith("mutant")}) >= 4
    assert built[0]["candidate_sources"][-1] == "unaligned"
    with Sandbox(workers=2) as sandbox:
        results = list(verify_responses(built, sandbox))
    for problem, verdicts in zip(built, results):
        by_source = dict(zip(problem["candidate_sources"], verdicts))
        assert by_source["reference"].passed
        assert not by_source["unaligned"].passed
        mutant_results = [v.passed for s, v in zip(problem["candidate_sources"], verdicts) if s.startswith("mutant")]
        assert mutant_results and not all(mutant_results)
    # The sampled answer `return 5` happens to pass the one test: it is labelled by execution, not by origin.
    assert results[1][0].passed


def test_sample_cli_adds_n_responses_per_problem(tmp_path, tiny_policy, monkeypatch):
    import json

    from transformers import AutoModelForCausalLM

    from codescaler.cli import main

    loads = []
    load = AutoModelForCausalLM.from_pretrained
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", lambda *a, **k: loads.append(a) or load(*a, **k))
    problems = tmp_path / "p.jsonl"
    # 40 problems: the CLI reads them in two chunks, and the model is loaded once for both
    rows = [
        {"id": f"p/{i}", "question": f"Write f{i}.", "tests": [{"type": "assert", "code": "assert True"}]}
        for i in range(40)
    ]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "s.jsonl"
    assert (
        main(f"sample {problems} -o {out} --model {tiny_policy} -n 2 --max-new-tokens 4 --batch-size 16".split()) == 0
    )
    assert len(loads) == 1
    written = [json.loads(x) for x in out.read_text().splitlines()]
    assert [len(r["responses"]) for r in written] == [2] * 40
    assert all(r["candidate_sources"] == ["sample", "sample"] and isinstance(r["responses"][0], str) for r in written)
    assert written[0]["tests"] == rows[0]["tests"]  # the record stays verifiable


def test_completion_problems_get_completions_of_their_prefix():
    prefix = "import math\ndef root(x):\n    '''The integer square root of x.'''\n"
    problem = {
        "id": "p/3",
        "question": prefix,
        "code_prefix": prefix,
        "reference": prefix + "    return int(math.sqrt(x)) + 0\n",
        "tests": [{"type": "assert", "code": "assert root(10) == 3 and root(16) == 4"}],
    }
    other = {"id": "p/4", "question": "add", "reference": "def add(a, b):\n    return a + b\n", "tests": []}
    (built, _) = build_candidates([problem, other], CandidatesConfig(mutants_per_problem=50, unaligned_per_problem=1))
    assert "unaligned" not in built["candidate_sources"]  # another problem's program does not continue the prefix
    assert built["responses"][0] == "    return int(math.sqrt(x)) + 0\n"
    # mutants edit only what follows the prefix: deleting `import math` is not a completion of it
    assert all(not r.startswith(("```", "import", "def")) for r in built["responses"])
    assert len(built["responses"]) > 2
    with Sandbox(workers=1) as sandbox:
        (verdicts,) = verify_responses([built], sandbox)
    assert verdicts[0].passed and not all(v.passed for v in verdicts[1:])
    with pytest.raises(ValueError, match="p/3.*does not start with its code_prefix"):
        build_candidates([{**problem, "reference": "def root(x):\n    return 0\n"}])


def test_sampling_again_adds_to_the_responses_and_drops_stale_verdicts(tiny_policy, tmp_path):
    import json

    from codescaler.cli import main

    # as `candidates` wrote it: its `line` is the line of the file it read, not of this one
    verified = {
        "line": 5,
        "id": "a",
        "question": "def f(x):\n    return",
        "tests": [],
        "responses": ["    return 1\n"],
        "candidate_sources": ["sample"],
        "passed": [True],
        "pass_fraction": [1.0],
        "status": ["passed"],
    }
    problems, out = tmp_path / "p.jsonl", tmp_path / "s.jsonl"
    problems.write_text(json.dumps(verified) + "\n")
    assert (
        main(f"sample {problems} -o {out} --model {tiny_policy} -n 2 --completion --max-new-tokens 4 --seed 1".split())
        == 0
    )
    (written,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert written["line"] == 1  # resume reads it: a stale 5 would mark line 5 of this input done
    assert written["responses"][0] == "    return 1\n" and len(written["responses"]) == 3
    assert written["candidate_sources"] == ["sample"] * 3
    # the verdicts described one response; `candidates` verifies all three again
    assert not {"passed", "pass_fraction", "status"} & written.keys()
