"""CLIP byte-level BPE tokenizer giving the exact ids of Hugging Face's *slow* ``CLIPTokenizer`` (with ftfy).

What the official code runs (``LanguageBind<M>Tokenizer`` = transformers 4.30.2 ``CLIPTokenizer``, ftfy 6.1.1),
called as ``tokenizer(texts, max_length=77, padding="max_length", truncation=True)``:

1. split the raw text on the literal special tokens ``<|startoftext|>`` / ``<|endoftext|>`` (case-sensitive);
2. every other piece: ``ftfy.fix_text`` -> collapse whitespace and strip -> lower-case -> the CLIP regex
   (which again recognises the special strings, now in any letter case) -> UTF-8 bytes mapped to unicode
   symbols -> BPE merges by rank;
3. ``[BOS] + ids[:max_length - 2] + [EOS]``, padded with the pad id (= EOS, 49407); mask 1 on BOS..EOS.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import ftfy
import regex
import torch

from languagebind.errors import CheckpointError, InputError
from languagebind.utils.io import atomic_write, write_json_atomic

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
CONTEXT_LENGTH = 77
NUM_MERGES = 49152 - 256 - 2  # merges used by OpenAI CLIP and by HF (``[1 : 49152 - 256 - 2 + 1]``)
BUNDLED_VOCAB = "bpe_simple_vocab_16e6.txt.gz"

_WORD_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
_SPECIAL_SPLIT = regex.compile(f"({regex.escape(BOS)}|{regex.escape(EOS)})")
_WHITESPACE = regex.compile(r"\s+")


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable unicode symbols."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes), strict=True))


def vocabulary_from_merges(merges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """The 49408-entry vocabulary that OpenAI/HF derive from the merge list (bytes, bytes+</w>, merges, specials)."""
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(pair) for pair in merges] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


class CLIPTokenizer:
    """Texts -> ``{"input_ids", "attention_mask"}`` (B, context_length) int64, identical to the official ids."""

    def __init__(self, encoder: dict[str, int], merges: Sequence[tuple[str, str]], pad_token: str = EOS) -> None:
        for token in (BOS, EOS, pad_token):
            if token not in encoder:
                raise InputError(token, "special token missing from the vocabulary")
        self.encoder = encoder
        self.merges = list(merges)
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self.bos_id = encoder[BOS]
        self.eos_id = encoder[EOS]
        self.pad_id = encoder[pad_token]
        self.pad_token = pad_token
        self._byte_symbols = bytes_to_unicode()
        self.bpe = lru_cache(maxsize=65536)(self._bpe)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["bpe"]  # the LRU cache wraps a bound method: rebuilt on unpickling (DataLoader workers)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.bpe = lru_cache(maxsize=65536)(self._bpe)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, directory: str | Path | None = None) -> CLIPTokenizer:
        """``vocab.json`` + ``merges.txt`` from a checkpoint dir if present there, else the bundled BPE file."""
        if directory is not None:
            directory = Path(directory)
            vocab, merges = directory / "vocab.json", directory / "merges.txt"
            if vocab.is_file() and merges.is_file():
                return cls.from_files(vocab, merges, _pad_token(directory / "tokenizer_config.json"))
            if vocab.is_file() or merges.is_file():
                missing = "merges.txt" if vocab.is_file() else "vocab.json"
                raise CheckpointError(directory, f"tokenizer files incomplete: {missing} is missing")
        return cls.bundled()

    @classmethod
    def bundled(cls) -> CLIPTokenizer:
        """The tokenizer of the bundled ``bpe_simple_vocab_16e6.txt.gz`` (OpenAI CLIP's vocabulary)."""
        source = resources.files("languagebind") / "assets" / BUNDLED_VOCAB
        with source.open("rb") as handle:
            lines = gzip.decompress(handle.read()).decode("utf-8").split("\n")
        merges = [_merge_pair(line) for line in lines[1 : NUM_MERGES + 1]]
        return cls(vocabulary_from_merges(merges), merges)

    @classmethod
    def from_files(cls, vocab_file: str | Path, merges_file: str | Path, pad_token: str = EOS) -> CLIPTokenizer:
        """Hugging Face's ``vocab.json`` + ``merges.txt`` pair (as saved in official checkpoints)."""
        try:
            encoder = json.loads(Path(vocab_file).read_text(encoding="utf-8"))
            lines = Path(merges_file).read_text(encoding="utf-8").strip().split("\n")
            merges = [_merge_pair(line) for line in lines[1 : NUM_MERGES + 1]]
        except (OSError, ValueError) as err:
            raise CheckpointError(Path(vocab_file).parent, f"cannot read the tokenizer files: {err}") from err
        if not isinstance(encoder, dict):
            raise CheckpointError(vocab_file, "vocab.json is not a JSON object")
        return cls(encoder, merges, pad_token)

    def save_pretrained(self, directory: str | Path) -> list[Path]:
        """Write ``vocab.json``, ``merges.txt`` and the two HF config files as the official checkpoints have them."""
        directory = Path(directory)
        vocab_file, merges_file = directory / "vocab.json", directory / "merges.txt"
        with atomic_write(vocab_file, "w") as handle:
            handle.write(json.dumps(self.encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        with atomic_write(merges_file, "w") as handle:
            handle.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges))
        special = {name: _added_token(token) for name, token in (("bos_token", BOS), ("eos_token", EOS),
                                                                  ("unk_token", EOS))}
        write_json_atomic(directory / "special_tokens_map.json", {**special, "pad_token": self.pad_token})
        config = {**{k: {"__type": "AddedToken", **v} for k, v in special.items()}, "pad_token": self.pad_token,
                  "clean_up_tokenization_spaces": True, "errors": "replace", "model_max_length": CONTEXT_LENGTH,
                  "tokenizer_class": "CLIPTokenizer"}
        write_json_atomic(directory / "tokenizer_config.json", config)
        return [vocab_file, merges_file, directory / "special_tokens_map.json", directory / "tokenizer_config.json"]

    # -- tokenization ------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """BPE token strings of one text, without BOS/EOS."""
        tokens: list[str] = []
        for piece in _split_on_special(text):
            if piece in (BOS, EOS):
                tokens.append(piece)
                continue
            cleaned = _WHITESPACE.sub(" ", ftfy.fix_text(piece)).strip().lower()
            for word in _WORD_PATTERN.findall(cleaned):
                if word in (BOS, EOS):  # HF's bpe cache maps the special strings to themselves
                    tokens.append(word)
                    continue
                symbols = "".join(self._byte_symbols[b] for b in word.encode("utf-8"))
                tokens.extend(self.bpe(symbols).split(" "))
        return tokens

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, without BOS/EOS (unknown pieces map to the EOS id, as HF's unk)."""
        return [self.encoder.get(token, self.eos_id) for token in self.tokenize(text)]

    def __call__(self, texts: str | Sequence[str], context_length: int = CONTEXT_LENGTH) -> dict[str, torch.Tensor]:
        """Texts -> ``input_ids`` and ``attention_mask``, (B, context_length) int64, truncated and padded."""
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or isinstance(texts, (bytes, bytearray)):
            raise InputError(texts, "texts must be a string or a sequence of strings")
        if context_length < 2:
            raise InputError(context_length, "context_length must be at least 2 (BOS and EOS)")
        ids = torch.full((len(texts), context_length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), context_length), dtype=torch.long)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(text, f"a text must be a string, not {type(text).__name__}")
            tokens = [self.bos_id, *self.encode(text)[: context_length - 2], self.eos_id]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            mask[row, : len(tokens)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def _bpe(self, token: str) -> str:
        """Merge the symbols of one word (last symbol carries ``</w>``) by rank; space-separated pieces."""
        word = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda pair: self.ranks.get(pair, float("inf")))
            if best not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        return " ".join(word)


def _split_on_special(text: str) -> list[str]:
    """HF's added-token split: the literal special strings become pieces of their own (no stripping around them)."""
    return [piece for piece in _SPECIAL_SPLIT.split(text) if piece]


def _merge_pair(line: str) -> tuple[str, str]:
    parts = line.split()
    if len(parts) != 2:
        raise ValueError(f"bad merge line {line!r}")
    return parts[0], parts[1]


def _added_token(content: str) -> dict[str, object]:
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


def _pad_token(config_file: Path) -> str:
    """The pad token named by a ``tokenizer_config.json`` (LanguageBind: ``<|endoftext|>``)."""
    try:
        pad = json.loads(config_file.read_text(encoding="utf-8")).get("pad_token", EOS)
    except (OSError, ValueError):
        return EOS
    if isinstance(pad, dict):
        pad = pad.get("content", EOS)
    return pad if isinstance(pad, str) else EOS
