"""Our verdicts against EvalPlus 0.3.1's own evaluator, side by side on the same real programs, and both timed.

Programs nobody here wrote: CodeGen-16B's samples from CodeT's HumanEval pool (the first ``--codet`` per problem),
code-davinci-002's from MultiPL-E's python pool (samples 0 to ``--multiple`` - 1); for MBPP+, every task's
reference, MBPP's own solution for it, and mutants of the reference (an operator or a constant changed, made by
``mutants``). Each program text goes to both harnesses unchanged: EvalPlus's ``evaluate`` (PyPI ``evalplus==0.3.1``
in ``.venv-evalplus``, pointed at ``../shared/data/evalplus`` by its override variables, its default limits,
``--parallel`` processes) and ``codescaler``'s ``verify_responses`` with its defaults on the ``humanevalplus`` and
``mbppplus`` sets (``--parallel`` sandbox workers, the sandbox's Python that very environment's). A program passes
in EvalPlus when its base and plus tests both pass. The ground truths of both (expected outputs, reference times)
are computed first and cached, untimed; the wall time is the judging's alone.

    .venv/bin/python bench/evalplus_agreement.py                 # both sets: bench/results/evalplus_agreement.json
    .venv/bin/python bench/evalplus_agreement.py --sets humaneval --codet 10 --multiple 0   # CodeT's 1,640 alone

Every disagreement is listed in the result with both harnesses' statuses and our detail.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CODESCALER_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "bench" / "results"
EVALPLUS_PYTHON = Path(os.environ.get("EVALPLUS_PYTHON", ROOT / ".venv-evalplus" / "bin" / "python"))
SETS = {
    "humaneval": ("humanevalplus", "HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus-v0.1.10.jsonl.gz"),
    "mbpp": ("mbppplus", "MBPP_OVERRIDE_PATH", "MbppPlus-v0.2.0.jsonl.gz"),
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def humaneval_programs(codet: int, multiple: int) -> list[tuple[str, str, str]]:
    """(task id, program, source) from CodeT's and MultiPL-E's HumanEval pools: each sample after its prompt."""
    programs = []
    folder = DATA / "codet"
    pool = next(folder.glob("HumanEval_codegen16B_*code_solution.jsonl"))
    samples = {p["prompt"]: p["samples"] for p in read_jsonl(pool)}
    for p in read_jsonl(folder / "HumanEval_for_code_generation.jsonl"):
        for i, sample in enumerate(samples[p["prompt"]][:codet]):
            programs.append((p["task_id"], p["prompt"] + sample, f"codet:{i}"))
    for p in read_jsonl(DATA / "multipl_e_davinci" / "humaneval_python_davinci002_t0.8.jsonl.gz"):
        task = "HumanEval/" + p["task"].split("_")[1]
        for i, completion in enumerate(p["completions"][:multiple]):
            cut = min((completion.find(s) for s in p["stop_tokens"] if s in completion), default=len(completion))
            programs.append((task, p["prompt"] + completion[:cut], f"multipl-e:{i}"))
    return programs


_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def mutants(program: str) -> list[str]:
    """Two deterministic mutants of ``program``: its first swappable operator changed (+/-, </<=, >/>=), and its
    first integer constant plus one; each kept only where it still parses and differs."""
    out = []
    for kind in ("operator", "constant"):
        tree = ast.parse(program)
        for node in ast.walk(tree):
            if kind == "operator" and isinstance(node, ast.BinOp | ast.Compare):
                ops = [node.op] if isinstance(node, ast.BinOp) else node.ops
                swap = next((i for i, op in enumerate(ops) if type(op) in _SWAPS), None)
                if swap is not None:
                    new = _SWAPS[type(ops[swap])]()
                    if isinstance(node, ast.BinOp):
                        node.op = new
                    else:
                        node.ops[swap] = new
                    break
            if kind == "constant" and isinstance(node, ast.Constant) and type(node.value) is int:
                node.value += 1
                break
        mutated = ast.unparse(tree)
        if mutated != ast.unparse(ast.parse(program)):
            out.append(mutated)
    return out


def mbpp_programs() -> list[tuple[str, str, str]]:
    """(task id, program, source) for MBPP+: the reference, MBPP's own solution, and mutants of the reference."""
    mbpp = {p["task_id"]: p["code"].replace("\r\n", "\n") for p in read_jsonl(DATA / "mbpp" / "mbpp.jsonl")}
    programs = []
    for p in read_jsonl(DATA / "evalplus" / SETS["mbpp"][2]):
        number = int(p["task_id"].split("/")[1])
        programs.append((p["task_id"], p["canonical_solution"], "reference"))
        if number in mbpp:
            programs.append((p["task_id"], mbpp[number], "mbpp"))
        programs += [(p["task_id"], m, f"mutant:{i}") for i, m in enumerate(mutants(p["canonical_solution"]))]
    return programs


