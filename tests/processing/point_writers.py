"""Writers of point-cloud, mesh and IMU files in their real formats, for the tests (no library involved)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PLY_TYPES = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}


def grid_points(count: int, seed: int = 0, normals: bool = True) -> np.ndarray:
    """(count, 6) or (count, 3) values that are multiples of 1/1024: exact in float32 and in decimal text."""
    rng = np.random.default_rng(seed)
    points = rng.integers(-2048, 2048, size=(count, 3)) / 1024.0
    if not normals:
        return points
    return np.concatenate([points, rng.integers(-1024, 1024, size=(count, 3)) / 1024.0], axis=1)


def write_ply(path: Path, points: np.ndarray, fmt: str = "ascii", faces: np.ndarray | None = None,
              colour: bool = True) -> Path:
    """A PLY file: vertex x y z (float) [nx ny nz] [red green blue uchar], optional faces (uchar count, int idx)."""
    order = PLY_TYPES[fmt]
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if points.shape[1] == 6 else [])
    header = ["ply", f"format {fmt} 1.0", "comment written by the languagebind tests", "obj_info test",
              f"element vertex {len(points)}"]
    header += [f"property float {n}" for n in names]
    if colour:
        header += [f"property uchar {c}" for c in ("red", "green", "blue")]
    if faces is not None:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    header.append("end_header")
    head = ("\n".join(header) + "\n").encode("ascii")
    colours = (np.arange(len(points) * 3).reshape(-1, 3) % 256).astype(np.uint8)
    if fmt == "ascii":
        rows = []
        for i, p in enumerate(points):
            cells = [repr(float(v)) for v in p] + ([str(int(c)) for c in colours[i]] if colour else [])
            rows.append(" ".join(cells))
        for face in faces if faces is not None else []:
            rows.append(" ".join([str(len(face)), *map(str, face)]))
        path.write_bytes(head + ("\n".join(rows) + "\n").encode("ascii"))
        return path
    fields = [(n, order + "f4") for n in names] + ([(c, "u1") for c in ("r", "g", "b")] if colour else [])
    vertex = np.zeros(len(points), dtype=np.dtype(fields))
    for i, n in enumerate(names):
        vertex[n] = points[:, i]
    if colour:
        for i, c in enumerate(("r", "g", "b")):
            vertex[c] = colours[:, i]
    body = vertex.tobytes()
    for face in faces if faces is not None else []:
        body += np.uint8(len(face)).tobytes() + np.asarray(face, dtype=order + "i4").tobytes()
    path.write_bytes(head + body)
    return path


def write_off(path: Path, vertices: np.ndarray, faces: list[list[int]], modelnet_header: bool = False) -> Path:
    """An OFF mesh; ``modelnet_header`` runs the counts into the keyword as ModelNet40's files do."""
    counts = f"{len(vertices)} {len(faces)} 0"
    lines = [f"OFF{counts}"] if modelnet_header else ["OFF", "# a comment", counts]
    lines += [" ".join(repr(float(v)) for v in vertex) for vertex in vertices]
    lines += [" ".join([str(len(face)), *map(str, face)]) for face in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_table(path: Path, rows: np.ndarray, separator: str = ",", header: str | None = None) -> Path:
    """Numbers, one row per line (``x,y,z,nx,ny,nz`` for ModelNet40's .txt)."""
    lines = [header] if header is not None else []
    lines += [separator.join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def cube_mesh() -> tuple[np.ndarray, list[list[int]]]:
    """The cube [-1, 1]^3 as 8 vertices and 6 quads (so polygons are split into fans)."""
    vertices = np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return vertices, quads
