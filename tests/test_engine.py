"""The engine-served RM against an in-process server that speaks the engines' pooling APIs:

* vLLM ``POST /classify`` with ``use_activation: false`` (raw logits in ``probs``):
  https://docs.vllm.ai/en/stable/models/pooling_models/classify/ (and verl 0.9.1's reward loop,
  ``verl/experimental/reward_loop/reward_loop.py``, ``compute_score_disrm``);
* SGLang ``POST /v1/embeddings`` on an ``--is-embedding`` reward model (the score in ``embedding``):
  https://docs.sglang.io/supported_models/reward_models.html.

The stub computes each score with the tiny RM's own transformers forward pass, one sequence at a time,
so equality with :meth:`RewardModel.score` checks the client's input, batching and ordering end to end.
"""

import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
import torch
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from transformers import AutoModelForSequenceClassification

from codescaler import RewardModel, reward
from codescaler.judges import load_judge
from codescaler.judges.engine import EngineRewardModel
from codescaler.judges.http import ServerError

Q = "Write add(a, b)."
CODES = ["def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n", "x = 1\n" * 60, "print(1)\n"]


class Stub:
    """An engine in one thread: records what it was sent, can answer 503 or a wrong shape on demand."""

    def __init__(self, model_dir, name="served-rm"):
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        self.name, self.requests, self.unavailable, self.wrong_shape = name, [], 0, False
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        app = FastAPI()
        app.get("/v1/models")(lambda: {"object": "list", "data": [{"id": self.name, "object": "model"}]})
        app.post("/classify")(
            self._endpoint(lambda s: {"index": 0, "label": "LABEL_0", "probs": [s], "num_classes": 1})
        )
        app.post("/v1/embeddings")(self._endpoint(lambda s: {"index": 0, "object": "embedding", "embedding": [s]}))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def _endpoint(self, row):
        def endpoint(body: dict):
            with self.lock:
                self.requests.append(body)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                if self.unavailable:
                    self.unavailable -= 1
                    self.in_flight -= 1
                    return JSONResponse({"error": "busy"}, status_code=503, headers={"Retry-After": "0"})
            time.sleep(0.05)  # long enough for concurrent requests to overlap
            rows = []
            for i, ids in enumerate(body["input"]):
                with torch.no_grad():
                    score = self.model(input_ids=torch.tensor([ids])).logits[0, 0].item()
                rows.append({**row(score), "index": i})
            with self.lock:
                self.in_flight -= 1
            if self.wrong_shape:
                rows = [{**r, "probs": [0.3, 0.7], "embedding": [0.3, 0.7]} for r in rows]
            return {"object": "list", "data": rows[::-1], "model": body["model"]}  # any order: `index` says

        return endpoint

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join()

    def address(self, scheme):
        return f"{scheme}+http://127.0.0.1:{self.port}"

    def sent(self):
        return [ids for body in self.requests for ids in body["input"]]


@pytest.fixture
def stub(tiny_model_dir):
    with Stub(tiny_model_dir) as server:
        yield server


@pytest.mark.parametrize("scheme", ["vllm", "sglang"])
def test_engine_scores_equal_the_local_model(stub, tiny_model_dir, scheme):
    local = RewardModel.from_pretrained(str(tiny_model_dir), max_length=64)
    questions = [Q] * len(CODES) + [Q]
    codes = [*CODES, CODES[0]]  # one duplicate: sent once
    with EngineRewardModel.from_pretrained(
        stub.address(scheme), tokenizer=str(tiny_model_dir), max_length=64, concurrency=2
    ) as engine:
        scored = engine.score_pairs(questions, codes, batch_size=2, show_progress=False)
    expected = local.score_pairs(questions, codes, show_progress=False)
    assert [s.score for s in scored] == pytest.approx([e.score for e in expected], abs=1e-4)
    assert [(s.truncated, s.num_tokens) for s in scored] == [(e.truncated, e.num_tokens) for e in expected]
    assert any(s.truncated for s in scored)  # the long program was cut, the same way on both paths
    assert sorted(map(tuple, stub.sent())) == sorted({tuple(ids) for ids, _ in local.encode(questions, codes)})
    assert all(len(body["input"]) <= 2 and body["model"] == "served-rm" for body in stub.requests)
    assert stub.requests[0].get("use_activation", False) is False  # raw logits from vLLM, absent for SGLang
    assert stub.most_in_flight == 2  # two requests at once, never more


