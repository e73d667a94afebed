"""Loaders from the public code benchmarks into one problem record schema.

A record is ``{"id", "question", "language", "tests", "entry_point"?, "code_prefix"?, "prelude"?,
"reference"?, "responses"?, "labels"?, "generated_tests"?, "source"}``; the program under test is
``prelude + code_prefix + code``. Tests are described in :mod:`codescaler.verify`.

Every HumanEval-derived set is marked ``"split": "eval"``: it never enters RM training.
Data is read from ``$CODESCALER_DATA`` or the nearest ``shared/data`` above the working directory.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codescaler.sandbox import cache_dir
from codescaler.tagged_json import tag_tuple

Record = dict[str, Any]
_LOADERS: dict[str, Callable[[Path, str], list[Record]]] = {}
MULTIPLE_LANGUAGES = {"python": "python", "java": "java", "cpp": "cpp", "js": "javascript"}
HUMANEVALPACK_LANGUAGES = {
    "python": "python",
    "js": "javascript",
    "java": "java",
    "go": "go",
    "cpp": "cpp",
    "rust": "rust",
}


def data_dir() -> Path:
    if "CODESCALER_DATA" in os.environ:
        return Path(os.environ["CODESCALER_DATA"])
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    raise FileNotFoundError("no shared/data above the working directory; set CODESCALER_DATA")


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def loader(*names: str):
    def register(fn):
        for name in names:
            if name in _LOADERS:
                raise ValueError(f"dataset {name!r} registered twice")
            _LOADERS[name] = fn
        return fn

    return register


def names() -> list[str]:
    return sorted(_LOADERS)


def load(name: str, root: str | Path | None = None) -> list[Record]:
    """Problem records of dataset ``name`` (see :func:`names`)."""
    if name not in _LOADERS:
        import difflib

        close = difflib.get_close_matches(name, names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names())}"
        raise KeyError(f"unknown dataset {name!r}{hint}")
    return _LOADERS[name](Path(root) if root else data_dir(), name)


def _check_test(test_code: str, entry_point: str) -> list[Record]:
    return [{"type": "assert", "code": f"{test_code}\ncheck({entry_point})\n"}]


@loader("humaneval")
def _humaneval(root: Path, name: str) -> list[Record]:
    return [
        {
            "id": p["task_id"],
            "question": p["prompt"],
            "language": "python",
            "entry_point": p["entry_point"],
            "tests": _check_test(p["test"], p["entry_point"]),
            "reference": p["prompt"] + p["canonical_solution"],
            "split": "eval",
            "source": name,
        }
        for p in _jsonl(root / "humaneval" / "HumanEval.jsonl.gz")
    ]


def _plus(root: Path, name: str, file: str, split: str) -> list[Record]:
    """EvalPlus sets: call tests on base + plus inputs; expected values come from the reference."""
    records = []
    for p in _jsonl(root / "evalplus" / file):
        reference = p["canonical_solution"] if name == "mbppplus" else p["prompt"] + p["canonical_solution"]
        tests = [
            {"type": "call", "fn": p["entry_point"], "args": args, "atol": float(p.get("atol") or 0.0)}
            for args in p["base_input"] + list(p["plus_input"] or [])  # Mbpp/793 has {} for none
        ]
        records.append(
            {
                "id": p["task_id"],
                "question": p["prompt"],
                "language": "python",
                "entry_point": p["entry_point"],
                "tests": tests,
                "reference": reference,
                "split": split,
                "source": name,
            }
        )
    return _with_expected(records, cache_key=f"{name}-{(root / 'evalplus' / file).stat().st_size}")


def _tuples(value: Any, deep: bool) -> Any:
    """JSON has no tuples: a tagged form for the sandbox, top level or all the way down."""
    if isinstance(value, list):
        inner = [_tuples(v, deep) for v in value] if deep else value
        return tag_tuple(inner)
    return value


_ARG_FORMS = {
    "lists": lambda args: args,
    "tuples": lambda args: [_tuples(a, deep=False) for a in args],
    "nested tuples": lambda args: [_tuples(a, deep=True) for a in args],
}


def _with_expected(records: list[Record], cache_key: str) -> list[Record]:
    """Fill each call test's ``expected`` by running the reference solution, once; cached on disk.

    EvalPlus stores tuple arguments as JSON lists; where the reference fails on lists, the argument
    form (tuples at the top level, or all the way down) under which it runs is used instead. A test
    on which the reference still fails is dropped and counted in ``dropped_tests``.
    """
    from codescaler.sandbox import Job, Limits, Sandbox
    from codescaler.verify import sandbox_test

    path = cache_dir() / f"expected-{cache_key}.json"
    if path.exists():
        cached = json.loads(path.read_text())
    else:
        cached = {}
        with Sandbox(limits=Limits(timeout=20)) as sandbox:
            for form, convert in _ARG_FORMS.items():
                todo = [r for r in records if r["id"] not in cached or cached[r["id"]]["failures"]]
                jobs = (
                    Job(r["reference"], [sandbox_test(dict(t, args=convert(t["args"]))) for t in r["tests"]])
                    for r in todo
                )
                for record, outcomes in zip(todo, sandbox.run(jobs)):
                    failures = sum(o["status"] != "returned" for o in outcomes)
                    if record["id"] not in cached or failures < cached[record["id"]]["failures"]:
                        cached[record["id"]] = {"form": form, "outcomes": outcomes, "failures": failures}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached))
    for record in records:
        entry = cached[record["id"]]
        convert = _ARG_FORMS[entry["form"]]
        kept = [
            dict(t, args=convert(t["args"]), expected=o["value"])
            for t, o in zip(record["tests"], entry["outcomes"])
            if o["status"] == "returned"
        ]
        record["dropped_tests"] = len(record["tests"]) - len(kept)
        record["tests"] = kept
    return records


@loader("humanevalplus")
def _humanevalplus(root: Path, name: str) -> list[Record]:
    return _plus(root, name, "HumanEvalPlus-v0.1.10.jsonl.gz", "eval")


@loader("mbppplus")
def _mbppplus(root: Path, name: str) -> list[Record]:
    return _plus(root, name, "MbppPlus-v0.2.0.jsonl.gz", "train")


@loader("mbpp")
def _mbpp(root: Path, name: str) -> list[Record]:
    records = []
    for p in _jsonl(root / "mbpp" / "mbpp.jsonl"):
        tests = [t.replace("\r\n", "\n") for t in p["test_list"]]
        # MBPP's setup code builds test inputs from the solution's own classes: it runs after the program.
        setup = p["test_setup_code"].replace("\r\n", "\n")
        records.append(
            {
                "id": f"mbpp/{p['task_id']}",
                "question": p["text"] + "\nYour code should pass these tests:\n" + "\n".join(tests),
                "language": "python",
                "tests": [{"type": "assert", "code": f"{setup}\n{t}" if setup else t} for t in tests],
                "reference": p["code"].replace("\r\n", "\n"),
                "split": "train",
                "source": name,
            }
        )
    return records


@loader("mbpp-codet")
def _mbpp_codet(root: Path, name: str) -> list[Record]:
    """MBPP (sanitized) rewritten by CodeT in HumanEval's style: a signature and docstring to complete.

    The question and the program have the shape of a HumanEval best-of-N pool (the prompt; answers are
    completions of it), so training on it matches that evaluation's format without touching its problems. Ids are
    MBPP's (``mbpp/2``) so the problem-level split puts a task on the same side in every rendering.
    Bodies come indented by 1, 2, 4 spaces or tabs under a 4-space docstring; they are re-indented to 4.
    The 13 references whose helpers sit outside the prompted function stay unparsed: those records keep
    no reference (samples can still be drawn for them).
    """
    records = []
    for p in _jsonl(root / "codet" / "mbpp_sanitized_for_code_generation.jsonl"):
        body = textwrap.indent(textwrap.dedent(p["canonical_solution"].expandtabs(4)), "    ")
        reference = p["prompt"] + body
        try:
            ast.parse(reference)
        except SyntaxError:
            reference = None
        records.append(
            {
                "id": "mbpp/" + p["task_id"].split("/")[1],
                "question": p["prompt"],
                "language": "python",
                "code_prefix": p["prompt"],
                "entry_point": p["entry_point"],
                "tests": _check_test(p["test"], p["entry_point"]),
                "reference": reference,
                "split": "train",
                "source": name,
            }
        )
    return records


@loader("leetcode-train", "leetcode-test")
def _leetcode(root: Path, name: str) -> list[Record]:
    part = name.split("-")[1]
    return [
        {
            "id": f"leetcode/{p['task_id']}",
            "question": p["query"],
            "language": "python",
            "prelude": p["prompt"],
            "entry_point": p["entry_point"],
            "tests": _check_test(p["test"], p["entry_point"]),
            "reference": p["completion"],
            "split": "train",
            "source": name,
        }
        for p in _jsonl(root / "leetcodedataset" / f"LeetCodeDataset-v0.2.0-{part}.jsonl.gz")
    ]


def _lcb_test(test: dict, starter: str) -> Record:
    if test["testtype"] == "stdin":
        return {"type": "stdio", "input": test["input"], "output": test["output"]}
    method = re.search(r"def (\w+)\(\s*self", starter) or re.search(r"def (\w+)\(", starter)
    if method is None:
        raise ValueError(f"starter code defines no function: {starter[:80]!r}")
    fn = f"Solution().{method.group(1)}" if "self" in method.group(0) else method.group(1)
    return {
        "type": "call",
        "fn": fn,
        "args": [json.loads(line) for line in test["input"].split("\n") if line.strip()],
        "expected": json.loads(test["output"]),
    }


@loader("lcb", "lcb-train")
def _lcb(root: Path, name: str) -> list[Record]:
    file = "train_livecodebench.json" if name == "lcb-train" else "test_livecodebench.json"
    with open(root / "deepcoder_rllm" / file) as f:
        problems = json.load(f)
    return [
        {
            "id": f"{name}/{i}",
            "question": p["problem"] + (f"\n\n{p['starter_code']}" if p["starter_code"] else ""),
            "language": "python",
            "prelude": "from typing import *\nfrom collections import *\nimport math, itertools, heapq, bisect",
            "tests": [_lcb_test(t, p["starter_code"]) for t in p["tests"]],
            "split": "train",
            "source": name,
        }
        for i, p in enumerate(problems)
    ]


@loader("codecontests", "codeforces")
def _stdio_sets(root: Path, name: str) -> list[Record]:
    file = {"codecontests": "test_code_contests.json", "codeforces": "test_codeforces.json"}[name]
    with open(root / "deepcoder_rllm" / file) as f:
        problems = json.load(f)
    records = []
    for i, p in enumerate(problems):
        pairs = (
            zip(p["tests"]["inputs"], p["tests"]["outputs"])
            if isinstance(p["tests"], dict)
            else ((t["input"], t["output"]) for t in p["tests"])
        )
        records.append(
            {
                "id": f"{name}/{i}",
                "question": p["problem"].strip(),
                "language": "python",
                "tests": [{"type": "stdio", "input": a, "output": b} for a, b in pairs],
                "split": "train",
                "source": name,
            }
        )
    return records


@loader("codet-humaneval")
def _codet_humaneval(root: Path, name: str) -> list[Record]:
    folder = root / "codet"
    pool = {kind: next(folder.glob(f"HumanEval_codegen16B_*{kind}.jsonl")) for kind in ("code_solution", "test_case")}
    samples = {p["prompt"]: p["samples"] for p in _jsonl(pool["code_solution"])}
    generated = {p["prompt"]: p["samples"] for p in _jsonl(pool["test_case"])}
    test_prompt = {p["task_id"]: p["prompt"] for p in _jsonl(folder / "HumanEval_for_test_case_generation.jsonl")}
    records = []
    for p in _jsonl(folder / "HumanEval_for_code_generation.jsonl"):
        records.append(
            {
                "id": p["task_id"],
                "question": p["prompt"],
                "language": "python",
                "code_prefix": p["prompt"],
                "entry_point": p["entry_point"],
                "tests": _check_test(p["test"], p["entry_point"]),
                "reference": p["prompt"] + p["canonical_solution"],
                "responses": samples[p["prompt"]],
                "generated_tests": _generated_asserts(generated.get(test_prompt.get(p["task_id"], ""), [])),
                "split": "eval",
                "source": name,
            }
        )
    return records


def _generated_asserts(samples: list[str]) -> list[str]:
    """CodeT's generated tests: each sample continues ``assert ``; keep the complete single-line asserts."""
    asserts: list[str] = []
    for sample in samples:
        for line in ("assert " + sample).split("\n"):
            line = line.strip()
            if line.startswith("assert ") and len(line) > 7 and line not in asserts:
                asserts.append(line)
    return asserts


