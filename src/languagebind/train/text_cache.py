"""Text embeddings of the captions, computed once by the frozen text tower and cached.

The text side never changes during training, so a caption seen again costs a dictionary look-up instead of a
12-layer transformer pass (the official trainer runs the text tower on every step).

Texts missing from the cache are encoded in chunks of exactly ``chunk`` rows (padded by repeating a row): a
row's result then depends only on its own tokens, not on the batch it came in (checked on CPU; BLAS kernels pick
blockings by shape), so the embeddings, and training, are bit-identical with the cache on or off and after a
resume that starts with an empty cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch

EncodeText = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Tokenize = Callable[[list[str]], dict[str, torch.Tensor]]


class TextEmbeddings:
    """``(texts, input_ids, attention_mask) -> (B, P)`` normalised float32 embeddings (on ``device``).

    ``capacity`` bounds the cache (least recently used texts are dropped); ``enabled=False`` encodes every
    text every time (same numbers, for comparison). ``shared``: a ``{text: embedding}`` dict used as the cache
    itself (filled in place, e.g. one dict for several towers bound to the same text tower).
    """

    def __init__(self, encode: EncodeText, device: torch.device, chunk: int = 64, capacity: int = 200_000,
                 enabled: bool = True, shared: dict[str, torch.Tensor] | None = None,
                 tokenize: Tokenize | None = None) -> None:
        self.encode, self.device, self.chunk, self.tokenize = encode, device, chunk, tokenize
        self.capacity, self.enabled = capacity, enabled
        self.cache: dict[str, torch.Tensor] = shared if shared is not None else OrderedDict()
        self.hits = self.misses = 0

    @torch.no_grad()
    def __call__(self, texts: Sequence[str], input_ids: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings of ``texts``; the tokens (rows of ``texts``) are needed only for texts not cached: without
        them, those texts are tokenized here (``tokenize``)."""
        found: dict[str, torch.Tensor] = {}
        missing: dict[str, int] = {}  # text -> its first row in the batch
        for row, text in enumerate(texts):
            cached = self.cache.get(text) if self.enabled else None
            if cached is not None:
                if isinstance(self.cache, OrderedDict):
                    self.cache.move_to_end(text)
                found[text] = cached
                self.hits += 1
            elif text not in missing:
                missing[text] = row
        self.misses += len(missing)
        if missing:
            if input_ids is None or attention_mask is None:
                if self.tokenize is None:
                    raise ValueError("texts not in the cache need their tokens or a tokenize function")
                tokens = self.tokenize(list(missing))
                fresh = self.encode_rows(tokens["input_ids"], tokens["attention_mask"])
            else:
                rows = torch.tensor(list(missing.values()))
                fresh = self.encode_rows(input_ids[rows], attention_mask[rows])
            for text, embedding in zip(missing, fresh, strict=True):
                found[text] = embedding
                if self.enabled:
                    self.cache[text] = embedding
            while len(self.cache) > self.capacity:  # least recently used (plain dict: oldest) first
                del self.cache[next(iter(self.cache))]
        return torch.stack([found[t] for t in texts]).to(self.device)

    def encode_rows(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encode in fixed-size chunks (see the module docstring); returns CPU float32 rows."""
        out = []
        for start in range(0, input_ids.shape[0], self.chunk):
            ids, mask = input_ids[start:start + self.chunk], attention_mask[start:start + self.chunk]
            real = ids.shape[0]
            if real < self.chunk:
                pad = self.chunk - real
                ids = torch.cat([ids, ids[:1].expand(pad, -1)])
                mask = torch.cat([mask, mask[:1].expand(pad, -1)])
            features = self.encode(ids.to(self.device), mask.to(self.device))
            out.append(features[:real].float().cpu())
        return torch.cat(out)

    @property
    def hit_rate(self) -> float:
        """Texts found in the cache / (those + distinct texts encoded)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
