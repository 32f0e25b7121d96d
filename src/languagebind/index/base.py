"""What every index backend shares: the ``Hit`` type, id grammar, and the checks made before any lookup."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from languagebind.errors import InputError

MAX_K = 10_000  # results per query
MAX_QUERIES = 4096  # queries per call
MAX_IDS = 10_000  # ids per metadata call
MAX_FILTER_VALUES = 1024  # values in one in-list filter
NORM_TOLERANCE = 1e-2  # |‖q‖ - 1| allowed for an "L2-normalised" query

MODALITY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
_ID_PATTERN = re.compile(r"([a-z][a-z0-9_]{0,31}):(0|[1-9][0-9]{0,11})")
# Columns every metadata row has; any other column came from the collection (e.g. a caption).
RESERVED_FIELDS = ("id", "modality", "path", "source")
FilterValue = str | int | float | bool


@dataclass(frozen=True)
class Hit:
    """One search result: the item's id, its cosine similarity to the query and its modality."""

    id: str
    score: float
    modality: str


def make_id(modality: str, row: int) -> str:
    return f"{modality}:{row}"


def parse_id(item: object) -> tuple[str, int]:
    """``"<modality>:<row>"`` -> ``(modality, row)``; anything else (type, length, characters) -> InputError.

    Ids come from clients: they are checked against this grammar before they reach any table, so a path, a
    traversal or an absurd number never does."""
    if not isinstance(item, str) or len(item) > 48:
        raise InputError(item if isinstance(item, str) else f"<{type(item).__name__}>",
                         'not an index id (expected "<modality>:<row>", e.g. "image:12")')
    match = _ID_PATTERN.fullmatch(item)
    if match is None:
        raise InputError(item, 'not an index id (expected "<modality>:<row>", e.g. "image:12")')
    return match.group(1), int(match.group(2))


def check_modality_name(name: str) -> str:
    if not isinstance(name, str) or MODALITY_PATTERN.fullmatch(name) is None:
        raise InputError(str(name), "not a modality name (lower-case letters, digits and _, at most 32)")
    return name


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k={k!r}", "k must be an integer")
    if not 1 <= int(k) <= MAX_K:
        raise InputError(f"k={k}", f"k must be between 1 and {MAX_K}")
    return int(k)


def check_queries(queries: object, dim: int) -> np.ndarray:
    """(n, dim) finite, L2-normalised float32 rows (a single (dim,) row is accepted as n = 1)."""
    if not isinstance(queries, np.ndarray):
        raise InputError(f"<{type(queries).__name__}>", "queries must be a numpy array of shape (n, dim)")
    array = queries[None] if queries.ndim == 1 else queries
    if array.ndim != 2 or array.shape[1] != dim or not 1 <= array.shape[0] <= MAX_QUERIES:
        raise InputError(f"queries {tuple(queries.shape)}",
                         f"expected shape (n, {dim}) with 1 <= n <= {MAX_QUERIES}")
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"queries {array.dtype}", "queries must be floating point")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise InputError("queries", "contain NaN or infinity")
    norms = np.linalg.norm(array, axis=1)
    if np.any(np.abs(norms - 1.0) > NORM_TOLERANCE):
        raise InputError("queries", f"rows must be L2-normalised (norms from {norms.min():.3g} to {norms.max():.3g})")
    return array


def check_filters(filters: Mapping[str, Any] | None, fields: Sequence[str]) -> dict[str, list[FilterValue]]:
    """``{field: value}`` (exact match) or ``{field: [values]}`` (in-list), all fields ANDed -> field -> values."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise InputError(f"<{type(filters).__name__}>", "filters must be a mapping of field -> value or [values]")
    out: dict[str, list[FilterValue]] = {}
    for field, value in filters.items():
        if not isinstance(field, str) or field not in fields:
            raise InputError(f"filter field {field!r}", f"unknown; fields: {', '.join(fields)}")
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not 1 <= len(values) <= MAX_FILTER_VALUES:
            raise InputError(f"filter {field}", f"needs 1 to {MAX_FILTER_VALUES} values")
        for v in values:
            if not isinstance(v, (str, int, float, bool)) or (isinstance(v, float) and not math.isfinite(v)):
                raise InputError(f"filter {field}", f"values must be strings, numbers or booleans, got {v!r}"[:200])
        out[field] = values
    return out


def check_ids(ids: object) -> list[tuple[str, int]]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise InputError(f"<{type(ids).__name__}>", "ids must be a list of id strings")
    if len(ids) > MAX_IDS:
        raise InputError(f"{len(ids)} ids", f"at most {MAX_IDS} per call")
    return [parse_id(i) for i in ids]


class IndexStore(ABC):
    """A set of per-modality vector indexes in one embedding space, with a metadata table per item.

    Subclasses implement ``_search`` and ``_metadata``; the checks (modality, k, query shape and norm, filters,
    id grammar) are made here, once, for every backend."""

    backend: str = ""

    @property
    @abstractmethod
    def modalities(self) -> list[str]: ...

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def count(self, modality: str) -> int: ...

    @abstractmethod
    def fields(self, modality: str) -> list[str]:
        """Metadata fields (filterable) of ``modality``'s items."""

    @abstractmethod
    def _search(self, modality: str, queries: np.ndarray, k: int,
                filters: dict[str, list[FilterValue]]) -> list[list[Hit]]: ...

    @abstractmethod
    def _metadata(self, rows: list[tuple[str, int]]) -> list[dict[str, Any] | None]: ...

    def describe(self) -> dict[str, Any]:
        """What each modality holds (count, index type): for ``GET /indices`` and logs."""
        return {m: {"count": self.count(m)} for m in self.modalities}

    def close(self) -> None:  # noqa: B027 (optional for backends holding nothing)
        """Release files and connections."""

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_modality(self, modality: object) -> str:
        if not isinstance(modality, str) or modality not in self.modalities:
            raise InputError(str(modality)[:64], f"no such index; indexes: {', '.join(self.modalities)}")
        return modality

    def search(self, modality: str, queries: np.ndarray, k: int,
               filters: Mapping[str, Any] | None = None) -> list[list[Hit]]:
        """For each query row, the ``k`` most similar items of ``modality`` (fewer when fewer exist or match
        ``filters``), best first. Scores are inner products = cosines on L2-normalised vectors."""
        modality = self.check_modality(modality)
        k = check_k(k)
        queries = check_queries(queries, self.dim)
        checked = check_filters(filters, self.fields(modality))
        return self._search(modality, queries, min(k, self.count(modality)), checked)

    def metadata(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """The metadata row of each id (``None`` for a well-formed id that is not in the index); a malformed id
        raises ``InputError`` before anything is read."""
        rows = check_ids(ids)
        known = [(m, r) if m in self.modalities and r < self.count(m) else None for m, r in rows]
        wanted = [x for x in known if x is not None]
        found = iter(self._metadata(wanted)) if wanted else iter(())
        return [None if x is None else next(found) for x in known]
