"""The records codescaler reads and writes, written once as types, and the one check of an input record.

A *problem* is what the benchmark loaders (:mod:`codescaler.benchmarks`) produce and every batch job
reads; the program under test is ``prelude + code_prefix + code``. Its tests come in three kinds, judged
by :mod:`codescaler.execution.verify` (never by the sandbox, so a program never sees an expected answer):

* :class:`AssertTest`: code run after the program (HumanEval's ``check(entry_point)``, MBPP's asserts);
  passes when it runs to the end;
* :class:`CallTest`: a functional test; the sandbox returns ``fn(*args)`` and it is compared with
  ``expected`` within ``atol``; arguments and values are tagged JSON (:mod:`codescaler.records.tagged_json`);
* :class:`StdioTest`: ``input`` (or the file ``input_file``, streamed) on stdin, stdout compared with ``output``
  (or ``output_file``) by its ``checker``: token by token with numbers within ``rtol``/``atol`` (the default),
  line by line as LiveCodeBench's grader (``lcb``), as unordered lines or tokens, or by a checker program of the
  problem's own.

The output rows of ``score``, ``rank`` and ``verify`` and the preference :class:`Pair` are here too, so
every writer and reader agrees on them. :func:`check_record` validates an input record against any of
these types and names the line, the record's id and the field at fault.
"""

import types
from typing import Any, Literal, Union, get_args, get_origin

from typing_extensions import NotRequired, TypedDict, get_type_hints, is_typeddict

from codescaler.records.errors import RecordError
from codescaler.records.languages import LANGUAGES, canonical_language

__all__ = ["RecordError"]  # raised by check_record; long imported from here


class AssertTest(TypedDict):
    type: Literal["assert"]
    code: str
    entry_point: NotRequired[str | None]
    fix_imports: NotRequired[bool]  # Go: goimports first, as HumanEvalPack's harness fixes imports


# How a call's returned value is compared with the expected one (codescaler.execution.verify.call_matches):
# "equal" is EvalPlus's rule (Python's ==, then floats within atol), "strict" keeps types apart (0 is not False),
# "lcb" is LiveCodeBench's (a tuple read as a list, then ==).
Compare = Literal["equal", "strict", "lcb"]
# EvalPlus's special oracles, for the problems where a value is right without being equal to the reference's.
Oracle = Literal["set", "not_none", "any", "sum_div", "surface_area", "digit_distance", "poly_root"]


class CallTest(TypedDict):
    type: Literal["call"]
    fn: str
    args: list[Any]
    expected: NotRequired[Any]  # filled by the loader from the reference where the source has none
    atol: NotRequired[float]
    compare: NotRequired[Compare]  # default "equal"
    oracle: NotRequired[Oracle]


class CheckerProgram(TypedDict):
    """A special judge: reads on stdin one line of three byte counts, then the test's input, the expected output
    and the program's output, each exactly that long; exit status 0 accepts the output."""

    code: str
    language: NotRequired[str]


class StdioTest(TypedDict):
    type: Literal["stdio"]
    input: NotRequired[str]  # one of input or input_file
    output: NotRequired[str]  # one of output or output_file
    input_file: NotRequired[str]  # a fixture too big to carry inline (100 MB and more): streamed to stdin
    output_file: NotRequired[str]
    checker: NotRequired[Literal["tokens", "lcb", "lines_unordered", "tokens_unordered", "program"]]
    rtol: NotRequired[float]  # numeric tokens: relative tolerance (default 1e-6)
    atol: NotRequired[float]  # numeric tokens: absolute tolerance (default 1e-9)
    checker_program: NotRequired[CheckerProgram]  # checker "program"


# A test's verdict, and a response's: one closed set. ``infrastructure`` means the sandbox, not the program, failed
# (a worker died, a toolchain is missing, a fixture cannot be read): no reward, pair or report reads it as a failure.
Status = Literal[
    "passed", "wrong_answer", "runtime_error", "timeout", "memory_limit", "compile_error", "infrastructure"
]
STATUSES: tuple[Status, ...] = get_args(Status)


