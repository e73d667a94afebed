"""Python problem sets: HumanEval, HumanEval+ and MBPP+ (expected values from running each reference once),
MBPP, CodeT's MBPP and HumanEval pools, LeetCode. Every HumanEval-derived set is marked ``"split": "eval"``."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from codescaler.benchmarks.prompts import signature
from codescaler.benchmarks.registry import Record, loader, read_jsonl
from codescaler.execution.toolchains import cache_dir
from codescaler.extraction.syntax import parse_python
from codescaler.records.tagged_json import tag_tuple


def _check_test(test_code: str, entry_point: str) -> list[Record]:
    return [{"type": "assert", "code": f"{test_code}\ncheck({entry_point})\n"}]


_LEETCODE_STARTER = re.compile(
    r"\s*Please complete the following python code precisely:\n```python\n(.*?)\n?```\s*$", re.S
)


def _statement_and_starter(query: str) -> dict[str, str]:
    """LeetCodeDataset's query is the statement, then its starter code in a fence: the two apart."""
    found = _LEETCODE_STARTER.search(query)
    if found is None:
        return {"question": query}
    return {"question": query[: found.start()].rstrip(), "starter_code": found.group(1)}


@loader("humaneval", folder="humaneval")
def _humaneval(root: Path, name: str) -> list[Record]:
    return [
        {
            "id": p["task_id"],
            "question": p["prompt"],
            "language": "python",
            "entry_point": p["entry_point"],
            "starter_code": p["prompt"],
            "tests": _check_test(p["test"], p["entry_point"]),
            "reference": p["prompt"] + p["canonical_solution"],
            "split": "eval",
            "source": name,
        }
        for p in read_jsonl(root / "humaneval" / "HumanEval.jsonl.gz")
    ]


def _plus(root: Path, name: str, file: str, split: str | None) -> list[Record]:
    """EvalPlus sets: call tests on base + plus inputs; expected values come from the reference. ``split`` None:
    MBPP's own split of each task id."""
    records = []
    for p in read_jsonl(root / "evalplus" / file):
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
                # HumanEval+ asks to complete its prompt; MBPP+ gets the reference's signature, which its tests call
                "starter_code": signature(reference, p["entry_point"]) if name == "mbppplus" else p["prompt"],
                "tests": tests,
                "reference": reference,
                "split": split or mbpp_split(int(p["task_id"].split("/")[1])),
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
    from codescaler.execution.sandbox import Job, Limits, Sandbox
    from codescaler.execution.verify import sandbox_test

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


@loader("humanevalplus", folder="evalplus")
def _humanevalplus(root: Path, name: str) -> list[Record]:
    return _plus(root, name, "HumanEvalPlus-v0.1.10.jsonl.gz", "eval")


@loader("mbppplus", folder="evalplus")
def _mbppplus(root: Path, name: str) -> list[Record]:
    return _plus(root, name, "MbppPlus-v0.2.0.jsonl.gz", None)


@loader("mbpp", folder="mbpp")
def _mbpp(root: Path, name: str) -> list[Record]:
    records = []
    for p in read_jsonl(root / "mbpp" / "mbpp.jsonl"):
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
                "split": mbpp_split(p["task_id"]),
                "source": name,
            }
        )
    return records


def mbpp_split(task_id: int) -> str:
    """MBPP's official split of its task ids: 1-10 few-shot prompts, 11-510 test, 511-600 validation, 601-974 train."""
    return "prompt" if task_id <= 10 else "test" if task_id <= 510 else "validation" if task_id <= 600 else "train"


@loader("mbpp-codet", folder="codet")
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
    for p in read_jsonl(root / "codet" / "mbpp_sanitized_for_code_generation.jsonl"):
        body = textwrap.indent(textwrap.dedent(p["canonical_solution"].expandtabs(4)), "    ")
        reference = p["prompt"] + body
        try:
            parse_python(reference)
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
                "split": mbpp_split(int(p["task_id"].split("/")[1])),
                "source": name,
            }
        )
    return records


@loader("leetcode-train", "leetcode-test", folder="leetcodedataset")
def _leetcode(root: Path, name: str) -> list[Record]:
    part = name.split("-")[1]
    return [
        {
            "id": f"leetcode/{p['task_id']}",
            **_statement_and_starter(p["query"]),
            "language": "python",
            "prelude": p["prompt"],
            "entry_point": p["entry_point"],
            "tests": _check_test(p["test"], p["entry_point"]),
            "reference": p["completion"],
            "split": part,
            "source": name,
        }
        for p in read_jsonl(root / "leetcodedataset" / f"LeetCodeDataset-v0.2.0-{part}.jsonl.gz")
    ]


@loader("codet-humaneval", folder="codet")
def _codet_humaneval(root: Path, name: str) -> list[Record]:
    folder = root / "codet"
    pool = {kind: next(folder.glob(f"HumanEval_codegen16B_*{kind}.jsonl")) for kind in ("code_solution", "test_case")}
    samples = {p["prompt"]: p["samples"] for p in read_jsonl(pool["code_solution"])}
    generated = {p["prompt"]: p["samples"] for p in read_jsonl(pool["test_case"])}
    test_prompt = {p["task_id"]: p["prompt"] for p in read_jsonl(folder / "HumanEval_for_test_case_generation.jsonl")}
    records = []
    for p in read_jsonl(folder / "HumanEval_for_code_generation.jsonl"):
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
