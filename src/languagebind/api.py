"""``LanguageBind``: load towers, preprocess, encode into the shared space, compare and classify.

```python
model = LanguageBind.from_pretrained({"video": "ckpts/LanguageBind_Video_FT", "audio": "ckpts/Audio"})
video = model.encode("video", ["a.mp4"])       # (B, P), L2-normalised
text = model.encode("text", ["a dog"])          # (B, P), L2-normalised
probs = model.classify("video", ["a.mp4"], ["dog", "cat"]).probs
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.hub import CardInfo, HubOptions, card_results
from languagebind.model.config import CheckpointConfig
from languagebind.model.core import LanguageBindModel
from languagebind.model.hidden import (
    TOKEN_CHOICES,
    layer_index,
    select_tokens,
    text_hidden_states,
    vision_hidden_states,
)
from languagebind.model.lora import merge_lora
from languagebind.model.text import HFTextTower
from languagebind.official_import import import_official
from languagebind.precision import (
    PRECISIONS,
    apply_precision,
    float32_features,
    input_dtype,
    resolve_device,
)
from languagebind.pretrained import (
    Checkpoints,
    Configs,
    PathLike,
    checkpoint_fingerprint,
    default_tokenizer,
    load_pretrained,
    random_model,
    save_checkpoint,
)
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.registry import get_modality, is_modality, modality_names
from languagebind.utils.arithmetic import combine_embeddings, combine_weights
from languagebind.utils.prefetch import batched, prefetch_map
from languagebind.utils.progress import progress as progress_bar

DEFAULT_TEMPLATES = ("a photo of a {}.",)  # label_embeddings without a modality


@dataclass
class Classification:
    """Zero-shot result: ``probs`` (N, L) softmax over labels; ``labels``; best label and score per item."""

    labels: list[str]
    probs: torch.Tensor

    @property
    def top(self) -> list[tuple[str, float]]:
        scores, idx = self.probs.max(dim=1)
        return [(self.labels[i], float(s)) for i, s in zip(idx.tolist(), scores, strict=True)]


@dataclass
class EncodeResult:
    """Embeddings of the good items, their positions in the input, and (item, reason) for the bad ones."""

    embeddings: torch.Tensor
    indices: list[int]
    failures: list[tuple[Any, str]]


class LanguageBind(nn.Module):
    """Modality towers bound to one frozen language tower; see the module docstring."""

    def __init__(self, model: LanguageBindModel, tokenizer: Any = None,
                 sources: Mapping[str, Path | None] | None = None, device: str | torch.device = "cpu",
                 precision: str = "fp32") -> None:
        """Wrap ``model`` (``tokenizer``: the text tower's, default the HF tower's own or the bundled CLIP one;
        ``sources``: the directory each tower came from, for the tokenizer files of an official export)."""
        super().__init__()
        self.model = model.eval()
        self.tokenizer = tokenizer if tokenizer is not None else default_tokenizer(model, None)
        self.sources = dict(sources) if sources is not None else dict.fromkeys(model.modalities)
        self.processors = {m: build_processor(m, ProcessorConfig(**c.vision.processor_fields()))
                           for m, c in model.configs.items()}
        self.device = torch.device(device)
        self.precision = precision
        self._fingerprints: dict[str, str] = {}
        # the concrete mode; ONNX Runtime modes key their export cache on the checkpoint fingerprints
        self.precision = apply_precision(self.model, precision, self.device, self.checkpoint_fingerprint)

    # -- construction --------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, checkpoints: Checkpoints, device: str | torch.device | None = None,
                        precision: str = "fp32", geometry: Mapping[str, Mapping[str, Any]] | None = None, *,
                        cache_dir: PathLike | None = None, revision: str | None = None, token: str | bool | None = None,
                        local_files_only: bool | None = None, config: PathLike | None = None) -> LanguageBind:
        """Load checkpoints (official or ours): one directory or Hub id, or ``{modality: dir_or_id}``.

        A Hub id (``LanguageBind/LanguageBind_Video_FT``, ``ORG/NAME@REVISION``) is fetched into the Hugging Face
        cache (``cache_dir``, ``revision``, ``token``), or read from it offline (``local_files_only`` or
        ``HF_HUB_OFFLINE=1``); a local path of the same spelling wins (docs/huggingface.md).
        ``geometry`` optionally changes a tower's ``image_size`` / ``num_frames`` (position and temporal
        tables are resampled bicubically). The text tower is loaded once when the checkpoints share it.
        An official trainer's ``epoch_N.pt`` loads with ``config=`` its base checkpoint (directory or Hub id;
        LoRA merged; ``languagebind.official_import``).
        """
        hub = HubOptions(cache_dir, revision, token, local_files_only)
        if isinstance(checkpoints, (str, Path)) and str(checkpoints).endswith(".pt"):
            if config is None or geometry:
                raise InputError(checkpoints, "an official trainer checkpoint (.pt) loads with config= (its base "
                                              "checkpoint directory or Hub id) and without geometry=")
            loaded = import_official(checkpoints, config, hub=hub).pretrained
        else:
            loaded = load_pretrained(checkpoints, device, precision, geometry, hub)
        return cls(loaded.model, loaded.tokenizer, loaded.sources, resolve_device(device), precision)

    @classmethod
    def from_config(cls, configs: Configs, device: str | torch.device | None = None, precision: str = "fp32",
                    seed: int = 0) -> LanguageBind:
        """The same object with random CLIP-style weights (tests, benchmarks, training from scratch)."""
        made = random_model(configs, device, precision, seed)
        return cls(made.model, made.tokenizer, made.sources, resolve_device(device), precision)

    # -- inputs ----------------------------------------------------------------------------------------
    @property
    def modalities(self) -> list[str]:
        """The loaded modality towers (``"text"`` is always there too)."""
        return self.model.modalities

    def config(self, modality: str) -> CheckpointConfig:
        """The checkpoint config of a loaded tower."""
        self._processor(modality)
        return self.model.configs[modality]

    def tower(self, modality: str) -> nn.Module:
        """A loaded modality tower."""
        self._processor(modality)
        return self.model.towers[modality]

    def processor_config(self, modality: str) -> ProcessorConfig:
        """The preprocessing constants of a loaded tower (what ``preprocess`` uses)."""
        return self._processor(modality).config

    def tokenize(self, texts: str | Sequence[str]) -> dict[str, torch.Tensor]:
        """Texts -> ``{"input_ids": (B, 77), "attention_mask": (B, 77)}`` (int64)."""
        texts = _check_texts(texts)
        if isinstance(self.model.text, HFTextTower):
            return self.model.text.tokenize(texts)
        return self.tokenizer(texts)

    def preprocess(self, modality: str, items: Any) -> torch.Tensor:
        """Files or in-memory items -> the batch tensor the tower takes (deterministic)."""
        return self._processor(modality)(_as_list(items, modality))

    # -- encoding --------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, modality: str, items: Any, batch_size: int = 32, progress: bool | None = None,
               normalize: bool = True) -> torch.Tensor:
        """Paths, items, texts, or a preprocessed batch -> (B, P) float32 embeddings (L2-normalised).

        Files are decoded by background threads while the model computes (``utils.prefetch``).
        """
        if isinstance(items, torch.Tensor):
            return self._encode_tensor(modality, items, batch_size, normalize)
        if modality == "text":
            texts = _check_texts(items)
            batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
            return torch.cat([self._encode_text(self.tokenize(batch), normalize)
                              for batch in _progress(batches, progress, "encode text")])
        processor = self._processor(modality)
        items = _as_list(items, modality)
        loaded = prefetch_map(processor.load, items, ahead=2 * batch_size)
        out = [self._encode_tensor(modality, torch.stack(batch), batch_size, normalize)
               for batch in _progress(batched(loaded, batch_size), progress, f"encode {modality}",
                                      total=-(-len(items) // batch_size))]
        return torch.cat(out)

    @torch.inference_mode()
    def encode_files(self, modality: str, items: Sequence[Any], batch_size: int = 32,
                     progress: bool | None = None) -> EncodeResult:
        """Like ``encode`` but bad items are skipped and reported instead of raising."""
        processor = self._processor(modality)
        items = _as_list(items, modality)

        def load(item: Any) -> tuple[torch.Tensor | None, str | None]:
            try:
                return processor.load(item), None
            except InputError as err:
                return None, err.reason

        chunks, indices, failures = [], [], []
        loaded = batched(prefetch_map(load, items, ahead=2 * batch_size), batch_size)
        for start, batch in zip(range(0, len(items), batch_size),
                                _progress(loaded, progress, f"encode {modality}", total=-(-len(items) // batch_size)),
                                strict=True):
            tensors = []
            for i, (tensor, reason) in enumerate(batch, start):
                if reason is None:
                    tensors.append(tensor)
                    indices.append(i)
                else:
                    failures.append((items[i], reason))
            if tensors:
                chunks.append(self._encode_tensor(modality, torch.stack(tensors), batch_size, True))
        width = self.model.configs[modality].vision.projection_dim
        embeddings = torch.cat(chunks) if chunks else torch.empty(0, width)
        return EncodeResult(embeddings, indices, failures)

    # -- token-level features (multimodal LLMs) -------------------------------------------------------
    @torch.no_grad()  # not inference_mode: the outputs feed trainable projectors
    def hidden_states(self, modality: str, items: Any, batch_size: int = 32) -> tuple[torch.Tensor, ...]:
        """Per-layer hidden states (float32, CPU) as the official ``output_hidden_states=True`` gives them: entry 0
        the embeddings after the pre-LayerNorm (text: token + position embeddings), then one per layer.

        image/depth/thermal/audio (B, N+1, D), token 0 the CLS; video (B, T, N+1, D), a CLS per frame; text
        (B, 77, D) at every position. ``items``: files/items/texts, a preprocessed batch, or (text) the
        ``tokenize`` dict. See ``languagebind.model.hidden`` and docs/huggingface.md."""
        return tuple(self._hidden_states(modality, items, batch_size, None, keep_all=True))

    @torch.no_grad()
    def features(self, modality: str, items: Any, layer: int = -2, tokens: str | None = None,
                 batch_size: int = 32) -> torch.Tensor:
        """What an LLM projector consumes (Video-LLaVA's ``mm_vision_select_layer`` / ``_feature``): the hidden
        states of ``layer`` (default -2), ``tokens="patch"`` (default for modality towers) without the CLS token
        of each frame, or ``"all"`` (Video-LLaVA's video path; the only choice for text). Layers after ``layer``
        are not computed."""
        tokens = tokens or ("all" if modality == "text" else "patch")
        if modality == "text" and tokens != "all":
            raise InputError(tokens, "text has no CLS / patch split; use tokens='all'")
        if tokens not in TOKEN_CHOICES:
            raise InputError(tokens, f"tokens must be one of {', '.join(TOKEN_CHOICES)}")
        try:
            index = layer_index(layer, self._layer_count(modality) + 1)
        except IndexError as err:
            raise InputError(f"layer={layer}", str(err)) from err
        return select_tokens(self._hidden_states(modality, items, batch_size, index, keep_all=False)[-1], tokens)

    def _layer_count(self, modality: str) -> int:
        if modality != "text":
            return len(self.tower(modality).encoder.layers)
        text = self.model.text
        return text.model.config.num_hidden_layers if isinstance(text, HFTextTower) else len(text.encoder.layers)

    def _hidden_states(self, modality: str, items: Any, batch_size: int, upto: int | None, keep_all: bool
                       ) -> list[torch.Tensor]:
        chunks = []
        if modality == "text":
            tokens = items if isinstance(items, Mapping) else self.tokenize(items)
            ids, mask = tokens["input_ids"], tokens.get("attention_mask")
            for start in range(0, len(ids), batch_size):
                part = mask[start:start + batch_size].to(self.device) if mask is not None else None
                chunks.append(text_hidden_states(self.model.text, ids[start:start + batch_size].to(self.device),
                                                 part, upto, keep_all))
        else:
            tower = self.tower(modality)
            batches = ([items] if isinstance(items, torch.Tensor) else
                       [self.preprocess(modality, part) for part in batched(_as_list(items, modality), batch_size)])
            for pixels in batches:
                self._check_batch(modality, pixels)
                for chunk in pixels.split(batch_size):
                    chunks.append(vision_hidden_states(tower, chunk.to(self.device, input_dtype(tower)), upto,
                                                       keep_all))
        if not chunks:
            raise InputError(modality, "no items given (empty batch)")
        return [torch.cat([chunk[i].float().cpu() for chunk in chunks]) for i in range(len(chunks[0]))]

    def _encode_text(self, tokens: dict[str, torch.Tensor], normalize: bool) -> torch.Tensor:
        ids, mask = tokens["input_ids"], tokens["attention_mask"]
        # Drop the all-padding tail columns: exact, since the CLIP tower is causal and pools the first EOS
        # (nothing after it can change it), and the HF tower masks padding keys and mean-pools real tokens.
        if isinstance(self.model.text, HFTextTower):
            length = int(mask.sum(1).max()) if self.model.text.tokenizer.padding_side == "right" else ids.shape[1]
        else:
            length = int(ids.argmax(dim=-1).max()) + 1
        ids, mask = ids[:, :length].to(self.device), mask[:, :length].to(self.device)
        return float32_features(self.model.encode_text(ids, mask, normalize=False), normalize)

    def _encode_tensor(self, modality: str, pixels: torch.Tensor, batch_size: int, normalize: bool) -> torch.Tensor:
        if modality == "text":
            raise InputError("text", "pass a list of strings, not a tensor")
        self._check_batch(modality, pixels)
        dtype = input_dtype(self.model.towers[modality])
        out = [float32_features(self.model.encode_modality(modality, chunk.to(self.device, dtype), normalize=False),
                                 normalize) for chunk in pixels.split(batch_size)]
        return out[0] if len(out) == 1 else torch.cat(out)

    def _check_batch(self, modality: str, pixels: torch.Tensor) -> None:
        expected = self.processors[modality].output_shape()
        if tuple(pixels.shape[1:]) != expected or not pixels.is_floating_point():
            shape = ", ".join(map(str, expected))
            raise InputError(f"{modality} tensor",
                             f"expected a float batch of shape (B, {shape}), got {pixels.dtype} {tuple(pixels.shape)}")

    def _processor(self, modality: str) -> Any:
        if modality not in self.processors:
            raise InputError(modality, f"no {modality} tower is loaded (loaded: {', '.join(self.modalities)}, text)"
                             if is_modality(modality) else
                             f"unknown modality; known: text, {', '.join(modality_names())}")
        return self.processors[modality]

    # -- scores ----------------------------------------------------------------------------------------
    def logit_scale(self, modality: str) -> float:
        """exp of the checkpoint's learned log temperature (the official scale, unclamped)."""
        self._processor(modality)
        return float(self.model.logit_scales[modality].detach().float().exp())

    @staticmethod
    def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Cosine similarity matrix of two batches of normalised embeddings: (A, B)."""
        return a.float() @ b.float().T

    def label_embeddings(self, labels: Sequence[str], templates: Sequence[str] = DEFAULT_TEMPLATES) -> torch.Tensor:
        """One normalised text embedding per label, averaged over ``templates`` (each with one ``{}``)."""
        labels = _check_texts(labels)
        if not templates or any("{}" not in t for t in templates):
            raise InputError("templates", "every template needs a '{}' placeholder")
        texts = [t.format(label) for label in labels for t in templates]
        emb = self.encode("text", texts).view(len(labels), len(templates), -1).mean(1)
        return torch.nn.functional.normalize(emb, dim=-1)

    def classify(self, modality: str, items: Any, labels: Sequence[str],
                 templates: Sequence[str] | None = None, batch_size: int = 32) -> Classification:
        """Zero-shot classification: softmax over labels of ``logit_scale * cosine``; ``templates`` default to the
        modality's own (its spec's ``templates``, e.g. ``a photo of a {}.``)."""
        if templates is None:
            self._processor(modality)
            templates = get_modality(modality).templates
        is_embedding = isinstance(items, torch.Tensor) and items.dim() == 2
        emb = items if is_embedding else self.encode(modality, items, batch_size)
        logits = self.logit_scale(modality) * self.similarity(emb, self.label_embeddings(labels, templates))
        return Classification(list(labels), logits.softmax(dim=-1))

    def combine(self, embeddings: Mapping[str, Any], weights: Mapping[str, float] | None = None,
                temperature: bool = False, batch_size: int = 32) -> torch.Tensor:
        """One query from several modalities: ``normalize(sum_m w_m * normalize(e_m))``, (B, P) float32.

        ``embeddings`` maps a modality (or ``"text"``) to its (B, P) embeddings, or to items (paths, texts)
        that are encoded first; one row is broadcast over B. ``weights`` default to 1 each (a negative one
        subtracts); ``temperature=True`` multiplies each weight by the tower's ``exp(logit_scale)``, which
        reproduces summing the official wrapper's temperature-scaled outputs (docs/evaluation.md).
        """
        if not embeddings:
            raise InputError("combine", "no modalities to combine")
        vectors = {m: e if isinstance(e, torch.Tensor) and e.dim() <= 2 else self.encode(m, e, batch_size)
                   for m, e in embeddings.items()}
        if temperature:  # the official wrapper scales every modality's output but leaves text unscaled
            weights = {m: w * (self.logit_scale(m) if m != "text" else 1.0)
                       for m, w in combine_weights(list(vectors), weights).items()}
        return combine_embeddings(vectors, weights)

    def merge_lora(self) -> int:
        """Fold unmerged LoRA adapters into their weights (faster inference; equal up to float rounding)."""
        count = sum(merge_lora(tower) for tower in self.model.towers.values())
        self._fingerprints.clear()
        return count

    # -- saving ----------------------------------------------------------------------------------------
    def save_pretrained(self, directory: PathLike, modality: str | None = None, format: str = "safetensors", *,
                        results: Sequence[PathLike | Mapping[str, Any]] = (), base_model: str | None = None,
                        card: CardInfo | None = None) -> Path:
        """Write one modality's checkpoint, ready for the Hub: ``format`` "safetensors" (ours) or "official", the
        tokenizer files, ``preprocessor_config.json`` and a model card ``README.md`` whose ``model-index`` carries
        ``results`` (``languagebind eval`` results.json files or dicts; docs/huggingface.md)."""
        modality = self._single(modality)
        card = card if card is not None else CardInfo()
        card = dataclasses.replace(card, results=[*card.results, *card_results(results)],
                                   base_model=base_model or card.base_model)
        return save_checkpoint(directory, self.model, modality, format, self.tokenizer, self.sources.get(modality),
                               card)

    def checkpoint_fingerprint(self, modality: str) -> str:
        """A stable hash of a tower, its text tower, its config and the preprocessing version."""
        modality = self._single(modality) if modality != "text" else self.modalities[0]
        if modality not in self._fingerprints:
            self._fingerprints[modality] = checkpoint_fingerprint(self.model, modality)
        return self._fingerprints[modality]

    def _single(self, modality: str | None) -> str:
        if modality is None:
            if len(self.modalities) != 1:
                raise InputError("modality", f"several towers are loaded ({', '.join(self.modalities)}); name one")
            return self.modalities[0]
        self._processor(modality)
        return modality


# -- helpers ---------------------------------------------------------------------------------------------
def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, (bytes, bytearray)):
        raise InputError(texts, "texts must be a string or a list of strings")
    if not texts:
        raise InputError("texts", "the list is empty")
    for text in texts:
        if not isinstance(text, str):
            raise InputError(text, f"a text must be a string, not {type(text).__name__}")
    return list(texts)


def _as_list(items: Any, modality: str) -> list[Any]:
    # a (waveform, sample rate) pair is one item, not a list of two
    single_pair = isinstance(items, tuple) and len(items) == 2 and isinstance(items[1], int) and \
        not isinstance(items[0], (str, Path, int))
    if isinstance(items, (str, Path)) or single_pair:
        items = [items]
    if isinstance(items, torch.Tensor) or not isinstance(items, Sequence):
        items = [items] if not isinstance(items, (list, tuple)) else items
    if not items:
        raise InputError(modality, "no items given (empty list)")
    return list(items)


def _progress(iterable: Any, enabled: bool | None, desc: str, total: int | None = None) -> Any:
    size = total if total is not None else len(iterable)
    return progress_bar(iterable, total=size, desc=desc, enabled=enabled if enabled is not None else size > 1 and None)


__all__ = ["PRECISIONS", "Classification", "EncodeResult", "LanguageBind"]
