"""The exact tokens a reward model reads for one (question, code) pair. No torch here: an engine-served RM
(:mod:`codescaler.judges.engine`) sends these same ids to vLLM or SGLang, so both paths score identical input.

The pair is the RM's own chat template over ``[user: question, assistant: code]`` with no generation
prompt, as the CodeScaler and Skywork model cards format it. A pair over ``max_length`` is cut, never
dropped: the question from its middle first, then the code from its start, since the score is read at
the code's last token.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codescaler.judges.weights import resolve_model_path, split_adapter


def load_rm_tokenizer(
    name_or_path: str, *, gguf_file: str | None = None, revision: str | None = None, trust_remote_code: bool = False
) -> Any:
    """The tokenizer an RM was trained with: an adapter folder's own, else its base's (codescaler-mini's is
    SmolLM2's), else the checkpoint's."""
    from transformers import AutoTokenizer

    path, gguf_file = resolve_model_path(name_or_path, gguf_file)
    base, base_gguf, adapter = split_adapter(path, gguf_file)
    if adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(adapter, revision=revision)
    path, gguf_file = resolve_model_path(base, base_gguf)
    return AutoTokenizer.from_pretrained(
        path, gguf_file=gguf_file, revision=revision, trust_remote_code=trust_remote_code
    )


class RMInput:
    """Formatting and truncation over ``self.tokenizer`` and ``self.max_length`` (set by the class using it)."""

    tokenizer: Any
    max_length: int

    def format(self, question: str, code: str) -> str:
        """The exact text the RM reads for one pair."""
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": code}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)

    def _ids(self, texts: list[str]) -> list[list[int]]:
        # The template already holds any BOS the model expects.
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _truncate(self, question: str, code: str) -> list[int]:
        """Cut the question from its middle, then the code from its start, until the pair fits.

        Cuts only grow, measured against the original token ids, so the loop ends.
        """
        q_ids, c_ids = self._ids([question, code])
        q_cut = c_cut = 0
        while True:
            keep = len(q_ids) - q_cut
            q = question if q_cut == 0 else ""
            if 0 < q_cut < len(q_ids):
                head, tail = q_ids[: keep // 2], q_ids[len(q_ids) - (keep - keep // 2) :]
                q = self.tokenizer.decode(head) + "\n...\n" + self.tokenizer.decode(tail)
            c = code if c_cut == 0 else self.tokenizer.decode(c_ids[c_cut:])
            ids = self._ids([self.format(q, c)])[0]
            excess = len(ids) - self.max_length
            if excess <= 0:
                return ids
            step = excess + 2  # re-tokenising at the seams can add a token or two
            if q_cut < len(q_ids):
                q_cut = min(len(q_ids), q_cut + step)
            else:
                c_cut += step
                if c_cut >= len(c_ids):
                    raise ValueError(f"max_length={self.max_length} leaves no room for code after the chat template")

    def encode(self, questions: Sequence[str], codes: Sequence[str]) -> list[tuple[list[int], bool]]:
        """Token ids for each pair, and whether it had to be truncated."""
        ids = self._ids([self.format(q, c) for q, c in zip(questions, codes)])
        return [
            (seq, False) if len(seq) <= self.max_length else (self._truncate(q, c), True)
            for seq, q, c in zip(ids, questions, codes)
        ]
