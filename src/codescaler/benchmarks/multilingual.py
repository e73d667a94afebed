"""Problem sets in several languages: MultiPL-E's labelled pools and HumanEvalPack (canonical and buggy
solutions), both HumanEval-derived, so evaluation only."""

from __future__ import annotations

from pathlib import Path

from codescaler.benchmarks.registry import Record, loader, read_jsonl

MULTIPLE_LANGUAGES = {"python": "python", "java": "java", "cpp": "cpp", "js": "javascript"}


HUMANEVALPACK_LANGUAGES = {
    "python": "python",
    "js": "javascript",
    "java": "java",
    "go": "go",
    "cpp": "cpp",
    "rust": "rust",
}


@loader(*(f"multiple-{lang}" for lang in MULTIPLE_LANGUAGES), folder="multipl_e_davinci")
def _multiple(root: Path, name: str) -> list[Record]:
    lang = name.split("-")[1]
    records = []
    for p in read_jsonl(root / "multipl_e_davinci" / f"humaneval_{lang}_davinci002_t0.8.jsonl.gz"):
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


@loader(*(f"humanevalpack-{lang}" for lang in HUMANEVALPACK_LANGUAGES), folder="humanevalpack")
def _humanevalpack(root: Path, name: str) -> list[Record]:
    lang = name.split("-")[1]
    records = []
    for p in read_jsonl(root / "humanevalpack" / f"humanevalpack_{lang}.jsonl"):
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
