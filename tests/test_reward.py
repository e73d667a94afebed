import pytest

from codescaler import ScoringConfig, rank, reward

Q = "Write f(x) that returns x + 1."
GOOD = "```python\ndef f(x):\n    return x + 1\n```"
OTHER = "```python\ndef f(x):\n    return 1 + x\n```"
BROKEN = "```python\ndef f(x)\n    return x + 1\n```"
TWO = GOOD + "\n" + OTHER


def test_invalid_answers_get_no_score_and_are_never_scored(tiny_rm, monkeypatch):
    scored_codes = []
    original = tiny_rm.score_pairs

    def spy(questions, codes, **kwargs):
        scored_codes.extend(codes)
        return original(questions, codes, **kwargs)

    monkeypatch.setattr(tiny_rm, "score_pairs", spy)
    results = reward(tiny_rm, [Q] * 4, [GOOD, BROKEN, TWO, "no code"], show_progress=False)
    assert [r.valid for r in results] == [True, False, False, False]
    assert [r.reason for r in results] == [None, "syntax_error: 1", "multiple_blocks", "no_block"]
    assert results[0].score is not None and results[0].reward > 0
    assert all(r.score is None and r.reward == 0.0 for r in results[1:])
    assert scored_codes == ["def f(x):\n    return x + 1"]


def test_reward_is_softplus_of_the_score(tiny_rm):
    import math

    (result,) = reward(tiny_rm, [Q], [GOOD], show_progress=False)
    assert result.reward == pytest.approx(math.log1p(math.exp(result.score)))
    (raw,) = reward(tiny_rm, [Q], [GOOD], config=ScoringConfig(shaping="raw"), show_progress=False)
    assert raw.reward == pytest.approx(result.score)


def test_lenient_mode_rescues_multiple_blocks(tiny_rm):
    (result,) = reward(tiny_rm, [Q], [TWO], config=ScoringConfig(mode="lenient"), show_progress=False)
    assert result.valid and result.code == "def f(x):\n    return 1 + x"


def test_code_prefix_completion_is_taken_bare(tiny_rm):
    prefix = "def f(x):\n"
    ranked = rank(tiny_rm, Q, ["    return x + 1\n", "    return x +\n", "    return 2 * x\n"], code_prefix=prefix)
    by_index = dict(ranked)
    assert by_index[0].code == "def f(x):\n    return x + 1"
    assert not by_index[1].valid and by_index[1].reason == "syntax_error: 2"
    assert ranked[-1][0] == 1  # the invalid one ranks last


def test_rank_orders_by_reward_best_first(tiny_rm):
    responses = [GOOD, BROKEN, OTHER, "```python\ndef f(x):\n    return x - 1\n```"]
    ranked = rank(tiny_rm, Q, responses)
    rewards = [r.reward for _, r in ranked]
    assert rewards == sorted(rewards, reverse=True)
    assert sorted(i for i, _ in ranked) == [0, 1, 2, 3]
    assert ranked[-1][0] == 1


def test_length_mismatch_is_an_error(tiny_rm):
    with pytest.raises(ValueError, match="2 questions but 1 responses"):
        reward(tiny_rm, [Q, Q], [GOOD])


def test_names_check_gives_an_undefined_name_the_invalid_reward(tiny_rm):
    uses_math = "```python\ndef f(x):\n    return math.floor(x) + 1\n```"
    plain, named = (
        reward(tiny_rm, [Q] * 2, [GOOD, uses_math], config=ScoringConfig(check=c), show_progress=False)
        for c in ("syntax", "names")
    )
    assert [r.valid for r in plain] == [True, True]
    assert [r.valid for r in named] == [True, False] and named[1].reward == 0.0
    assert named[1].reason == "undefined_name: 2 math" and named[1].score is None
    assert named[0].reward == pytest.approx(plain[0].reward)


def test_config_refuses_unknown_settings_when_made():
    with pytest.raises(ValueError, match="shaping must be one of softplus, sigmoid, raw, got 'tanh'"):
        ScoringConfig(shaping="tanh")
    with pytest.raises(ValueError, match="batch_size and max_batch_tokens must be positive"):
        ScoringConfig(batch_size=0)
