"""A fake ``Encoder``: deterministic embeddings from file bytes / text, counting what it encodes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from languagebind.errors import InputError


def _vector(data: bytes, dim: int) -> torch.Tensor:
    digest = hashlib.shake_256(data).digest(dim)
    vector = torch.frombuffer(bytearray(digest), dtype=torch.int8).float() + 0.5
    return vector / vector.norm()


class FakeEncoder:
    """Files whose bytes start with ``b"BAD"`` raise ``InputError`` like an undecodable file."""

    def __init__(self, dim: int = 16, fingerprint: str = "fake0") -> None:
        self.dim = dim
        self.fingerprint = fingerprint
        self.calls: list[tuple[str, int]] = []
        self.encoded: dict[str, int] = {}

    def encode(self, modality: str, items: Any, batch_size: int = 32, progress: bool | None = None) -> torch.Tensor:
        self.calls.append((modality, len(items)))
        rows = []
        for item in items:
            if modality == "text":
                data = item.encode()
            else:
                data = Path(item).read_bytes()
                if data.startswith(b"BAD"):
                    raise InputError(item, "cannot decode (fake)")
            rows.append(_vector(data, self.dim))
        self.encoded[modality] = self.encoded.get(modality, 0) + len(items)
        return torch.stack(rows)

    def checkpoint_fingerprint(self, modality: str) -> str:
        return f"{self.fingerprint}-{modality}"
