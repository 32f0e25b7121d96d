"""Point-cloud and mesh files -> arrays: ``.npy`` / ``.npz``, ``.ply`` (ASCII and binary, both byte orders),
``.off``, ``.xyz`` / ``.txt`` / ``.pts`` (ModelNet40's ``x,y,z,nx,ny,nz`` lines, or whitespace) and HDF5
(``.h5`` / ``.hdf5``; one cloud of a batch file addressed as ``file.h5#index``).

Every reader returns a ``Cloud``: points (N, 3) float64, normals (N, 3) or None, and triangles (F, 3) int64 or
None (a mesh; polygons are split into fans: ``clouds.py``). PLY has its own reader (``ply.py``). Nothing here
resamples or normalises (``pointcloud.py`` does).
Bad files raise ``InputError(item, reason)``; declared sizes are checked against the limits before the data
are read.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from languagebind.errors import InputError
from languagebind.processing.clouds import Cloud, PointFileLimits, polygon_fans
from languagebind.processing.inputs import decode_errors, existing_file
from languagebind.processing.ply import read_ply

TEXT_SUFFIXES = (".xyz", ".txt", ".pts")
HDF5_SUFFIXES = (".h5", ".hdf5")
SUFFIXES = (".npy", ".npz", ".ply", ".off", *TEXT_SUFFIXES, *HDF5_SUFFIXES)
MEMBER_SEPARATOR = "#"
_NPZ_POINT_KEYS = ("points", "point_cloud", "pointcloud", "xyz", "pos", "data")
_NPZ_NORMAL_KEYS = ("normals", "normal")
_H5_POINT_KEYS = ("data", "points", "point_cloud", "xyz")
_H5_NORMAL_KEYS = ("normal", "normals")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$", re.IGNORECASE)


def split_member(item: str | Path) -> tuple[Path, str | None]:
    """``"a.h5#12"`` -> ``(Path("a.h5"), "12")`` when ``a.h5`` is a file and ``a.h5#12`` is not; else (path, None)."""
    path = Path(item)
    if MEMBER_SEPARATOR in path.name and not path.exists():
        name, _, member = path.name.rpartition(MEMBER_SEPARATOR)
        container = path.with_name(name)
        if container.suffix.lower() in HDF5_SUFFIXES:
            return container, member
    return path, None


def read_cloud(item: object, limits: PointFileLimits) -> Cloud:
    """A path (any of ``SUFFIXES``), an array / tensor (N, 3) or (N, 6), or a ``Cloud`` -> ``Cloud``."""
    if isinstance(item, Cloud):
        return item
    if isinstance(item, (str, Path)):
        return _read_file(item, limits)
    if isinstance(item, np.ndarray) or hasattr(item, "detach"):
        array = item.detach().cpu().numpy() if hasattr(item, "detach") else item
        return cloud_from_array(array, item, limits)
    raise InputError(item, f"expected a point-cloud file path or an (N, 3) / (N, 6) array, got {type(item).__name__}")