_EVALPLUS_DRIVER = """
import json, sys, time
from evalplus.data import get_human_eval_plus, get_human_eval_plus_hash, get_mbpp_plus, get_mbpp_plus_hash
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
from evalplus.evaluate import evaluate, get_groundtruth
dataset, samples, parallel = sys.argv[1], sys.argv[2], int(sys.argv[3])
if dataset == "humaneval":
    get_groundtruth(get_human_eval_plus(), get_human_eval_plus_hash(), [])
else:
    get_groundtruth(get_mbpp_plus(), get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS)
start = time.perf_counter()
evaluate(dataset, samples=samples, parallel=parallel, i_just_wanna_run=True)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def run_evalplus(
    dataset: str, programs: list[tuple[str, str, str]], parallel: int, problems_file: Path | None = None
) -> tuple[list[dict[str, Any]], float]:
    """EvalPlus's verdict on each program (base and plus status, pass), in order, and its judging's wall seconds.
    ``problems_file``: a subset of the set's problems to evaluate over (EvalPlus wants a sample for each)."""
    _, variable, file = SETS[dataset]
    with tempfile.TemporaryDirectory() as folder:
        samples = Path(folder) / "samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": t, "solution": s}) + "\n" for t, s, _ in programs))
        env = dict(os.environ, **{variable: str(problems_file or DATA / "evalplus" / file)}, TQDM_DISABLE="1")
        done = subprocess.run(
            [str(EVALPLUS_PYTHON), "-c", _EVALPLUS_DRIVER, dataset, str(samples), str(parallel)],
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"evalplus failed: {done.stderr[-2000:]}")
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
        results = json.loads((Path(folder) / "samples_eval_results.json").read_text())["eval"]
    taken: dict[str, int] = {}
    verdicts = []
    for task, _, _ in programs:  # EvalPlus numbers each task's samples in file order
        row = results[task][taken.get(task, 0)]
        taken[task] = taken.get(task, 0) + 1
        base, plus = row["base_status"], row["plus_status"]
        verdicts.append({"base": base, "plus": plus, "passed": base == plus == "pass"})
    return verdicts, seconds


def run_ours(
    dataset: str, programs: list[tuple[str, str, str]], parallel: int, only: set[str] | None = None
) -> tuple[list[Any], float]:
    """Our verification of each program, in order, and the judging's wall seconds (expected outputs and the
    references' times computed first, untimed). The sandbox's Python is EvalPlus's environment's."""
    from codescaler.benchmarks import load
    from codescaler.execution.sandbox import Limits, Sandbox
    from codescaler.execution.verify import TimeLimit, verify_responses, with_time_limits

    problems = {p["id"]: p for p in load(SETS[dataset][0]) if only is None or p["id"] in only}
    by_task: dict[str, list[int]] = {}
    for i, (task, _, _) in enumerate(programs):
        by_task.setdefault(task, []).append(i)
    records = [
        problems[task] | {"code_prefix": "", "responses": [programs[i][1] for i in indices]}
        for task, indices in by_task.items()
    ]
    with Sandbox(workers=parallel, limits=Limits(python=str(EVALPLUS_PYTHON))) as sandbox:
        with_time_limits(records, sandbox, TimeLimit())  # the references' times, cached
        start = time.perf_counter()
        verified = list(verify_responses(records, sandbox))
        seconds = time.perf_counter() - start
    out: list[Any] = [None] * len(programs)
    for indices, verifications in zip(by_task.values(), verified):
        for i, v in zip(indices, verifications):
            out[i] = v
    return out, seconds


