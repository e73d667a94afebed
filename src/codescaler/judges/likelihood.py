"""Judges that need no training: a causal LM's own likelihood of the code, or of the question.

* ``coder``: mean log p(code | question), the model as the author (Codex's mean log-probability
  ranking, Chen et al. 2021);
* ``reviewer``: mean log p(question | code), the model as a reviewer who reads the program and says
  what it was asked to do (Coder-Reviewer reranking, Zhang et al., ICML 2023). The program's docstrings
  are removed first: a completion carries its prompt's docstring, which the question would copy;
* ``coder-reviewer``: their sum, the log of the paper's product of the two likelihoods.

Scores are mean log-probabilities (negative; higher is better), so they shape, rank and select like RM
scores. They are for *selection*: as an RL reward a policy could raise its own likelihood instead of its
correctness. The same machinery as the RM scores them: duplicates once, the shared question prefix once
(coder direction), length-sorted batches under a token budget.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Sequence
from typing import Any, Literal

import torch

from codescaler.extraction.syntax import parse_python
from codescaler.judges.base import ScoredPair
from codescaler.judges.calibration import Calibration
from codescaler.judges.scorer import PairScorer, load_causal_lm
from codescaler.judges.weights import read_likelihood_calibrations

Direction = Literal["coder", "reviewer", "coder-reviewer"]
DIRECTIONS: tuple[str, ...] = ("coder", "reviewer", "coder-reviewer")
# The reviewer's turn: the program first, then the instruction, whose text is what gets scored.
REVIEW_PROMPT = "Here is a program:\n\n{code}\n\nWrite the task this program solves."
# Which text a direction reads; part of the fingerprint, so cached scores of an older reading are not reused.
READING = 2


def _check(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")


def strip_docstrings(code: str) -> str:
    """``code`` without the docstrings of its module, classes and functions; unparsable code is kept whole.

    A body that is only a docstring becomes ``pass``: kept, it would hand the reviewer the question's text
    (on CodeT's pool a SmolLM2 reviewer then picks exactly the completions that implement nothing).
    """
    try:
        tree = parse_python(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.splitlines(keepends=True)
    replaced: dict[int, str] = {}  # line index -> its new text ("" drops it)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if not (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                continue
            start, end = first.lineno - 1, (first.end_lineno or first.lineno) - 1
            if not isinstance(node, ast.Module) and start == node.lineno - 1:
                continue  # on the def's own line: not separable by lines, kept
            if len(body) > 1 and body[1].lineno - 1 <= end:
                continue  # another statement shares the docstring's last line
            for i in range(start, end + 1):
                replaced[i] = ""
            if len(body) == 1 and not isinstance(node, ast.Module):  # keep the body a statement
                replaced[start] = " " * first.col_offset + "pass\n"
    return "".join(replaced.get(i, line) for i, line in enumerate(lines))


class LikelihoodJudge(PairScorer):
    """A causal LM scoring (question, code) pairs by likelihood, in one ``direction``."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        direction: str = "coder",
        calibrations: dict[str, Calibration] | None = None,
        **options: Any,
    ) -> None:
        """``calibrations``: P(pass) fits by direction (``codescaler calibrate --judge ...``); ``options``:
        :class:`~codescaler.judges.scorer.PairScorer`'s (``max_length``, ``mixed_bf16``)."""
        _check(direction)
        lm_head = model.get_output_embeddings()
        if lm_head is None:
            raise ValueError(f"{type(model).__name__} has no language-model head: a likelihood judge needs a causal LM")
        self.calibrations = calibrations or {}
        super().__init__(model, tokenizer, calibration=self.calibrations.get(direction), **options)
        self.direction = direction
        self.lm_head = lm_head

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        direction: str = "coder",
        gguf_file: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        max_length: int = 4096,
    ) -> LikelihoodJudge:
        """Load a causal LM (hub id, folder, or a packaged name such as ``smollm2-135m``)."""
        model, tokenizer = load_causal_lm(name_or_path, gguf_file=gguf_file, dtype=dtype, device=device)
        return cls(
            model,
            tokenizer,
            direction=direction,
            calibrations=read_likelihood_calibrations(name_or_path),
            max_length=max_length,
            mixed_bf16=dtype == "bf16-mixed",
        )

    def in_direction(self, direction: str) -> LikelihoodJudge:
        """The same model read in another direction (no second load), with that direction's calibration."""
        _check(direction)
        other = copy.copy(self)
        other.direction = direction
        other.calibration = self.calibrations.get(direction)
        return other

    def score_pairs(self, questions: Sequence[str], codes: Sequence[str], **kwargs: Any) -> list[ScoredPair]:
        if self.direction != "coder-reviewer":
            return super().score_pairs(questions, codes, **kwargs)
        both = [self.in_direction(d).score_pairs(questions, codes, **kwargs) for d in ("coder", "reviewer")]
        return [
            ScoredPair(c.score + r.score, c.truncated or r.truncated, c.num_tokens + r.num_tokens)
            for c, r in zip(*both)
        ]

    def _turn(self, content: str) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _sequences(self, questions: Sequence[str], codes: Sequence[str]) -> list[tuple[list[int], bool, int]]:
        """Prompt then target tokens; the states read are those that predict the target's tokens. Past
        ``max_length`` the prompt loses its start, then the target its end."""
        out = []
        for question, code in zip(questions, codes):
            if self.direction == "coder":
                prompt, target = self._turn(question), code
            else:
                prompt, target = self._turn(REVIEW_PROMPT.format(code=strip_docstrings(code))), question
            target_ids = self.tokenizer(target, add_special_tokens=False)["input_ids"] or [self.tokenizer.eos_token_id]
            excess = len(prompt) + len(target_ids) - self.max_length
            if excess > 0:
                prompt = prompt[min(excess, len(prompt) - 1) :]
                target_ids = target_ids[: self.max_length - len(prompt)]
            out.append((prompt + target_ids, excess > 0, len(prompt) - 1))
        return out

    def _read(self, hidden, rows, reads, batch, scores) -> None:
        # Row by row: logits over the vocabulary for every target token of a batch would not fit.
        for i, (row, start) in enumerate(zip(rows, reads)):
            states = hidden[i, start : len(row) - 1]
            logits = self.lm_head(states).float()
            targets = torch.tensor(row[start + 1 :], device=logits.device)
            chosen = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])
            scores[batch[i]] = chosen.mean().item()

    def _weights(self) -> list[Any]:
        probe = self.lm_head.weight[:8].detach().float().cpu().numpy().tobytes()  # rows that tell checkpoints apart
        return [self.direction, READING, hashlib.sha256(probe).hexdigest()[:16]]