def test_rewards_and_load_judge_over_an_engine(stub, tiny_model_dir, tiny_rm):
    engine = load_judge("rm", stub.address("vllm"), tokenizer=str(tiny_model_dir), max_length=512, dtype="float32")
    responses = [f"```python\n{c}```" for c in CODES] + ["no code here"]
    over_engine = reward(engine, [Q] * len(responses), responses, show_progress=False)
    local = reward(tiny_rm, [Q] * len(responses), responses, show_progress=False)
    assert [r.reward for r in over_engine] == pytest.approx([r.reward for r in local], abs=1e-4)
    assert over_engine[-1].reward == 0.0 and not over_engine[-1].valid
    assert len(stub.sent()) == len(CODES)  # the invalid answer is never sent
    assert engine.fingerprint()[:2] == [stub.address("vllm"), "served-rm"]


def test_a_busy_engine_is_retried(stub, tiny_model_dir):
    stub.unavailable = 2
    engine = EngineRewardModel.from_pretrained(stub.address("sglang"), tokenizer=str(tiny_model_dir), retries=3)
    assert len(engine.score([Q], [CODES[0]], show_progress=False)) == 1
    assert len(stub.requests) == 3


def test_errors_name_the_server(stub, tiny_model_dir):
    stub.wrong_shape = True
    engine = EngineRewardModel.from_pretrained(stub.address("vllm"), tokenizer=str(tiny_model_dir))
    with pytest.raises(ServerError, match=rf"vllm\+http://127.0.0.1:{stub.port} \(/classify\).*one-element 'probs'"):
        engine.score([Q], [CODES[0]], show_progress=False)
    stub.unavailable = 10
    stub.wrong_shape = False
    engine.retries = 1
    with pytest.raises(ServerError, match=rf"127.0.0.1:{stub.port}/classify answered 503"):
        engine.score([Q], [CODES[1]], show_progress=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(ServerError, match=rf"sglang\+http://127.0.0.1:{closed}: cannot list its models"):
        EngineRewardModel.from_pretrained(f"sglang+http://127.0.0.1:{closed}", tokenizer=str(tiny_model_dir))
    with pytest.raises(ValueError, match="reads a causal LM"):
        load_judge("coder", stub.address("vllm"))


def test_rank_command_over_an_engine(stub, tiny_model_dir, tmp_path, capsys):
    from codescaler.cli import main

    out = tmp_path / "ranked.jsonl"
    argv = ["rank", "examples/subarray_sum.jsonl", "-o", str(out), "--model", stub.address("vllm")]
    assert main([*argv, "--tokenizer", str(tiny_model_dir)]) == 0
    ranked = [line for line in out.read_text().splitlines() if line]
    assert ranked and stub.requests  # every record answered, scored on the server
    assert "subarray-sum" in capsys.readouterr().out


def test_serve_in_front_of_an_engine(stub, tiny_model_dir, tiny_rm):
    from fastapi.testclient import TestClient

    from codescaler.serving.reward_server import create_app

    engine = EngineRewardModel.from_pretrained(stub.address("sglang"), tokenizer=str(tiny_model_dir), max_length=512)
    item = {"question": Q, "response": f"```python\n{CODES[0]}```"}
    with TestClient(create_app(engine)) as client:
        served = client.post("/score", json={"items": [item]}).json()["results"][0]
    assert served["reward"] == pytest.approx(reward(tiny_rm, [Q], [item["response"]])[0].reward, abs=1e-4)
