"""Polish: a local instruct LLM rewrites the captions into the polished caption and a sound caption.

The paper refined mPLUG-Owl captions with ChatGPT (``polish_mplug``; ``sound_mplug`` is undocumented) and never
released its prompts; ours are shipped templates (``polish_caption``, ``sound_caption``). Backends:
``transformers`` (any causal LM directory; its chat template when it has one), ``vllm`` (used by ``auto`` when
vLLM is installed and a GPU is visible), and ``rules`` (no model: the video caption, tidied). Greedy decoding,
so a rebuild gives the same text. A model answer that is empty after tidying falls back to the rules, and the
clip's meta says so.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Any

from languagebind.errors import ConfigError
from languagebind.vidal import hf, prompts
from languagebind.vidal.captions import tidy
from languagebind.vidal.operators import Operator
from languagebind.vidal.sample import Sample

BACKENDS = ("auto", "transformers", "vllm", "rules")
_LEAD = re.compile(r"^(?:sure[,!.]?\s*)?(?:(?:polished |sound )?(?:caption|description|sentence|answer)\s*:\s*)",
                   re.IGNORECASE)
_VIDEO_PREFIX = re.compile(r"^in the video,\s*", re.IGNORECASE)
_REPEAT = re.compile(r"\b(\w+)(\s+\1\b)+", re.IGNORECASE)


def clean_answer(text: str) -> str:
    """First paragraph of an LLM answer, without chatter, quotes or the official "In the video, " prefix."""
    text = tidy(text.strip().split("\n\n")[0])
    quotes = "\"'“”"
    text = _VIDEO_PREFIX.sub("", _LEAD.sub("", text).strip().strip(quotes)).strip().strip(quotes).strip()
    return text[:1].upper() + text[1:] if text else ""


def rule_captions(sample: Sample) -> tuple[str, str]:
    """(polished, sound) without a model: the video caption (else a keyframe caption, else the title), tidied."""
    text = sample.fields.get("text")
    source = sample.fields.get("video_caption") or next(iter(sample.fields.get("keyframe_captions") or []), "")
    source = source or (text.title if text else sample.item.title)
    sentence = _REPEAT.sub(r"\1", tidy(source)).rstrip(" .") or "A short video"
    polished = sentence[:1].upper() + sentence[1:] + "."
    return polished, f"The sounds of {sentence[:1].lower() + sentence[1:]}."


@dataclass(kw_only=True)
class Polish(Operator):
    """Captions + title + hashtags -> ``polished_caption`` and ``sound_caption``."""

    kind = "polish"
    inputs = ("text",)
    optional_inputs = ("video_caption", "keyframe_captions")
    outputs = ("polished_caption", "sound_caption")
    uses_model = True

    model: str | None = None  # None: rules
    backend: str = "auto"
    polish_prompt: str = "polish_caption"
    sound_prompt: str = "sound_caption"
    max_new_tokens: int = 77
    precision: str = "fp32"
    batch_size: int = 8
    gpu_memory_utilization: float = 0.5  # vLLM's share of the GPU (the other stages' models live there too)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backend not in BACKENDS:
            raise ConfigError(f"stage {self.name}: backend must be one of {BACKENDS}")
        if self.backend in ("transformers", "vllm") and not self.model:
            raise ConfigError(f"stage {self.name}: backend {self.backend!r} needs a model directory")

    def setup(self) -> None:
        self._templates = (prompts.load_template(self.polish_prompt), prompts.load_template(self.sound_prompt))
        backend = self.backend
        if backend == "auto":
            backend = "rules" if not self.model else "vllm" if _vllm_usable(self.gpus) else "transformers"
        self._backend = backend
        self._llm: Any = None
        if backend == "transformers":
            self._llm = TransformersChat(hf.local_dir(self.model, self.name), self.precision, self.device())
        elif backend == "vllm":
            self._llm = VllmChat(hf.local_dir(self.model, self.name), self.precision, self.gpu_memory_utilization)
        self._label = f"{self._llm.label} via {backend}" if self._llm else "rules"

    def process(self, batch: list[Sample]) -> None:
        rules = [rule_captions(sample) for sample in batch]
        answers: list[tuple[str, str]] = rules
        if self._llm is not None:
            requests = [prompts.render(t, s) for s in batch for t in self._templates]
            replies = [clean_answer(r) for r in self._llm.complete(requests, self.max_new_tokens)]
            answers = [(replies[2 * i] or rules[i][0], replies[2 * i + 1] or rules[i][1]) for i in range(len(batch))]
            for i, sample in enumerate(batch):
                if not (replies[2 * i] and replies[2 * i + 1]):
                    sample.meta["polish_fallback"] = "rules"
        for sample, (polished, sound) in zip(batch, answers, strict=True):
            sample.fields.update(polished_caption=polished, sound_caption=sound)
            sample.meta["polish_model"] = self._label


class TransformersChat:
    """Greedy completions from a local causal LM (chat template when the tokenizer has one), left-padded."""

    def __init__(self, path: Any, precision: str, device: Any) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = hf.load_processor(AutoTokenizer, path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = hf.load_pretrained(AutoModelForCausalLM, path, precision, device)
        self.device = device
        self.label = hf.model_label(path, self.model.config)

    def complete(self, requests: list[str], max_new_tokens: int) -> list[str]:
        import torch

        if self.tokenizer.chat_template:
            texts = [self.tokenizer.apply_chat_template([{"role": "user", "content": r}], tokenize=False,
                                                        add_generation_prompt=True) for r in requests]
            encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        else:
            encoded = self.tokenizer(requests, return_tensors="pt", padding=True)
        encoded = encoded.to(self.device)
        with torch.inference_mode():
            output = self.model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)


class VllmChat:
    """Greedy completions through vLLM's offline ``LLM.chat`` (GPU)."""

    def __init__(self, path: Any, precision: str, gpu_memory_utilization: float) -> None:
        from vllm import LLM, SamplingParams

        self.llm = LLM(model=str(path), dtype=hf.PRECISIONS[precision], seed=0,
                       gpu_memory_utilization=gpu_memory_utilization)
        self.params = SamplingParams
        self.label = f"{path.name} (vllm)"

    def complete(self, requests: list[str], max_new_tokens: int) -> list[str]:
        params = self.params(temperature=0.0, max_tokens=max_new_tokens)
        conversations = [[{"role": "user", "content": r}] for r in requests]
        return [result.outputs[0].text for result in self.llm.chat(conversations, params, use_tqdm=False)]


def _vllm_usable(gpus: float) -> bool:
    if gpus <= 0 or importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()
