"""The composed reward: extract -> score -> shape, and the reward kinds RL trains on.

The RM never sees an invalid answer: its score is ``None`` and its reward is ``invalid_reward``.

Reward kinds (:func:`kind_rewards`), the one place that defines them; the TRL, verl and HTTP adapters
only map their arguments onto it:

* ``rm``: the CodeScaler reward, the shaped RM score of the extracted program;
* ``execution``: the paper's baseline, 1.0 when the program passes every test of its problem, else 0.0
  (``None`` where the problem has no tests);
* ``hybrid``: execution where the problem has tests, the RM where it has none. The scales differ (0/1
  against softplus scores), but GRPO normalises advantages within a group and a group shares its
  problem, so one group never mixes the two.
* ``budgeted``: execution on a budget. In each group (the samples of one problem) only ``budget_k``
  samples run (the judge's top, or the ones it is least sure of: :func:`codescaler.rewards.selective.budget_choice`)
  and get the execution reward; the others get the judge's P(pass) (:func:`codescaler.rewards.shaping.pass_probability`
  of its softplus reward), an estimate of the execution reward on the same 0..1 scale, so one group's
  rewards stay comparable. Samples whose problem has no tests all get the judge's P(pass).

When the sandbox cannot run a sample's tests (status ``infrastructure``: a worker died past its retries, a
toolchain or fixture is missing) there is no execution reward, and none is made up. ``on_infrastructure``
says what the caller wants instead: ``raise`` (the default) stops with :class:`InfrastructureError` naming
the problem; ``none`` gives ``None`` for ``execution`` (the caller decides: TRL sums a sample's rewards over
its reward functions skipping None, so pair it with another), the RM's reward for ``hybrid``, and the judge's
P(pass) for ``budgeted``, as if it had not been chosen to run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from codescaler.extraction.extract import Check, Mode, extract_program
from codescaler.records.languages import canonical_language
from codescaler.rewards.selective import BudgetRule, budget_choice
from codescaler.rewards.shaping import Shaping, pass_probability, shape_reward

if TYPE_CHECKING:
    from codescaler.execution.sandbox import Sandbox
    from codescaler.judges.base import Judge

RewardKind = Literal["rm", "execution", "hybrid", "budgeted"]
OnInfrastructure = Literal["raise", "none"]
REWARD_KINDS: tuple[str, ...] = ("rm", "execution", "hybrid", "budgeted")
T = TypeVar("T")
# (questions, responses, code prefixes or None) -> one shaped RM reward per response
RMFunction = Callable[[Sequence[str], Sequence[str], "Sequence[str | None] | None"], list[float]]


@dataclass
class ScoringConfig:
    """How answers become rewards. Defaults follow the CodeScaler paper and its released code."""

    mode: Mode = field(
        default="strict",
        metadata={"help": "extraction rule: strict (paper), lenient, or last (the last block, unparsed)"},
    )
    check: Check = field(
        default="syntax",
        metadata={"help": "syntax (paper): the code must parse; names: Python must also define every name it uses"},
    )
    shaping: Shaping = field(
        default="softplus", metadata={"help": "softplus (validity-preserving), sigmoid, or raw (ablation)"}
    )
    language: str = field(default="python", metadata={"help": "language the code must parse as"})
    invalid_reward: float = field(default=0.0, metadata={"help": "reward of an answer with no valid code"})
    batch_size: int | None = field(
        default=None, metadata={"help": "most pairs in one forward pass (8 on CPU, 64 on GPU)"}
    )
    max_batch_tokens: int = field(default=16384, metadata={"help": "most padded tokens in one forward pass"})

    def __post_init__(self) -> None:
        for name, allowed in (("mode", get_args(Mode)), ("check", get_args(Check)), ("shaping", get_args(Shaping))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        self.language = canonical_language(self.language)  # "Python" is python; "cobol" is refused by name
        if (self.batch_size is not None and self.batch_size < 1) or self.max_batch_tokens < 1:
            raise ValueError(
                f"batch_size and max_batch_tokens must be positive, got {self.batch_size}, {self.max_batch_tokens}"
            )


@dataclass(frozen=True)
class RewardResult:
    """One answer's reward, with what produced it. ``num_tokens``: what the judge read (0 when invalid)."""

    code: str
    valid: bool
    reason: str | None
    score: float | None
    reward: float
    truncated: bool
    num_tokens: int
    p_pass: float | None = None  # calibrated P(pass) where the judge carries a calibration; 0 when invalid

    def to_dict(self) -> dict[str, Any]:
        """The row ``score`` writes and ``serve`` answers."""
        return asdict(self)


