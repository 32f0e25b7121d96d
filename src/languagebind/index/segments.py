"""A modality's items on disk: segments of consecutive rows, each a ``.npy`` of vectors and a Parquet table.

```
<modality>/seg-000000.parquet   metadata, one row per item, row groups of ROW_GROUP rows
<modality>/seg-000000.npy       (rows, dim) float32 L2-normalised vectors (written last: the completion mark)
```
Row ``r`` of a modality is row ``r - start`` of the segment holding it. ``metadata`` reads only the one row group of
each id asked for (never the whole table); ``mask`` reads only the columns a filter names. Extra fields from the
collection (captions, categories, ...) are columns: strings, integers, floats and booleans natively (these are
filterable), lists and objects as JSON text (returned decoded, not filterable).
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import InputError
from languagebind.index.base import FilterValue
from languagebind.utils.io import atomic_write, save_npy_atomic

ROW_GROUP = 1024
JSON_FIELDS_KEY = b"languagebind.json_fields"


def segment_name(k: int) -> str:
    return f"seg-{k:06d}"


def segment_done(directory: Path, name: str) -> bool:
    return (directory / f"{name}.npy").is_file() and (directory / f"{name}.parquet").is_file()


def write_segment(directory: Path, name: str, rows: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
    """The Parquet table, then the vectors (the completion mark), each atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(rows) != len(vectors):
        raise ValueError(f"{len(rows)} metadata rows for {len(vectors)} vectors")
    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            if key not in columns:
                columns[key] = [None] * len(rows)
            columns[key][i] = value
    arrays, json_fields = {}, []
    for key, values in columns.items():
        kind = _column_kind(values)
        if kind == "json":
            json_fields.append(key)
            values = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
            kind = "string"
        arrays[key] = pa.array(values, type={"string": pa.string(), "int": pa.int64(), "float": pa.float64(),
                                             "bool": pa.bool_()}[kind])
    table = pa.table(arrays)
    table = table.replace_schema_metadata({JSON_FIELDS_KEY: json.dumps(json_fields).encode()})
    with atomic_write(directory / f"{name}.parquet") as handle:
        pq.write_table(table, handle, row_group_size=ROW_GROUP, compression="zstd")
    save_npy_atomic(directory / f"{name}.npy", np.ascontiguousarray(vectors, dtype=np.float32))


def _column_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if all(isinstance(v, str) for v in present):
        return "string"
    if all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63 for v in present):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "json"


@dataclass(frozen=True)
class Segment:
    directory: Path
    name: str
    start: int
    rows: int

    @property
    def vectors_path(self) -> Path:
        return self.directory / f"{self.name}.npy"

    @property
    def table_path(self) -> Path:
        return self.directory / f"{self.name}.parquet"


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key: Any, make: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class Segments:
    """The segments of one modality: vectors (memory-mapped) and metadata (read by row group)."""

    def __init__(self, directory: Path, entries: Sequence[tuple[str, int]]) -> None:
        self.segments: list[Segment] = []
        start = 0
        for name, rows in entries:
            self.segments.append(Segment(directory, name, start, rows))
            start += rows
        self.count = start
        self.starts = [s.start for s in self.segments]
        self._vectors = [np.load(s.vectors_path, mmap_mode="r") for s in self.segments]
        for segment, array in zip(self.segments, self._vectors, strict=True):
            if array.ndim != 2 or len(array) != segment.rows:
                raise InputError(segment.vectors_path, f"holds {array.shape}, the index expects {segment.rows} rows")
        self._lock = threading.Lock()
        self._files = _LRU(32)  # ParquetFile per segment
        self._columns = _LRU(64)  # (segment, field) -> (pyarrow array, json?)
        self._fields: list[str] | None = None

    def _locate(self, row: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.starts, row) - 1
        return k, row - self.starts[k]

    def vectors(self, k: int) -> np.ndarray:
        return self._vectors[k]

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` (any order), (len(rows), dim) float32."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self._vectors[0].shape[1]), dtype=np.float32)
        seg = np.searchsorted(np.asarray(self.starts), rows, side="right") - 1
        for k in np.unique(seg):
            where = np.nonzero(seg == k)[0]
            local = rows[where] - self.starts[k]
            order = np.argsort(local)  # sorted reads from the memory map
            out[where[order]] = self._vectors[k][local[order]]
        return out

    def iter_vectors(self, chunk: int = 65536):
        """(first row, (n, dim) float32 block) over all rows in order."""
        for segment, array in zip(self.segments, self._vectors, strict=True):
            for i in range(0, segment.rows, chunk):
                yield segment.start + i, np.ascontiguousarray(array[i:i + chunk], dtype=np.float32)

    def _file(self, k: int) -> Any:
        import pyarrow.parquet as pq

        return self._files.get_or(k, lambda: pq.ParquetFile(self.segments[k].table_path, memory_map=True))

    def fields(self) -> list[str]:
        """Union of the metadata columns of every segment (schemas only: the Parquet footers)."""
        if self._fields is None:
            with self._lock:
                names: dict[str, None] = {}
                for k in range(len(self.segments)):
                    names.update(dict.fromkeys(self._file(k).schema_arrow.names))
                self._fields = list(names)
        return self._fields

    def rows(self, rows: Sequence[int]) -> list[dict[str, Any]]:
        """Metadata of ``rows``: one row group read per distinct group asked for."""
        out: list[dict[str, Any]] = []
        with self._lock:
            groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
            for row in rows:
                k, local = self._locate(row)
                key = (k, local // ROW_GROUP)
                if key not in groups:
                    parquet = self._file(k)
                    table = parquet.read_row_group(key[1])
                    decode = set(json.loads(parquet.schema_arrow.metadata.get(JSON_FIELDS_KEY, b"[]")))
                    groups[key] = [{name: json.loads(v) if name in decode and v is not None else v
                                    for name, v in record.items()} for record in table.to_pylist()]
                out.append(dict(groups[key][local % ROW_GROUP]))
        return out

    def mask(self, filters: dict[str, list[FilterValue]]) -> np.ndarray:
        """Boolean (count,) array: rows whose every filtered field equals one of its values."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keep = np.ones(self.count, dtype=bool)
        with self._lock:
            for k, segment in enumerate(self.segments):
                part = keep[segment.start:segment.start + segment.rows]
                for field, values in filters.items():
                    column, is_json = self._columns.get_or((k, field), lambda k=k, field=field: self._column(k, field))
                    if column is None or is_json:
                        part[:] = False
                        continue
                    typed = _cast_values(values, column.type)
                    if not typed:
                        part[:] = False
                        continue
                    hit = pc.is_in(column, value_set=pa.array(typed, type=column.type))
                    part &= np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        return keep

    def _column(self, k: int, field: str) -> tuple[Any, bool]:
        parquet = self._file(k)
        if field not in parquet.schema_arrow.names:
            return None, False
        decode = set(json.loads(parquet.schema_arrow.metadata.get(JSON_FIELDS_KEY, b"[]")))
        return parquet.read(columns=[field]).column(field).combine_chunks(), field in decode


def _cast_values(values: list[FilterValue], arrow_type: Any) -> list[Any]:
    """The filter values that can equal a value of this column type (a string never equals a number)."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return [v for v in values if isinstance(v, str)]
    if pa.types.is_boolean(arrow_type):
        return [v for v in values if isinstance(v, bool)]
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if pa.types.is_integer(arrow_type):
        return [int(v) for v in numbers if float(v).is_integer()]
    return [float(v) for v in numbers]