@loader(*(f"multiple-{lang}" for lang in MULTIPLE_LANGUAGES))
def _multiple(root: Path, name: str) -> list[Record]:
    lang = name.split("-")[1]
    records = []
    for p in _jsonl(root / "multipl_e_davinci" / f"humaneval_{lang}_davinci002_t0.8.jsonl.gz"):
        records.append(
            {
                "id": p["task"],
                "question": p["prompt"],
                "language": MULTIPLE_LANGUAGES[lang],
                "code_prefix": p["prompt"],
                "tests": [{"type": "assert", "code": p["tests"]}],
                "responses": p["completions"],
                "labels": [s == "OK" for s in p["status"]],
                "split": "eval",
                "source": name,
            }
        )
    return records


_JS_ASSERT = "console.assert = (ok, ...m) => { if (!ok) { throw new Error('Assertion failed ' + m.join(' ')) } };"


@loader(*(f"humanevalpack-{lang}" for lang in HUMANEVALPACK_LANGUAGES))
def _humanevalpack(root: Path, name: str) -> list[Record]:
    lang = name.split("-")[1]
    records = []
    for p in _jsonl(root / "humanevalpack" / f"humanevalpack_{lang}.jsonl"):
        test = p["test"] + (f"\ncheck({p['entry_point']})\n" if lang == "python" else "")
        # HumanEvalPack's JS tests use console.assert, which only prints: make a failure fail. Go's tests
        # need their package clause and imports (testing, testify) ahead of the prompt's own; its harness
        # then adds the standard-library imports a program uses and drops unused ones (fix_imports).
        prelude = {"js": _JS_ASSERT, "go": p.get("test_setup")}.get(lang)
        records.append(
            {
                "id": p["task_id"],
                "question": p["instruction"],
                "language": HUMANEVALPACK_LANGUAGES[lang],
                "code_prefix": p["prompt"],
                "entry_point": p["entry_point"],
                "tests": [{"type": "assert", "code": test, **({"fix_imports": True} if lang == "go" else {})}],
                "reference": p["prompt"] + p["canonical_solution"],
                "responses": [p["canonical_solution"], p["buggy_solution"]],
                "labels": [True, False],
                "prelude": prelude,
                "bug_type": p["bug_type"],
                "split": "eval",
                "source": name,
            }
        )
    return records


# The instruction RL prompts end with: the strict extractor wants exactly one fenced block.
ANSWER_FORMAT = "\n\nWrite your solution as one complete program in a single ```{language} code block."


def to_verl(records: list[Record], name: str) -> list[Record]:
    """Rows of verl's RL dataset: chat ``prompt``, ``data_source``, tests as ``reward_model.ground_truth``."""
    rows = []
    for index, r in enumerate(records):
        truth = {k: r[k] for k in ("tests", "entry_point", "code_prefix", "prelude", "language") if r.get(k)}
        rows.append(
            {
                "data_source": f"codescaler/{name}",
                "prompt": [{"role": "user", "content": r["question"] + ANSWER_FORMAT.format(language=r["language"])}],
                "ability": "code",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(truth)},
                "extra_info": {"index": index, "id": r["id"], "question": r["question"], "split": r.get("split", "")},
            }
        )
    return rows
