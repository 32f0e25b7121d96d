"""The frozen language tower's embeddings of every text the demo uses, computed once and kept on disk.

All five towers share one frozen text tower, so a caption is encoded once for the whole demo (deduplicated,
sorted by length so padding is short) and handed to the trainer as its text cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from languagebind.utils.io import atomic_write


class TextBank:
    """``{text: L2-normalised embedding}`` of one frozen text tower, filled on demand, saved as ``.pt``.

    ``encode`` maps a list of texts to (N, D) normalised embeddings (e.g. ``LanguageBind.encode("text", ...)``).
    """

    def __init__(self, encode: Callable[[list[str]], torch.Tensor], path: str | Path | None = None,
                 batch_size: int = 1024) -> None:
        self.encode = encode
        self.path = Path(path) if path is not None else None
        self.batch_size = batch_size
        self.embeddings: dict[str, torch.Tensor] = {}
        self._saved = 0
        if self.path is not None and self.path.is_file():
            saved = torch.load(self.path, weights_only=True)
            self.embeddings = dict(zip(saved["texts"], saved["embeddings"], strict=True))
            self._saved = len(self.embeddings)

    def add(self, texts: Iterable[str]) -> int:
        """Encode the texts not yet in the bank; returns how many were new."""
        new = sorted({str(t) for t in texts if t not in self.embeddings}, key=lambda t: (len(t), t))
        for start in range(0, len(new), self.batch_size):
            batch = new[start:start + self.batch_size]
            self.embeddings.update(zip(batch, self.encode(batch).float().clone(), strict=True))
        return len(new)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32 embeddings of ``texts`` (encoding any new ones)."""
        self.add(texts)
        return torch.stack([self.embeddings[t] for t in texts]).numpy()

    def save(self) -> None:
        """Write the bank if it grew since it was loaded or last saved."""
        if self.path is None or len(self.embeddings) == self._saved:
            return
        with atomic_write(self.path) as handle:
            torch.save({"texts": list(self.embeddings), "embeddings": torch.stack(list(self.embeddings.values()))},
                       handle)
        self._saved = len(self.embeddings)
