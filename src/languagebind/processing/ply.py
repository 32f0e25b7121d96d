"""PLY files (ascii, binary_little_endian, binary_big_endian) -> a ``Cloud``: the vertices' x, y, z (+ nx, ny, nz)
and the faces, split into triangle fans; declared sizes are checked against the limits before the data are read."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from languagebind.errors import InputError
from languagebind.processing.clouds import Cloud, PointFileLimits, fan_triangles, polygon_fans
from languagebind.processing.inputs import decode_errors

PLY_HEADER_LIMIT = 1 << 16
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
_PLY_FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}


@dataclass(frozen=True)
class _Property:
    name: str
    dtype: str  # numpy kind + size, e.g. "f4"
    count_dtype: str | None = None  # list properties: the type of the count


@dataclass(frozen=True)
class _Element:
    name: str
    count: int
    properties: tuple[_Property, ...]

    @property
    def fixed(self) -> bool:
        return all(p.count_dtype is None for p in self.properties)


def read_ply(item: object, data: bytes, limits: PointFileLimits) -> Cloud:
    """A PLY file (ascii, binary_little_endian or binary_big_endian): vertices x, y, z (+ nx, ny, nz) and the
    faces' ``vertex_indices`` (or ``vertex_index``) when present. Other elements and properties are skipped."""
    fmt, elements, start = _ply_header(item, data, limits)
    vertex = next((e for e in elements if e.name == "vertex"), None)
    if vertex is None:
        raise InputError(item, "unreadable PLY header: no 'vertex' element")
    names = [p.name for p in vertex.properties]
    missing = [axis for axis in "xyz" if axis not in names]
    if missing:
        raise InputError(item, f"unreadable PLY header: the vertex element has no {', '.join(missing)} property")
    limits.check_points(item, vertex.count)
    wanted = {"vertex", "face"}
    last = max(i for i, e in enumerate(elements) if e.name in wanted)
    with decode_errors(item, "a PLY file"):
        if fmt == "ascii":
            tables = _ply_ascii(item, data[start:], elements[: last + 1])
        else:
            tables = _ply_binary(item, data, start, _PLY_FORMATS[fmt], elements[: last + 1])
    table = tables["vertex"]
    points = np.stack([np.asarray(table["xyz"[i]], dtype=np.float64) for i in range(3)], axis=1)
    normals = None
    if all(n in names for n in ("nx", "ny", "nz")):
        normals = np.stack([np.asarray(table[n], dtype=np.float64) for n in ("nx", "ny", "nz")], axis=1)
    triangles = None
    if "face" in tables:
        faces = tables["face"]
        key = next((k for k in ("vertex_indices", "vertex_index") if k in faces), None)
        if key is not None:
            triangles = _ply_triangles(item, faces[key], vertex.count)
    return Cloud(points, normals, triangles)


def _ply_header(item: object, data: bytes, limits: PointFileLimits) -> tuple[str, list[_Element], int]:
    if not data.startswith(b"ply"):
        raise InputError(item, "unreadable PLY header: the file does not start with 'ply'")
    match = re.search(rb"end_header[ \t]*\r?\n", data[:PLY_HEADER_LIMIT])
    if match is None:
        raise InputError(item, f"unreadable PLY header: no 'end_header' line in the first {PLY_HEADER_LIMIT} bytes")
    try:
        header = data[: match.start()].decode("ascii")
    except UnicodeDecodeError as err:
        raise InputError(item, "unreadable PLY header: not ASCII text") from err
    fmt = None
    declared: list[tuple[str, int, list[_Property]]] = []
    for number, raw_line in enumerate(header.splitlines()[1:], start=2):
        words = raw_line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            if len(words) < 2 or words[1] not in _PLY_FORMATS:
                raise InputError(item, f"unreadable PLY header: line {number}: unknown format {raw_line.strip()!r}")
            fmt = words[1]
        elif words[0] == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise InputError(item, f"unreadable PLY header: line {number}: bad element line {raw_line.strip()!r}")
            declared.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            if not declared:
                raise InputError(item, f"unreadable PLY header: line {number}: property before any element")
            declared[-1][2].append(_ply_property(item, words, number))
        else:
            raise InputError(item, f"unreadable PLY header: line {number}: unknown keyword {words[0]!r}")
    if fmt is None:
        raise InputError(item, "unreadable PLY header: no 'format' line")
    elements = [_Element(name, count, tuple(props)) for name, count, props in declared]
    for element in elements:
        if element.name == "vertex":
            limits.check_points(item, element.count)
    return fmt, elements, match.end()


def _ply_property(item: object, words: list[str], number: int) -> _Property:
    if len(words) == 5 and words[1] == "list":
        count_type, value_type = _PLY_TYPES.get(words[2]), _PLY_TYPES.get(words[3])
        if count_type is None or value_type is None or count_type[0] == "f":
            raise InputError(item, f"unreadable PLY header: line {number}: bad list types {words[2]} {words[3]}")
        return _Property(words[4], value_type, count_type)
    if len(words) == 3 and words[1] in _PLY_TYPES:
        return _Property(words[2], _PLY_TYPES[words[1]])
    raise InputError(item, f"unreadable PLY header: line {number}: bad property line {' '.join(words)!r}")