def reward(
    model: Judge,
    questions: Sequence[str],
    responses: Sequence[str | bytes],
    *,
    code_prefixes: Sequence[str | None] | None = None,
    config: ScoringConfig | None = None,
    show_progress: bool = True,
) -> list[RewardResult]:
    """One :class:`RewardResult` per (question, response), in input order."""
    config = config or ScoringConfig()
    if len(questions) != len(responses):
        raise ValueError(f"got {len(questions)} questions but {len(responses)} responses")
    prefixes = code_prefixes if code_prefixes is not None else [None] * len(responses)
    if len(prefixes) != len(responses):
        raise ValueError(f"got {len(prefixes)} code_prefixes for {len(responses)} responses")
    programs = [extract_program(r, config.language, config.mode, p, config.check) for r, p in zip(responses, prefixes)]
    valid = [i for i, p in enumerate(programs) if p.valid]
    scored = model.score_pairs(
        [questions[i] for i in valid],
        [programs[i].code for i in valid],
        batch_size=config.batch_size,
        max_batch_tokens=config.max_batch_tokens,
        show_progress=show_progress,
    )
    by_index = dict(zip(valid, scored))
    # With a calibration the reward is softplus of the calibrated logit: same order, a size that means P(pass).
    calibration = model.calibration
    results = []
    for i, p in enumerate(programs):
        s = by_index.get(i)
        score = s.score if s is not None else None
        logit = calibration.logit(score) if calibration is not None and score is not None else score
        p_pass = None if calibration is None else (calibration.p_pass(score) if score is not None else 0.0)
        results.append(
            RewardResult(
                code=p.code,
                valid=p.valid,
                reason=p.reason,
                score=score,
                reward=shape_reward(logit, p.valid, config.shaping, config.invalid_reward),
                truncated=s.truncated if s is not None else False,
                num_tokens=s.num_tokens if s is not None else 0,
                p_pass=p_pass,
            )
        )
    return results


def ranking(rewards: Sequence[float]) -> list[int]:
    """Indices best first; ties keep input order."""
    return sorted(range(len(rewards)), key=lambda i: -rewards[i])


def rank(
    model: Judge,
    question: str,
    responses: Sequence[str],
    *,
    code_prefix: str | None = None,
    config: ScoringConfig | None = None,
    show_progress: bool = False,
) -> list[tuple[int, RewardResult]]:
    """The candidates of one problem, best first, as ``(input index, result)``."""
    results = reward(
        model,
        [question] * len(responses),
        responses,
        code_prefixes=[code_prefix] * len(responses),
        config=config,
        show_progress=show_progress,
    )
    return [(i, results[i]) for i in ranking([r.reward for r in results])]


def model_rewards(model: Judge, config: ScoringConfig | None = None) -> RMFunction:
    """The shaped rewards of a local model, as :func:`kind_rewards` takes them."""

    def rewards(
        questions: Sequence[str], responses: Sequence[str], code_prefixes: Sequence[str | None] | None = None
    ) -> list[float]:
        results = reward(model, questions, responses, code_prefixes=code_prefixes, config=config, show_progress=False)
        return [r.reward for r in results]

    return rewards


def execution_rewards(
    problems: Sequence[Mapping[str, Any]],
    responses: Sequence[str],
    sandbox: Sandbox,
    *,
    mode: Mode = "strict",
    on_infrastructure: OnInfrastructure = "raise",
) -> list[float | None]:
    """Per response: 1.0 when it passes every test of its problem, 0.0 when not, None when there are none, or
    when the sandbox could not run them and ``on_infrastructure`` is ``none`` (else ``InfrastructureError``)."""
    from codescaler.execution.verify import InfrastructureError, verify_responses

    which = [i for i, p in enumerate(problems) if p.get("tests")]
    runs = [{**problems[i], "responses": [responses[i]]} for i in which]
    out: list[float | None] = [None] * len(responses)
    for i, (verdict,) in zip(which, verify_responses(runs, sandbox, mode=mode)):
        if not verdict.infrastructure:
            out[i] = 1.0 if verdict.passed else 0.0
        elif on_infrastructure == "raise":
            where = f"problem {problems[i].get('id', i)!r}"
            raise InfrastructureError(f"{where}: the sandbox could not run the tests: {verdict.detail}")
    return out