class Outcome(TypedDict):
    """What the sandbox saw of one test, before judging: ``status`` is a :data:`Status`, or for a test it could
    not judge alone ``returned`` (a call's ``value``), ``completed`` (a stdio run's ``stdout``) or ``output_limit``."""

    status: str
    detail: NotRequired[str | None]
    value: NotRequired[Any]
    stdout: NotRequired[str]
    stderr: NotRequired[str]
    exit_code: NotRequired[int]
    time: NotRequired[float]
    compile_time: NotRequired[float]
    files: NotRequired[dict[str, str]]  # a job's fetched files (base64), on its last outcome


# Fields of which a record has exactly one.
_ONE_OF: dict[Any, tuple[tuple[str, str], ...]] = {StdioTest: (("input", "input_file"), ("output", "output_file"))}

Test = Union[AssertTest, CallTest, StdioTest]  # noqa: UP007 - typing_extensions.get_type_hints reads it on 3.10


class Problem(TypedDict):
    """A problem record; ``responses`` and the verdict fields appear once answers are sampled and run."""

    id: NotRequired[str | int]
    question: str
    language: NotRequired[str]
    tests: NotRequired[list[Test]]
    entry_point: NotRequired[str | None]
    code_prefix: NotRequired[str | None]
    prelude: NotRequired[str | None]
    reference: NotRequired[str | None]
    starter_code: NotRequired[str | None]  # what a model is asked to complete (a signature); not run
    # The statement accepts several outputs and the data carries no checker for them: exact-match verdicts on
    # its stdio tests can reject a right answer (eval-policy reports such problems apart).
    several_answers: NotRequired[bool]
    time_limit: NotRequired[float]  # seconds per test, in place of the sandbox's timeout
    # The reference harness whose limits the problem is judged under by default (verify's --time-limit auto):
    # "evalplus", max(1 s, 4 x the reference's time) per test and min(60 s, their sum) + 1 s per program.
    protocol: NotRequired[Literal["evalplus"]]
    extraction: NotRequired[Literal["strict", "lenient", "last"]]  # how answers are read, over the job's own
    responses: NotRequired[list[str]]
    candidate_sources: NotRequired[list[str]]
    labels: NotRequired[list[bool]]  # a pool's own pass/fail per response, in place of running tests
    generated_tests: NotRequired[list[str]]  # model-written asserts (CodeT's input)
    split: NotRequired[str]  # "eval" marks HumanEval-derived data, which never enters training
    source: NotRequired[str]
    passed: NotRequired[list[bool | None]]
    pass_fraction: NotRequired[list[float | None]]
    status: NotRequired[list[Status]]
    reasons: NotRequired[list[str | None]]  # why no program could be read from a response, per response
    detail: NotRequired[list[str | None]]


class Answer(TypedDict):
    """One answer to score (``codescaler score``)."""

    id: NotRequired[str | int]
    question: str
    response: str
    code_prefix: NotRequired[str | None]


class Pair(TypedDict):
    """A preference pair: bare programs, the chosen passing every test, the rejected failing one or more."""

    question: str
    chosen: str
    rejected: str
    problem_id: NotRequired[str | int]
    source: NotRequired[str]
    chosen_pass: NotRequired[float]
    rejected_pass: NotRequired[float]
    split: NotRequired[str]
    language: NotRequired[str | None]


class ScoreRow(TypedDict):
    """``codescaler score``: one per input line (or ``line``, ``id`` and ``error``)."""

    line: int
    id: str | int | None
    code: str
    valid: bool
    reason: str | None
    score: float | None
    reward: float
    truncated: bool
    num_tokens: int
    p_pass: float | None  # calibrated P(pass), where the judge carries a calibration


class VerifiedRow(TypedDict):
    """``codescaler rank --verify-top K``: the candidates whose programs ran, in the judge's order, until one
    passed; ``pick`` is the one that passed, else the judge's top-1."""

    pick: int
    passed: bool
    run: list[int]
    verdicts: list[bool]


class RankRow(TypedDict):
    """``codescaler rank``: per problem, one entry per response, and ``order`` best first."""

    line: int
    id: str | int | None
    rewards: list[float]
    scores: list[float | None]
    p_pass: list[float | None]
    valid: list[bool]
    reasons: list[str | None]
    truncated: list[bool]
    order: list[int]
    codes: list[str]
    verified: NotRequired[VerifiedRow]
    not_run: NotRequired[str]  # under --verify-top, why nothing ran (the record has no tests)


