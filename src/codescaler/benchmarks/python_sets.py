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
from codescaler.records.tagged_json import to_json


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
    """EvalPlus sets: call tests on base + plus inputs, as EvalPlus 0.3.1 reads and judges them (its MBPP+ inputs
    rebuilt into tuples and sets, its special oracles); expected values come from the reference. ``split`` None:
    MBPP's own split of each task id."""
    records = []
    for p in read_jsonl(root / "evalplus" / file):
        reference = p["canonical_solution"] if name == "mbppplus" else p["prompt"] + p["canonical_solution"]
        number = int(p["task_id"].split("/")[1])
        oracle = _MBPP_ORACLES.get(p["entry_point"]) if name == "mbppplus" else _HUMANEVAL_ORACLES.get(number)
        inputs = p["base_input"] + list(p["plus_input"] or [])  # Mbpp/793 has {} for none
        tests = [
            {"type": "call", "fn": p["entry_point"], "args": to_json(list(args)), "atol": float(p.get("atol") or 0.0)}
            | ({"oracle": oracle} if oracle else {})
            for args in (mbpp_plus_inputs(number, inputs) if name == "mbppplus" else inputs)
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
                "protocol": "evalplus",
                "split": split or mbpp_split(number),
                "source": name,
            }
        )
    return _with_expected(records, cache_key=f"{name}-{EXPORT_VERSION}-{(root / 'evalplus' / file).stat().st_size}")


EXPORT_VERSION = 2  # bumped when the tests an EvalPlus set exports change: cached expected values are for old ones

# EvalPlus 0.3.1's special oracles (evalplus/eval/_special_oracle.py and unsafe_execute), keyed as it keys them: MBPP+
# by entry point, HumanEval+ by task.
_MBPP_ORACLES = {
    **dict.fromkeys(
        "similar_elements find_char_long common_in_nested_lists extract_singly larg_nnum intersection_array "
        "find_dissimilar Diff".split(),
        "set",
    ),
    **dict.fromkeys("check_str text_match_three text_starta_endb".split(), "not_none"),
    "are_equivalent": "any",
    "sum_div": "sum_div",
    "surface_Area": "surface_area",
    "digit_distance_nums": "digit_distance",
}
_HUMANEVAL_ORACLES = {32: "poly_root"}


def _tuples_all_the_way(value: Any) -> Any:
    return tuple(_tuples_all_the_way(v) for v in value) if isinstance(value, list) else value


def _each_tuple(values: list) -> list:
    return [tuple(v) for v in values]


# How EvalPlus 0.3.1 rebuilds MBPP+'s inputs from JSON (evalplus/data/mbpp.py, mbpp_deserialize_inputs): the
# argument lists of these tasks, by MBPP task number.
_MBPP_INPUTS: dict[int, Any] = {
    **dict.fromkeys(
        (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809),
        _each_tuple,
    ),
    **dict.fromkeys(
        (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780),
        lambda args: [_each_tuple(a) for a in args],
    ),
    **dict.fromkeys((75, 413, 444, 753), lambda args: [_each_tuple(args[0]), args[1]]),
    **dict.fromkeys((106, 750), lambda args: [args[0], tuple(args[1])]),
    115: lambda args: [[set(item) if isinstance(item, list) and item else {} for item in args[0]]],
    124: lambda args: (float(args[0]), complex(args[1])),
    **dict.fromkeys((250, 405, 446, 617, 720, 763, 808), lambda args: [tuple(args[0]), *args[1:]]),
    **dict.fromkeys((259, 401, 445), lambda args: [tuple(_each_tuple(a)) for a in args]),
    278: lambda args: [tuple(tuple(v) if isinstance(v, list) else v for v in args[0])],
    307: lambda args: [tuple(args[0]), args[1], args[2]],
    722: lambda args: [{k: tuple(v) for k, v in args[0].items()}, *args[1:]],
    252: lambda args: [complex(args[0])],
    **dict.fromkeys((580, 615, 791), _tuples_all_the_way),
}


def mbpp_plus_inputs(number: int, inputs: list) -> list:
    """MBPP+ task ``number``'s inputs as EvalPlus passes them to a program: JSON lists made tuples, sets or complex
    numbers where the task's are."""
    rebuild = _MBPP_INPUTS.get(number)
    return [rebuild(args) for args in inputs] if rebuild else inputs


def _with_expected(records: list[Record], cache_key: str) -> list[Record]:
    """Fill each call test's ``expected`` by running the reference solution once, as EvalPlus computes its
    ground truth; cached on disk. A test on which the reference fails is dropped and counted in ``dropped_tests``."""
    from codescaler.execution.sandbox import Job, Limits, Sandbox
    from codescaler.execution.verify import sandbox_test

    path = cache_dir() / f"expected-{cache_key}.json"
    if path.exists():
        cached = json.loads(path.read_text())
    else:
        with Sandbox(limits=Limits(timeout=20)) as sandbox:
            jobs = (Job(r["reference"], [sandbox_test(t) for t in r["tests"]]) for r in records)
            cached = {r["id"]: outcomes for r, outcomes in zip(records, sandbox.run(jobs))}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached))
    for record in records:
        outcomes = cached[record["id"]]
        kept = [dict(t, expected=o["value"]) for t, o in zip(record["tests"], outcomes) if o["status"] == "returned"]
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