def compare(dataset: str, programs: list[tuple[str, str, str]], parallel: int) -> dict[str, Any]:
    theirs, their_seconds = run_evalplus(dataset, programs, parallel)
    ours, our_seconds = run_ours(dataset, programs, parallel)
    disagreements = [
        {
            "task": task,
            "source": source,
            "evalplus": f"base {t['base']}, plus {t['plus']}",
            "ours": o.status,
            "detail": o.detail,
        }
        for (task, _, source), t, o in zip(programs, theirs, ours)
        if t["passed"] != o.passed
    ]
    agree = len(programs) - len(disagreements)
    return {
        "set": SETS[dataset][0],
        "programs": len(programs),
        "agree": agree,
        "agreement": round(agree / len(programs), 6),
        "pass_rate_evalplus": round(sum(t["passed"] for t in theirs) / len(programs), 6),
        "pass_rate_ours": round(sum(o.passed for o in ours) / len(programs), 6),
        "seconds_evalplus": round(their_seconds, 2),
        "seconds_ours": round(our_seconds, 2),
        "time_ratio": round(our_seconds / their_seconds, 3),
        "disagreements": disagreements,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["humaneval", "mbpp"], choices=list(SETS))
    parser.add_argument("--codet", type=int, default=10, help="CodeT samples per HumanEval problem")
    parser.add_argument("--multiple", type=int, default=7, help="MultiPL-E python samples per problem")
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 1, help="processes on each side")
    parser.add_argument("--out", type=Path, default=RESULTS / "evalplus_agreement.json")
    args = parser.parse_args()
    if not EVALPLUS_PYTHON.exists():
        sys.exit(f"no {EVALPLUS_PYTHON}: make evalplus-env first")
    report: dict[str, Any] = {"evalplus": "0.3.1", "parallel": args.parallel, "sets": {}}
    for dataset in args.sets:
        if dataset == "humaneval":
            programs = humaneval_programs(args.codet, args.multiple)
            slices = {"codet": [p for p in programs if p[2].startswith("codet")]}
        else:
            programs, slices = mbpp_programs(), {}
        result = compare(dataset, programs, args.parallel)
        report["sets"][dataset] = result
        print(
            f"{result['set']}: {result['programs']} programs, agreement {100 * result['agreement']:.2f}% "
            f"({len(result['disagreements'])} apart); pass {100 * result['pass_rate_ours']:.1f}% ours, "
            f"{100 * result['pass_rate_evalplus']:.1f}% EvalPlus; {result['seconds_ours']:.0f} s ours vs "
            f"{result['seconds_evalplus']:.0f} s EvalPlus ({result['time_ratio']:.2f}x)"
        )
        for name, subset in slices.items():  # the 1,640 CodeT programs, timed apart, side by side
            if subset and len(subset) < len(programs):
                timed = compare(dataset, subset, args.parallel)
                timed.pop("disagreements")
                report["sets"][f"{dataset}-{name}"] = timed
                print(
                    f"  {name} alone: {timed['programs']} programs, {timed['seconds_ours']:.0f} s ours vs "
                    f"{timed['seconds_evalplus']:.0f} s EvalPlus ({timed['time_ratio']:.2f}x)"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