def _judge(rm: RMFunction, problems: Sequence[Mapping[str, Any]], responses: Sequence[str]) -> list[float]:
    prefixes = [p.get("code_prefix") for p in problems]
    return rm([p["question"] for p in problems], responses, prefixes if any(x is not None for x in prefixes) else None)


def group_key(problem: Mapping[str, Any]) -> str:
    """Which GRPO group a sample belongs to: the samples of one problem share question, prefix and tests."""
    return json.dumps([problem.get(k) for k in ("question", "code_prefix", "tests")], default=str)


def budgeted_rewards(
    problems: Sequence[Mapping[str, Any]],
    responses: Sequence[str],
    *,
    rm: RMFunction,
    sandbox: Sandbox,
    budget_k: int = 2,
    budget_rule: BudgetRule = "top",
    mode: Mode = "strict",
    on_infrastructure: OnInfrastructure = "raise",
) -> tuple[list[float], list[bool]]:
    """The ``budgeted`` reward per response, and whether it was executed (see the module's docstring)."""
    estimates = [pass_probability(r) for r in _judge(rm, problems, responses)]
    testable = [i for i, p in enumerate(problems) if p.get("tests")]
    groups = [group_key(problems[i]) for i in testable]
    chosen = budget_choice([estimates[i] for i in testable], groups, budget_k, budget_rule)
    run = [i for i, c in zip(testable, chosen) if c]
    executed = [False] * len(responses)
    rewards = list(estimates)
    executions = execution_rewards(
        [problems[i] for i in run], [responses[i] for i in run], sandbox, mode=mode, on_infrastructure=on_infrastructure
    )
    for i, value in zip(run, executions):
        if value is not None:  # None: the sandbox could not run it, so the judge's estimate stands
            rewards[i], executed[i] = value, True
    return rewards, executed


def kind_rewards(
    kind: str,
    problems: Sequence[Mapping[str, Any]],
    responses: Sequence[str],
    *,
    rm: RMFunction | None = None,
    sandbox: Sandbox | None = None,
    mode: Mode = "strict",
    budget_k: int = 2,
    budget_rule: BudgetRule = "top",
    on_infrastructure: OnInfrastructure = "raise",
) -> list[float | None]:
    """One reward of ``kind`` per response to the problem beside it (``question``, ``tests``, ``entry_point``,
    ``code_prefix``, ``prelude``, ``language``, as in a problem record). None: execution with no tests.
    ``budget_k`` and ``budget_rule``: the ``budgeted`` kind's executions per group and which ones;
    ``on_infrastructure``: what a sample the sandbox could not run gets (see the module's docstring)."""
    if kind not in REWARD_KINDS:
        raise ValueError(f"reward kind must be one of {', '.join(REWARD_KINDS)}, got {kind!r}")
    if len(problems) != len(responses):
        raise ValueError(f"got {len(problems)} problems but {len(responses)} responses")
    if kind == "budgeted":
        rewards, _ = budgeted_rewards(
            problems,
            responses,
            rm=_required(rm, kind, "a reward model"),
            sandbox=_required(sandbox, kind, "a sandbox"),
            budget_k=budget_k,
            budget_rule=budget_rule,
            mode=mode,
            on_infrastructure=on_infrastructure,
        )
        return list(rewards)
    out: list[float | None] = [None] * len(responses)
    if kind != "rm":
        sandbox = _required(sandbox, kind, "a sandbox")
        out = execution_rewards(problems, responses, sandbox, mode=mode, on_infrastructure=on_infrastructure)
    judged = [i for i, r in enumerate(out) if r is None] if kind != "execution" else []
    if judged:
        scored = _judge(
            _required(rm, kind, "a reward model"), [problems[i] for i in judged], [responses[i] for i in judged]
        )
        for i, value in zip(judged, scored):
            out[i] = value
    return out


def _required(value: T | None, kind: str, what: str) -> T:
    if value is None:
        raise ValueError(f"reward kind {kind!r} needs {what}")
    return value
