"""Loaders from the public code benchmarks into one problem record schema.

A record is ``{"id", "question", "language", "tests", "entry_point"?, "code_prefix"?, "prelude"?,
"reference"?, "responses"?, "labels"?, "generated_tests"?, "source"}``; the program under test is
``prelude + code_prefix + code``. Tests are described in :mod:`codescaler.execution.verify`.

Every HumanEval-derived set is marked ``"split": "eval"``: it never enters RM training.
Loaders register by name (:mod:`~codescaler.benchmarks.registry`); importing this package registers
them all. Data is read from ``$CODESCALER_DATA`` or the nearest ``shared/data`` above the working directory.
"""

from codescaler.benchmarks import contests, multilingual, python_sets  # noqa: F401  (each registers its loaders)
from codescaler.benchmarks.export import to_verl
from codescaler.benchmarks.multilingual import HUMANEVALPACK_LANGUAGES, MULTIPLE_LANGUAGES
from codescaler.benchmarks.prompts import ANSWER_FORMAT, eval_messages, eval_prompt, training_prompt
from codescaler.benchmarks.registry import Record, data_dir, load, names

__all__ = [
    "ANSWER_FORMAT",
    "HUMANEVALPACK_LANGUAGES",
    "MULTIPLE_LANGUAGES",
    "Record",
    "data_dir",
    "eval_messages",
    "eval_prompt",
    "load",
    "names",
    "to_verl",
    "training_prompt",
]