class VerifyRow(TypedDict):
    """``codescaler verify``: per problem, one verdict per response in each field."""

    line: int
    id: str | int | None
    passed: list[bool | None]  # None: the sandbox could not run the tests (status "infrastructure"), no verdict
    pass_fraction: list[float | None]  # None where passed is None: no fraction of tests is known
    status: list[Status]  # "passed", else the first failing test's verdict
    reasons: list[str | None]  # why no program could be read: no_block, syntax_error: N ...; None where one ran
    detail: list[str | None]  # why, where the sandbox or the judge knows: exception, wrong value


class ErrorRow(TypedDict):
    line: int
    id: str | int | None
    error: str


VERDICT_FIELDS = ("passed", "pass_fraction", "status", "reasons", "detail")


def check_record(
    record: Any, kind: type, number: int, *, required: tuple[str, ...] = (), languages: tuple[str, ...] = LANGUAGES
) -> Any:
    """``record`` if it is a ``kind`` (a TypedDict above) with every field in ``required`` present; else a
    :class:`RecordError` naming line ``number``, the record's id and the first field at fault. A ``language``
    must be one of ``languages`` in any spelling (``"Python"``, ``"py"``); the record is given its canonical name."""
    if not isinstance(record, dict):
        raise RecordError(f"line {number}: expected a JSON object, got {type(record).__name__}")
    label = record_label(record, number)
    missing = next((k for k in required if k not in record), None)
    if missing is not None:
        raise RecordError(f"{label}: field {missing!r} must be {_name(get_type_hints(kind)[missing])}, got nothing")
    problem = _problem(record, kind, "")
    if problem is not None:
        raise RecordError(f"{label}: {problem}")
    if "time_limit" in record and not record["time_limit"] > 0:
        raise RecordError(f"{label}: field 'time_limit' must be positive seconds, got {record['time_limit']!r}")
    if record.get("language") is not None:
        try:
            record["language"] = canonical_language(record["language"], languages)
        except RecordError as err:
            raise RecordError(f"{label}: field 'language': {err}") from None
    return record


def record_label(record: dict, number: int) -> str:
    """How an error names a record: its line, and its id where it has one."""
    return f"line {number}" + (f" (id {record['id']!r})" if "id" in record else "")


def _problem(value: Any, hint: Any, path: str) -> str | None:
    """Why ``value`` is not a ``hint``, or None."""
    if hint is Any:
        return None
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return f"{_field(path)} must be an object, got {_got(value)}"
        hints = get_type_hints(hint)
        for key in sorted(hint.__required_keys__ - value.keys()):
            return f"field {_join(path, key)!r} must be {_name(hints[key])}, got nothing"
        for one, other in _ONE_OF.get(hint, ()):
            if (one in value) == (other in value):
                return f"{_field(path)} needs one of {one!r} or {other!r}"
        for key, sub in hints.items():
            if key in value and (why := _problem(value[key], sub, _join(path, key))):
                return why
        return None
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        tests = [a for a in args if is_typeddict(a) and "type" in get_type_hints(a)]
        if tests and isinstance(value, dict):  # a test: its "type" says which kind to check against
            kinds = {get_args(get_type_hints(a)["type"])[0]: a for a in tests}
            if value.get("type") not in kinds:
                return f"{_field(path)} needs type {', '.join(kinds)}, got {value.get('type')!r}"
            return _problem(value, kinds[value["type"]], path)
        if any(_problem(value, a, path) is None for a in args):
            return None
        return f"{_field(path)} must be {_name(hint)}, got {_got(value)}"
    if origin is Literal:
        return None if value in args else f"{_field(path)} must be one of {args}, got {value!r}"
    if origin is list:
        if not isinstance(value, list):
            return f"{_field(path)} must be list, got {_got(value)}"
        return next((w for i, v in enumerate(value) if (w := _problem(v, args[0], f"{path}[{i}]"))), None)
    ok = {
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        type(None): lambda v: v is None,
    }.get(hint, lambda v: isinstance(v, origin or hint))
    return None if ok(value) else f"{_field(path)} must be {_name(hint)}, got {_got(value)}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _field(path: str) -> str:
    return f"field {path!r}" if path else "the record"


def _got(value: Any) -> str:
    return type(value).__name__


def _name(hint: Any) -> str:
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_name(a) for a in get_args(hint))
    if get_origin(hint) is list:
        return "list"
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))
