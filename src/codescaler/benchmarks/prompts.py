"""What a policy is asked: the RL training prompt, and the paper's evaluation prompt (LiveCodeBench's).

Training (:func:`training_prompt`): the question, its starter code, and an instruction to answer in one
fenced block, which the strict extractor needs. Evaluation (:func:`eval_messages`): LiveCodeBench's system
text and user prompt, as the CodeScaler paper evaluates every benchmark: the question, then the starter code,
or ``# YOUR CODE HERE`` with the stdin/stdout instruction where there is none, in a python fence, then the
``### Answer`` line. Answers to it are read by the last fenced block, unparsed (extraction mode ``last``).
"""

from __future__ import annotations

from typing import Any

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


def training_prompt(record: dict[str, Any]) -> str:
    """The RL prompt: question, starter code in a fence when there is one, the one-block instruction."""
    starter = record.get("starter_code")
    language = record.get("language", "python")
    shown = f"\n\n```{language}\n{starter.rstrip()}\n```" if starter else ""
    return record["question"] + shown + ANSWER_FORMAT.format(language=language)


def eval_prompt(record: dict[str, Any]) -> str:
    """LiveCodeBench's user prompt for ``record``."""
    starter = record.get("starter_code")
    if starter:
        form = f"### Format: {LCB_WITH_STARTER}\n```python\n{starter.rstrip()}\n```\n\n"
    else:
        form = f"### Format: {LCB_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return f"### Question:\n{record['question']}\n\n{form}{LCB_ANSWER}"


def eval_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """The chat an evaluated policy gets: LiveCodeBench's system text, then :func:`eval_prompt`."""
    return [{"role": "system", "content": LCB_SYSTEM}, {"role": "user", "content": eval_prompt(record)}]
