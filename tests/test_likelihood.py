import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from codescaler import reward
from codescaler.cli import main
from codescaler.judges.likelihood import REVIEW_PROMPT, LikelihoodJudge, strip_docstrings
from codescaler.measure.bon_methods import summed_scores, z_summed

QUESTION = "Write add(a, b) returning the sum."
CODES = ["def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n", "x = 1\n"]


@pytest.fixture(scope="module")
def lm(tiny_policy):
    return AutoModelForCausalLM.from_pretrained(tiny_policy).eval(), AutoTokenizer.from_pretrained(tiny_policy)


def mean_logprob(model, tokenizer, prompt: str, target: str) -> float:
    """The definition, by hand: one full forward over prompt + target, the target's tokens' mean log-probability."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    p = tokenizer(text, add_special_tokens=False)["input_ids"]
    t = tokenizer(target, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([p + t])).logits[0].float()
    logprobs = torch.log_softmax(logits[len(p) - 1 : -1], dim=-1)
    return logprobs.gather(1, torch.tensor(t)[:, None]).mean().item()


def test_strip_docstrings_removes_what_the_reviewer_could_copy():
    code = 'def f(x):\n    """Return x doubled."""\n    return 2 * x\n\n\nclass A:\n    """A class."""\n\n    y = 1\n'
    assert strip_docstrings(code) == "def f(x):\n    return 2 * x\n\n\nclass A:\n\n    y = 1\n"
    # a body that is only its docstring (plus comments) would hand the reviewer the question: it becomes pass
    only = 'def f():\n    """Return the\n    answer."""\n    ####\n'
    assert strip_docstrings(only) == "def f():\n    pass\n    ####\n"
    assert strip_docstrings('"""Module."""\n') == ""
    assert strip_docstrings('def f(): "doc"; return 1\n') == 'def f(): "doc"; return 1\n'  # one line: kept
    assert strip_docstrings("def broken(:\n") == "def broken(:\n"


@pytest.mark.parametrize("direction", ["coder", "reviewer"])
def test_scores_are_mean_log_likelihoods_with_or_without_a_shared_prefix(lm, direction):
    model, tokenizer = lm
    judge = LikelihoodJudge(model, tokenizer, direction=direction)
    together = judge.score([QUESTION] * 3, CODES, show_progress=False)  # one question: its prefix runs once
    alone = [judge.score_one(QUESTION, c) for c in CODES]
    if direction == "coder":
        expected = [mean_logprob(model, tokenizer, QUESTION, c) for c in CODES]
    else:
        expected = [
            mean_logprob(model, tokenizer, REVIEW_PROMPT.format(code=strip_docstrings(c)), QUESTION) for c in CODES
        ]
    assert together == pytest.approx(expected, abs=1e-4) and alone == pytest.approx(expected, abs=1e-4)
    assert all(s < 0 for s in together)


def test_coder_reviewer_is_the_sum_and_shapes_like_an_rm(lm):
    model, tokenizer = lm
    judge = LikelihoodJudge(model, tokenizer, direction="coder-reviewer")
    both = judge.score([QUESTION] * 3, CODES, show_progress=False)
    parts = [judge.in_direction(d).score([QUESTION] * 3, CODES, show_progress=False) for d in ("coder", "reviewer")]
    assert both == pytest.approx([c + r for c, r in zip(*parts)], abs=1e-5)
    results = reward(judge, [QUESTION] * 2, [f"```python\n{CODES[0]}```", "no code"], show_progress=False)
    assert results[0].valid and results[0].reward > 0 and results[1].reward == 0.0 and results[1].score is None
    with pytest.raises(ValueError, match="direction must be one of"):
        LikelihoodJudge(model, tokenizer, direction="critic")


def test_long_pairs_are_cut_and_flagged(lm):
    model, tokenizer = lm
    judge = LikelihoodJudge(model, tokenizer, direction="coder", max_length=32)
    (scored,) = judge.score_pairs([QUESTION * 5], [CODES[0] * 5], show_progress=False)
    assert scored.truncated and scored.num_tokens == 32 and math.isfinite(scored.score)


def test_ensembles_z_score_each_judge_and_never_pick_invalid():
    rm = {0: 10.0, 1: 12.0, 2: -math.inf}
    lm = {0: -0.1, 1: -0.5, 2: -math.inf}
    total = z_summed([rm, lm])
    assert total[2] == -math.inf and total[0] == pytest.approx(0.0) and total[1] == pytest.approx(0.0)
    assert summed_scores([[1.0, None], [2.0, 3.0]], [0, 1]) == {0: 3.0, 1: -math.inf}


def test_judge_flag_and_likelihood_bon_methods(tiny_policy, tiny_model_dir, tmp_path, capsys):
    problems = tmp_path / "p.jsonl"
    fenced = [f"```python\n{c}```" for c in CODES]
    problems.write_text(json.dumps({"id": "add", "question": QUESTION, "responses": fenced}) + "\n")
    out = tmp_path / "ranked.jsonl"
    assert main(["rank", str(problems), "-o", str(out), "--judge", "coder", "--model", str(tiny_policy)]) == 0
    ranked = json.loads(out.read_text())
    assert sorted(ranked["order"]) == [0, 1, 2] and all(s < 0 for s in ranked["scores"])
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        json.dumps({"id": "add", "question": QUESTION, "responses": fenced, "labels": [True, False, False]}) + "\n"
    )
    methods = ["coder", "reviewer", "coder-reviewer", "rm+reviewer", "rm+coder-reviewer", "oracle"]
    argv = ["bon", str(pool), "-o", str(tmp_path / "report"), "--model", str(tiny_model_dir), "--lm", str(tiny_policy)]
    assert main([*argv, "--methods", *methods, "--n", "3", "--draws", "1"]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(report["accuracy"]) == set(methods) and report["judges"] == {
        "coder": str(tiny_policy),
        "reviewer": str(tiny_policy),
        "rm": str(tiny_model_dir),
    }
    latency = report["latency"]
    assert latency["coder-reviewer"]["3"]["model_wall_s"] == pytest.approx(
        latency["coder"]["3"]["model_wall_s"] + latency["reviewer"]["3"]["model_wall_s"]
    )
