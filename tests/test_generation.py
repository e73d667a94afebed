import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from codescaler.cli import main
from codescaler.training.generation import SampleConfig, TransformersSampler, make_sampler

GREEDY = SampleConfig(n=1, temperature=0.0, max_new_tokens=24)


@pytest.fixture(scope="module")
def sampler(tiny_policy) -> TransformersSampler:
    return TransformersSampler(
        AutoModelForCausalLM.from_pretrained(tiny_policy), AutoTokenizer.from_pretrained(tiny_policy)
    )


def test_the_callers_tokenizer_is_left_as_it_was(tiny_policy):
    tokenizer = AutoTokenizer.from_pretrained(tiny_policy)
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    sampler = TransformersSampler(AutoModelForCausalLM.from_pretrained(tiny_policy), tokenizer)
    sampler.generate(["Write f."], SampleConfig(n=2, max_new_tokens=4))
    assert (tokenizer.padding_side, tokenizer.pad_token) == (side, pad)
    assert sampler.tokenizer.padding_side == "left" and sampler.tokenizer.pad_token is not None


def test_sampling_stops_after_a_stop_string_and_keeps_it(sampler):
    full = sampler.generate(["Write f."], GREEDY)[0][0]
    stop = full[len(full) // 3 : len(full) // 3 + 3]  # greedy decoding repeats, so the stop is met early
    assert stop.strip()
    cut = sampler.generate(["Write f."], SampleConfig(n=1, temperature=0.0, max_new_tokens=24, stop=[stop]))[0][0]
    # it ends with the token that completes the stop string, which may reach a little past it
    longest_token = max(len(sampler.tokenizer.decode([i])) for i in range(len(sampler.tokenizer)))
    assert full.startswith(cut) and stop in cut and len(cut) < len(full)
    assert len(cut) <= full.index(stop) + len(stop) + longest_token


def test_sampler_loads_the_dtype_asked_for_and_refuses_others(tiny_policy):
    config = SampleConfig(n=2, max_new_tokens=4, dtype="bfloat16")
    sampler = make_sampler(str(tiny_policy), config)
    assert next(sampler.model.parameters()).dtype == torch.bfloat16
    assert [len(r) for r in sampler.generate(["Write f."], config)] == [2]
    with pytest.raises(ValueError, match="dtype must be one of .*got 'int8'"):
        SampleConfig(dtype="int8")
    with pytest.raises(ValueError, match="backend must be one of"):
        SampleConfig(backend="tgi")


def test_the_auto_backend_takes_transformers_without_vllm_and_a_gpu_and_a_bad_name_is_said_from_its_config(
    tiny_policy, monkeypatch
):
    import importlib.util

    from codescaler.records.errors import InputError
    from codescaler.training import generation

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert isinstance(make_sampler(str(tiny_policy), SampleConfig(backend="auto")), TransformersSampler)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert generation._vllm_usable()  # where vLLM and a GPU are there, auto is vllm
    generation.check_policy(str(tiny_policy))  # reads its config: no error
    with pytest.raises(InputError, match="cannot load policy '/no/such/policy'"):
        generation.check_policy("/no/such/policy")


def test_completion_sampling_continues_the_raw_text(sampler, tiny_policy, tmp_path):
    model, tokenizer = sampler.model, sampler.tokenizer
    prompt = "def f(x):\n    return"
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        greedy = model.generate(**ids, do_sample=False, max_new_tokens=6, pad_token_id=tokenizer.eos_token_id)
    expected = tokenizer.decode(greedy[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    completion = SampleConfig(n=1, temperature=0.0, max_new_tokens=6, completion=True)
    assert sampler.generate([prompt], completion) == [[expected]]
    # a completion ends before its stop string: kept, a "\ndef " would leave a program that does not parse
    stop = expected[len(expected) // 2 :][:2]
    assert stop.strip()
    cut = sampler.generate([prompt], SampleConfig(n=1, temperature=0.0, max_new_tokens=6, completion=True, stop=[stop]))
    assert cut[0][0] == expected[: expected.index(stop)]
    # the CLI continues code_prefix when a record has one, else the question, and records what it continued
    rows = [
        {"id": "a", "question": "Complete f.", "code_prefix": prompt, "tests": []},
        {"id": "b", "question": prompt, "tests": []},
    ]
    problems, out = tmp_path / "p.jsonl", tmp_path / "s.jsonl"
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = f"sample {problems} -o {out} --model {tiny_policy} -n 1 --completion --temperature 0 --max-new-tokens 6"
    assert main(argv.split()) == 0
    written = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["code_prefix"] for r in written] == [prompt, prompt]
    assert [r["responses"] for r in written] == [[expected], [expected]]