def cloud_from_array(array: np.ndarray, item: object, limits: PointFileLimits, what: str = "array") -> Cloud:
    """An (N, 3) or (N, 6) numeric array (xyz, or xyz + normals) -> ``Cloud``; a leading axis of 1 is dropped."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.dtype.kind not in "fiub":
        raise InputError(item, f"point {what} must be numeric, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] not in (3, 6):
        raise InputError(item, f"point {what} must be N x 3 (xyz) or N x 6 (xyz + normals), got shape "
                               f"{tuple(array.shape)}")
    limits.check_points(item, array.shape[0])
    array = array.astype(np.float64)
    return Cloud(array[:, :3], array[:, 3:] if array.shape[1] == 6 else None)


def _read_file(item: str | Path, limits: PointFileLimits) -> Cloud:
    path, member = split_member(item)
    path = existing_file(path)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise InputError(item, f"file too large: {size / 1e6:.1f} MB (limit {limits.max_file_bytes / 1e6:g} MB, "
                               "max_file_bytes)")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with decode_errors(item, "a point array (.npy)"):
            array = np.load(path, allow_pickle=False, mmap_mode="r")
        if array.ndim >= 1:
            limits.check_points(item, array.shape[0] if array.ndim != 3 else array.shape[1])
        return cloud_from_array(np.asarray(array), item, limits)
    if suffix == ".npz":
        return _read_npz(item, path, limits)
    if suffix == ".ply":
        return read_ply(item, path.read_bytes(), limits)
    if suffix == ".off":
        return read_off(item, _text(item, path), limits)
    if suffix in TEXT_SUFFIXES:
        return read_xyz(item, _text(item, path), limits)
    if suffix in HDF5_SUFFIXES:
        return _read_hdf5(item, path, member, limits)
    raise InputError(item, f"unknown point-cloud file kind {suffix or '(no suffix)'!r}; known: {', '.join(SUFFIXES)}")


def _text(item: object, path: Path) -> str:
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        raise InputError(item, "binary data where a text point file was expected")
    with decode_errors(item, "a text point file"):
        return data.decode("utf-8")


# -- numpy ---------------------------------------------------------------------------------------------
def _read_npz(item: object, path: Path, limits: PointFileLimits) -> Cloud:
    with decode_errors(item, "a point archive (.npz)"), np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        key = next((k for k in _NPZ_POINT_KEYS if k in names), None)
        if key is None and len(names) == 1:
            key = names[0]
        if key is None:
            raise InputError(item, f"no point array: name it 'points' or keep one array (found {', '.join(names)})")
        cloud = cloud_from_array(archive[key], item, limits, f"array {key!r}")
        normal_key = next((k for k in _NPZ_NORMAL_KEYS if k in names and k != key), None)
        if normal_key is None or cloud.normals is not None:
            return cloud
        normals = np.asarray(archive[normal_key])
    if normals.shape != cloud.points.shape:
        raise InputError(item, f"normals {tuple(normals.shape)} do not match points {tuple(cloud.points.shape)}")
    return Cloud(cloud.points, normals.astype(np.float64))


def _read_hdf5(item: object, path: Path, member: str | None, limits: PointFileLimits) -> Cloud:
    import h5py

    with decode_errors(item, "an HDF5 point file"), h5py.File(path, "r") as handle:
        names = [k for k in handle if isinstance(handle[k], h5py.Dataset)]
        key = next((k for k in _H5_POINT_KEYS if k in names), None)
        if key is None:
            raise InputError(item, f"no point dataset ('data' or 'points'); found {', '.join(names) or 'none'}")
        dataset = handle[key]
        normal_key = next((k for k in _H5_NORMAL_KEYS if k in names), None)
        if dataset.ndim == 3:
            if member is None:
                raise InputError(item, f"holds {dataset.shape[0]} clouds; address one as '{path.name}#INDEX'")
            index = _member_index(item, member, dataset.shape[0])
            limits.check_points(item, dataset.shape[1])
            array = np.asarray(dataset[index])
            normals = np.asarray(handle[normal_key][index]) if normal_key else None
        elif member is not None:
            raise InputError(item, f"dataset {key!r} holds one cloud {tuple(dataset.shape)}; drop '#{member}'")
        else:
            limits.check_points(item, dataset.shape[0])
            array = np.asarray(dataset)
            normals = np.asarray(handle[normal_key]) if normal_key else None
    cloud = cloud_from_array(array, item, limits, f"dataset {key!r}")
    if normals is None or cloud.normals is not None:
        return cloud
    if normals.shape != cloud.points.shape:
        raise InputError(item, f"normals {tuple(normals.shape)} do not match points {tuple(cloud.points.shape)}")
    return Cloud(cloud.points, normals.astype(np.float64))


def _member_index(item: object, member: str, count: int) -> int:
    if not member.isdigit():
        raise InputError(item, f"member {member!r} is not a cloud index (use '#0' .. '#{count - 1}')")
    index = int(member)
    if index >= count:
        raise InputError(item, f"cloud index {index} out of range: the file holds {count} clouds")
    return index


# -- text: xyz / txt / pts -----------------------------------------------------------------------------
def read_xyz(item: object, text: str, limits: PointFileLimits) -> Cloud:
    """Lines of 3 (xyz) or 6 (xyz + normals) numbers, separated by commas, semicolons or whitespace.

    ``#`` / ``//`` lines are comments. A first line of names (``x y z nx ny nz``) is a header: then the
    columns are found by name (``x``, ``y``, ``z``, ``nx``, ``ny``, ``nz``) and others are ignored.
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "//"))]
    if not lines:
        raise InputError(item, "no points (the file holds no data lines)")
    columns: list[int] | None = None
    first = _cells(lines[0])
    if not all(_NUMBER.match(cell) for cell in first):
        columns = _named_columns(item, [c.lower() for c in first])
        lines = lines[1:]
        if not lines:
            raise InputError(item, "no points (a header line only)")
    limits.check_points(item, len(lines))
    with decode_errors(item, "a text point file"):
        try:
            table = np.loadtxt(io.StringIO("\n".join(lines).replace(",", " ").replace(";", " ")), dtype=np.float64,
                               ndmin=2)
        except ValueError as err:  # say which line is wrong
            widths = [len(_cells(line)) for line in lines]
            if min(widths) != max(widths):
                line = next(i for i, w in enumerate(widths) if w != widths[0])
                raise InputError(item, f"lines hold different numbers of values: {widths[0]} on the first data "
                                       f"line, {widths[line]} on data line {line + 1}") from err
            raise InputError(item, f"not a table of numbers ({str(err).split(';')[0]})") from err
    if columns is not None:
        table = table[:, columns]
    elif table.shape[1] not in (3, 6):
        raise InputError(item, f"{table.shape[1]} numbers per line; expected 3 (x y z) or 6 (x y z nx ny nz) "
                               "(or a header line naming the columns)")
    return cloud_from_array(table, item, limits, "table")