def _ply_ascii(item: object, body: bytes, elements: list[_Element]) -> dict[str, dict[str, object]]:
    lines = [line for line in body.decode("ascii").splitlines() if line.strip()]
    tables: dict[str, dict[str, object]] = {}
    row = 0
    for element in elements:
        rows = lines[row: row + element.count]
        row += element.count
        if len(rows) < element.count:
            raise InputError(item, f"truncated: element {element.name!r} declares {element.count} rows, "
                                   f"the file has {len(rows)}")
        if element.fixed:
            values = np.array(" ".join(rows).split(), dtype=np.float64)
            width = len(element.properties)
            if values.size != element.count * width:
                raise InputError(item, f"element {element.name!r}: expected {width} values per line")
            values = values.reshape(element.count, width)
            tables[element.name] = {p.name: values[:, i] for i, p in enumerate(element.properties)}
        else:
            tables[element.name] = _ply_ascii_lists(item, element, rows)
    return tables


def _ply_ascii_lists(item: object, element: _Element, rows: list[str]) -> dict[str, object]:
    columns: dict[str, list] = {p.name: [] for p in element.properties}
    for number, line in enumerate(rows):
        words = line.split()
        at = 0
        for prop in element.properties:
            if prop.count_dtype is None:
                columns[prop.name].append(float(words[at]))
                at += 1
            else:
                count = int(words[at])
                values = words[at + 1: at + 1 + count]
                if len(values) != count:
                    raise InputError(item, f"element {element.name!r} row {number}: list shorter than its count")
                columns[prop.name].append([int(float(v)) for v in values])
                at += 1 + count
    return columns


def _ply_binary(item: object, data: bytes, offset: int, order: str,
                elements: list[_Element]) -> dict[str, dict[str, object]]:
    tables: dict[str, dict[str, object]] = {}
    for element in elements:
        if element.fixed:
            dtype = np.dtype([(f"p{i}", order + p.dtype) for i, p in enumerate(element.properties)])
            need = dtype.itemsize * element.count
            if offset + need > len(data):
                raise InputError(item, f"truncated: element {element.name!r} needs {need} bytes, "
                                       f"{len(data) - offset} left")
            array = np.frombuffer(data, dtype, element.count, offset)
            tables[element.name] = {p.name: array[f"p{i}"] for i, p in enumerate(element.properties)}
            offset += need
        else:
            tables[element.name], offset = _ply_binary_lists(item, data, offset, order, element)
    return tables


def _ply_binary_lists(item: object, data: bytes, offset: int, order: str,
                      element: _Element) -> tuple[dict[str, object], int]:
    """An element with list properties: one vectorised read when every list has the first row's length (the
    usual all-triangles mesh), else row by row."""
    uniform = _ply_uniform_dtype(data, offset, order, element)
    if uniform is not None:
        dtype, counts = uniform
        need = dtype.itemsize * element.count
        if offset + need <= len(data):
            array = np.frombuffer(data, dtype, element.count, offset)
            if all((array[f"n{i}"] == c).all() for i, c in counts.items()):
                return {p.name: array[f"p{i}"] for i, p in enumerate(element.properties)}, offset + need
    columns: dict[str, list] = {p.name: [] for p in element.properties}
    for _ in range(element.count):
        for prop in element.properties:
            if prop.count_dtype is None:
                value, offset = _ply_read(item, data, offset, order + prop.dtype, 1)
                columns[prop.name].append(value[0])
            else:
                count, offset = _ply_read(item, data, offset, order + prop.count_dtype, 1)
                values, offset = _ply_read(item, data, offset, order + prop.dtype, int(count[0]))
                columns[prop.name].append(values.tolist())
    return columns, offset


def _ply_uniform_dtype(data: bytes, offset: int, order: str,
                       element: _Element) -> tuple[np.dtype, dict[int, int]] | None:
    fields: list[tuple] = []
    counts: dict[int, int] = {}
    at = offset
    for i, prop in enumerate(element.properties):
        if prop.count_dtype is None:
            fields.append((f"p{i}", order + prop.dtype))
            at += np.dtype(prop.dtype).itemsize
            continue
        size = np.dtype(prop.count_dtype).itemsize
        if at + size > len(data):
            return None
        count = int(np.frombuffer(data, order + prop.count_dtype, 1, at)[0])
        fields += [(f"n{i}", order + prop.count_dtype), (f"p{i}", order + prop.dtype, (count,))]
        counts[i] = count
        at += size + count * np.dtype(prop.dtype).itemsize
    return np.dtype(fields), counts


def _ply_read(item: object, data: bytes, offset: int, dtype: str, count: int) -> tuple[np.ndarray, int]:
    size = np.dtype(dtype).itemsize * count
    if count < 0 or offset + size > len(data):
        raise InputError(item, "truncated: the PLY data end inside an element")
    return np.frombuffer(data, dtype, count, offset), offset + size


def _ply_triangles(item: object, faces: object, n_vertices: int) -> np.ndarray | None:
    if isinstance(faces, np.ndarray):
        array = faces.astype(np.int64)
        if array.ndim != 2 or array.shape[1] < 3:
            return None
        triangles = fan_triangles(array, array.shape[1])
        if triangles.size and (triangles.min() < 0 or triangles.max() >= n_vertices):
            raise InputError(item, f"a face refers to a vertex outside 0..{n_vertices - 1}")
        return triangles
    return polygon_fans(item, [list(map(int, f)) for f in faces], n_vertices)  # type: ignore[union-attr]
