"""What a policy is asked: the RL training prompt, and the paper's evaluation prompt (LiveCodeBench's).

Training (:func:`training_prompt`): the question, its starter code, and an instruction to answer in one
fenced block, which the strict extractor needs. Evaluation (:func:`eval_messages`): LiveCodeBench's system
text and user prompt, as the CodeScaler paper evaluates every benchmark: the question, then the starter code,
or ``# YOUR CODE HERE`` with the stdin/stdout instruction where there is none, in a python fence, then the
``### Answer`` line. Answers to it are read by the last fenced block, unparsed (extraction mode ``last``).
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

from codescaler.extraction.syntax import parse_python

# The instruction RL prompts end with: the strict extractor wants exactly one fenced block.
ANSWER_FORMAT = "\n\nWrite your solution as one complete program in a single ```{language} code block."

LCB_SYSTEM = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)
LCB_WITH_STARTER = (
    "You will use the following starter code to write the solution to the problem and enclose your code "
    "within delimiters."
)
LCB_WITHOUT_STARTER = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
    "sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, "
    "it reads the inputs, runs the algorithm and writes output to STDOUT."
)
LCB_ANSWER = "### Answer: (use the provided format with backticks)\n\n"


def signature(source: str, name: str) -> str | None:
    """The ``def`` line(s) of function ``name`` in ``source``, with an indented body to write: what a model
    is asked to complete where a problem names its function only in its tests."""
    try:
        tree = parse_python(source)
    except SyntaxError:
        return None
    found = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if found is None:
        return None
    lines = source.splitlines()
    return "\n".join(lines[found.lineno - 1 : found.body[0].lineno - 1]).rstrip() + "\n    "


def _called_function(tests: list[dict[str, Any]]) -> tuple[str, int] | None:
    """The function the tests call and how many arguments they pass it: a call test's ``fn``, or the first call
    of a name that is not a builtin in an assert test (``assert remove_Occ("hello", "l") == "heo"``)."""
    for test in tests:
        if test["type"] == "call":
            return (test["fn"], len(test["args"])) if test["fn"].isidentifier() else None
        try:
            tree = parse_python(test["code"])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not hasattr(builtins, node.func.id):
                return node.func.id, len(node.args) + len(node.keywords)
    return None


def starter_code(record: dict[str, Any]) -> str | None:
    """What an answer starts from: the record's ``starter_code``; for a problem whose tests call a function and
    that has none (MBPP), that function's signature, from its reference where it has one, else from its tests.
    Never the stdin instruction for such a problem: its tests would contradict it."""
    if record.get("starter_code"):
        return record["starter_code"]
    tests = record.get("tests") or []
    if not tests or any(t["type"] == "stdio" for t in tests):
        return None
    called = _called_function(tests)
    name = record.get("entry_point") or (called[0] if called else None)
    if not name or not name.isidentifier():
        return None
    found = signature(record["reference"], name) if record.get("reference") else None
    arity = called[1] if called and called[0] == name else 0
    return found or f"def {name}({', '.join(f'arg{i}' for i in range(1, arity + 1))}):\n    "


def training_prompt(record: dict[str, Any]) -> str:
    """The RL prompt: question, starter code in a fence when there is one, the one-block instruction."""
    starter = starter_code(record)
    language = record.get("language", "python")
    shown = f"\n\n```{language}\n{starter.rstrip()}\n```" if starter else ""
    return record["question"] + shown + ANSWER_FORMAT.format(language=language)


def eval_prompt(record: dict[str, Any]) -> str:
    """LiveCodeBench's user prompt for ``record``."""
    starter = starter_code(record)
    if starter:
        form = f"### Format: {LCB_WITH_STARTER}\n```python\n{starter.rstrip()}\n```\n\n"
    else:
        form = f"### Format: {LCB_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return f"### Question:\n{record['question']}\n\n{form}{LCB_ANSWER}"


def eval_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """The chat an evaluated policy gets: LiveCodeBench's system text, then :func:`eval_prompt`."""
    return [{"role": "system", "content": LCB_SYSTEM}, {"role": "user", "content": eval_prompt(record)}]