def _cells(line: str) -> list[str]:
    return [c for c in re.split(r"[,;\s]+", line.strip()) if c]


def _named_columns(item: object, names: list[str]) -> list[int]:
    wanted = ["x", "y", "z"]
    if not all(name in names for name in wanted):
        raise InputError(item, f"the header names no x, y, z columns ({', '.join(names)})")
    if all(name in names for name in ("nx", "ny", "nz")):
        wanted += ["nx", "ny", "nz"]
    return [names.index(name) for name in wanted]


# -- OFF -----------------------------------------------------------------------------------------------
def read_off(item: object, text: str, limits: PointFileLimits) -> Cloud:
    """Object File Format: ``[C][N]OFF``, counts ``V F E``, V vertex lines, F face lines ``n i1 .. in``.

    Also reads ModelNet40's files whose first line runs the counts into the keyword (``OFF1234 567 0``).
    """
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    match = re.match(r"^(ST)?(C)?(N)?(4)?OFF(.*)$", lines[0] if lines else "")
    if not match:
        raise InputError(item, "not an OFF file (the first line must start with 'OFF')")
    if match.group(4) or match.group(1):
        raise InputError(item, f"{lines[0].split()[0]!r}: 4-D or texture-coordinate OFF files are not supported")
    has_normals = bool(match.group(3))
    rest = match.group(5).split()
    header_line = 1
    if not rest:
        if len(lines) < 2:
            raise InputError(item, "OFF header without vertex/face counts")
        rest, header_line = lines[1].split(), 2
    try:
        n_vertices, n_faces = int(rest[0]), int(rest[1])
    except (IndexError, ValueError) as err:
        raise InputError(item, f"bad OFF counts line {' '.join(rest)!r} (expected 'vertices faces edges')") from err
    if n_vertices < 0 or n_faces < 0:
        raise InputError(item, "negative OFF counts")
    limits.check_points(item, n_vertices)
    body = lines[header_line:]
    if len(body) < n_vertices + n_faces:
        raise InputError(item, f"truncated: the header declares {n_vertices} vertices and {n_faces} faces but the "
                               f"file has {len(body)} data lines")
    with decode_errors(item, "an OFF file"):
        rows = [row.split() for row in body[:n_vertices]]
        width = 6 if has_normals else 3
        if any(len(row) < width for row in rows):
            raise InputError(item, f"a vertex line has fewer than {width} numbers")
        vertices = np.array([row[:width] for row in rows], dtype=np.float64).reshape(n_vertices, width)
        polygons = [[int(v) for v in row.split()] for row in body[n_vertices:n_vertices + n_faces]]
    triangles = polygon_fans(item, [p[1:1 + p[0]] if p and len(p) > p[0] else None for p in polygons], n_vertices)
    normals = vertices[:, 3:6] if has_normals else None
    return Cloud(vertices[:, :3], normals, triangles)
