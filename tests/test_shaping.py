import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codescaler import shape_reward

any_float = st.floats(allow_nan=True, allow_infinity=True)
finite = st.floats(allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("shaping", ["softplus", "sigmoid"])
@given(valid_score=any_float, invalid_score=any_float)
def test_every_valid_answer_outranks_every_invalid_one(shaping, valid_score, invalid_score):
    assert shape_reward(valid_score, True, shaping) > shape_reward(invalid_score, False, shaping)


@pytest.mark.parametrize("shaping", ["softplus", "sigmoid", "raw"])
@given(a=finite, b=finite)
def test_order_among_valid_answers_follows_the_rm(shaping, a, b):
    ra, rb = shape_reward(a, True, shaping), shape_reward(b, True, shaping)
    if a < b:
        assert ra <= rb
    if a == b:
        assert ra == rb


@pytest.mark.parametrize("shaping", ["softplus", "sigmoid"])
@given(a=st.floats(-30, 30), b=st.floats(-30, 30))
def test_order_is_strict_where_floats_can_tell(shaping, a, b):
    if b - a > 1e-6:
        assert shape_reward(a, True, shaping) < shape_reward(b, True, shaping)


@pytest.mark.parametrize("shaping", ["softplus", "sigmoid", "raw"])
@given(score=any_float, valid=st.booleans())
def test_always_finite(shaping, score, valid):
    assert math.isfinite(shape_reward(score, valid, shaping))


@pytest.mark.parametrize("score", [1e6, -1e6, 0.0, 745.0, -745.0])
def test_extremes(score):
    value = shape_reward(score, True)
    assert 0 < value < math.inf
    if score == 1e6:
        assert value == pytest.approx(1e6)


def test_known_values():
    assert shape_reward(0.0, True) == pytest.approx(math.log(2))
    assert shape_reward(0.0, True, "sigmoid") == pytest.approx(0.5)
    assert shape_reward(-3.0, True, "raw") == -3.0
    assert shape_reward(5.0, False) == 0.0
    assert shape_reward(None, False, invalid_reward=-1.0) == -1.0


def test_nan_is_the_worst_valid_score():
    assert 0 < shape_reward(math.nan, True) <= shape_reward(-1e6, True)


def test_errors():
    with pytest.raises(ValueError, match="unknown shaping 'tanh'"):
        shape_reward(1.0, True, "tanh")
    with pytest.raises(ValueError, match="needs an RM score"):
        shape_reward(None, True)
