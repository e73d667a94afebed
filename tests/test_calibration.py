import json
import math
import random

import pytest

from codescaler import reward
from codescaler.cli import main
from codescaler.judges.calibration import Calibration, brier_score, expected_calibration_error, fit_platt
from codescaler.judges.weights import read_calibration


def test_platt_recovers_the_curve_it_was_drawn_from():
    rng = random.Random(0)
    scores = [rng.uniform(-4, 4) for _ in range(4000)]
    passed = [rng.random() < 1 / (1 + math.exp(-(1.5 * s - 0.5))) for s in scores]
    fit = fit_platt(scores, passed)
    assert fit.a == pytest.approx(1.5, abs=0.15) and fit.b == pytest.approx(-0.5, abs=0.15)
    probabilities = [fit.p_pass(s) for s in scores]
    assert expected_calibration_error(probabilities, passed) < 0.03
    assert brier_score(probabilities, passed) < brier_score([0.5] * len(passed), passed)


def test_platt_refuses_what_it_cannot_fit():
    with pytest.raises(ValueError, match="passing and failing"):
        fit_platt([1.0, 2.0], [True, True])
    with pytest.raises(ValueError, match="do not rank passing programs higher"):
        fit_platt([1.0, 2.0, 3.0, 4.0], [True, True, False, False])
    separable = fit_platt([0.0, 1.0, 2.0, 3.0], [False, False, True, True])  # smoothed targets: finite
    assert math.isfinite(separable.a) and separable.a > 0


def test_ece_of_a_perfect_and_a_confident_wrong_predictor():
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0
    assert expected_calibration_error([1.0, 1.0], [False, False]) == 1.0


def test_a_calibrated_judge_reports_p_pass_and_shapes_the_calibrated_logit(tiny_rm):
    question, good = "Write f.", "```python\ndef f(x):\n    return 2 * x\n```"
    (plain,) = reward(tiny_rm, [question], [good], show_progress=False)
    assert plain.p_pass is None
    tiny_rm.calibration = Calibration(a=2.0, b=-1.0)
    calibrated, invalid = reward(tiny_rm, [question] * 2, [good, "prose"], show_progress=False)
    logit = 2.0 * calibrated.score - 1.0
    assert calibrated.p_pass == pytest.approx(1 / (1 + math.exp(-logit)))
    assert calibrated.reward == pytest.approx(math.log1p(math.exp(logit)))
    assert invalid.p_pass == 0.0 and invalid.reward == 0.0


def verified_by_judge(judge, path, n=30):
    """A verified-candidates file whose labels follow ``judge``'s order, but for two, so the fit is not
    trivially separable."""
    question = "Write f."
    codes = [f"def f(x):\n    return {k} * x + {j}\n" for k in range(5) for j in range(6)][:n]
    scores = judge.score([question] * len(codes), codes, show_progress=False)
    ranked = sorted(range(len(codes)), key=scores.__getitem__)
    passed = [ranked.index(i) >= len(codes) // 2 for i in range(len(codes))]  # the top half passes...
    passed[ranked[0]], passed[ranked[-1]] = True, False  # ...but for two
    record = {"id": "f", "question": question, "responses": [f"```python\n{c}```" for c in codes], "passed": passed}
    path.write_text(json.dumps(record) + "\n")
    return path


def test_calibrate_cli_fits_saves_and_loads(tiny_model_dir, tmp_path, capsys):
    import shutil

    from codescaler import RewardModel

    model = tmp_path / "rm"
    shutil.copytree(tiny_model_dir, model)
    verified = verified_by_judge(RewardModel.from_pretrained(str(model)), tmp_path / "v.jsonl")
    assert main(["calibrate", str(verified), "--model", str(model), "--save", "--eval", str(verified)]) == 0
    saved = read_calibration(model)
    assert saved is not None and saved.a > 0 and "30 valid programs, 15 passing" in saved.fitted_on
    assert RewardModel.from_pretrained(str(model)).calibration == saved
    assert "ECE" in capsys.readouterr().out


def test_a_likelihood_judge_keeps_one_calibration_per_direction(tiny_policy, tmp_path):
    import shutil

    from codescaler.judges.likelihood import LikelihoodJudge

    lm = tmp_path / "lm"
    shutil.copytree(tiny_policy, lm)
    verified = verified_by_judge(LikelihoodJudge.from_pretrained(str(lm)), tmp_path / "v.jsonl", n=20)
    assert main(["calibrate", str(verified), "--judge", "coder", "--model", str(lm), "--save"]) == 0
    judge = LikelihoodJudge.from_pretrained(str(lm))
    assert judge.calibration is not None and judge.calibration.a > 0  # the coder's fit
    assert judge.in_direction("reviewer").calibration is None  # none fitted for the reviewer
    assert judge.in_direction("reviewer").in_direction("coder").calibration == judge.calibration
    assert read_calibration(lm) is None  # the LM's own (RM) calibration slot is untouched
