"""Point clouds: every file format gives the same tensor, preprocessing is deterministic, bad files are named."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from languagebind.errors import ConfigError, InputError
from languagebind.processing.pointcloud import PointCloudConfig, farthest_point_order, load_point_cloud
from languagebind.processing.pointfiles import PointFileLimits, read_cloud, split_member
from tests.processing.point_writers import cube_mesh, grid_points, write_off, write_ply, write_table

WITH_NORMALS = PointCloudConfig(num_points=128, normals=True, min_points=16)
XYZ = PointCloudConfig(num_points=128, min_points=16)


def every_format(folder: Path, cloud: np.ndarray) -> list[object]:
    """The same (N, 6) cloud in every accepted form."""
    xyz, normals = cloud[:, :3], cloud[:, 3:]
    np.save(folder / "a.npy", cloud)
    np.savez(folder / "named.npz", points=cloud, other=np.zeros(3))
    np.savez(folder / "only.npz", anything=cloud.astype(np.float32))
    np.savez(folder / "split.npz", points=xyz, normals=normals)
    with h5py.File(folder / "one.h5", "w") as handle:
        handle["data"] = xyz.astype(np.float32)
        handle["normal"] = normals.astype(np.float32)
    with h5py.File(folder / "batch.h5", "w") as handle:
        handle["data"] = np.stack([np.zeros_like(xyz), xyz, xyz * 2]).astype(np.float32)
        handle["normal"] = np.stack([normals, normals, normals]).astype(np.float32)
        handle["label"] = np.array([[0], [1], [2]], dtype=np.uint8)
    return [
        cloud, torch.from_numpy(cloud), folder / "a.npy", folder / "named.npz", folder / "only.npz",
        folder / "split.npz", str(folder / "one.h5"), f"{folder / 'batch.h5'}#1",
        write_ply(folder / "ascii.ply", cloud, "ascii"),
        write_ply(folder / "le.ply", cloud, "binary_little_endian"),
        write_ply(folder / "be.ply", cloud, "binary_big_endian", colour=False),
        write_table(folder / "modelnet.txt", cloud, ","),
        write_table(folder / "spaces.xyz", cloud, " "),
        write_table(folder / "tabs.pts", cloud, "\t"),
        write_table(folder / "header.txt", np.concatenate([cloud[:, 3:], cloud[:, :3]], axis=1), " ",
                    header="nx ny nz x y z"),
    ]


def test_every_format_gives_the_same_tensor(tmp_path: Path) -> None:
    cloud = grid_points(300)
    expected = load_point_cloud(cloud, WITH_NORMALS)
    assert expected.shape == (128, 6) and expected.dtype == torch.float32
    for item in every_format(tmp_path, cloud):
        assert torch.equal(load_point_cloud(item, WITH_NORMALS), expected), item
    assert torch.equal(load_point_cloud(tmp_path / "le.ply", XYZ), expected[:, :3])


def test_unit_sphere_centre_and_fps_order(tmp_path: Path) -> None:
    cloud = grid_points(1000, normals=False) * 7.0 + 3.0
    out = load_point_cloud(cloud, XYZ).double()
    radius = out.norm(dim=1)
    assert radius.max().item() == pytest.approx(1.0, abs=1e-6)
    assert out.mean(0).abs().max().item() < 1e-6
    assert torch.unique(out, dim=0).shape[0] == 128
    # the output is in FPS order: FPS from index 0 over it returns it unchanged
    assert farthest_point_order(out.numpy(), 128, 0).tolist() == list(range(128))
    # the farthest point of the input (from the centroid) comes first
    centred = cloud - cloud.mean(0)
    assert int(np.argmax((centred ** 2).sum(1))) in np.flatnonzero(
        np.isclose(((centred ** 2).sum(1)), ((centred ** 2).sum(1)).max()))


def test_deterministic_and_order_invariant(tmp_path: Path) -> None:
    cloud = np.random.default_rng(0).normal(size=(1000, 3))  # below the thinning threshold (8 x 128), no ties
    write_table(tmp_path / "a.txt", cloud)
    write_table(tmp_path / "shuffled.txt", cloud[np.random.default_rng(1).permutation(len(cloud))])
    first = load_point_cloud(tmp_path / "a.txt", XYZ)
    assert torch.equal(first, load_point_cloud(tmp_path / "a.txt", XYZ))
    assert torch.equal(first, load_point_cloud(tmp_path / "shuffled.txt", XYZ))
    np.random.seed(5)  # no global random state is used
    torch.manual_seed(5)
    assert torch.equal(first, load_point_cloud(tmp_path / "a.txt", XYZ))


def test_large_cloud_is_thinned_with_the_seed() -> None:
    cloud = grid_points(5000, normals=False)
    small = PointCloudConfig(num_points=64, presample_factor=4, min_points=16)
    out = load_point_cloud(cloud, small)
    assert torch.equal(out, load_point_cloud(cloud, small))
    assert not torch.equal(out, load_point_cloud(cloud, PointCloudConfig(num_points=64, presample_factor=4,
                                                                         min_points=16, seed=1)))


def test_fewer_points_than_num_points_are_repeated() -> None:
    cloud = grid_points(40, normals=False)
    out = load_point_cloud(cloud, XYZ)
    assert out.shape == (128, 3)
    assert torch.unique(out, dim=0).shape[0] == 40
    assert torch.equal(out[40:80], out[:40])


def test_off_variants_with_normals_and_colours() -> None:
    from languagebind.processing.pointfiles import read_off

    limits = PointFileLimits(100, 1 << 20)
    noff = read_off("n.off", "NOFF\n3 1 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 0 1 2\n", limits)
    assert noff.normals.tolist() == [[0, 0, 1]] * 3 and noff.triangles.tolist() == [[0, 1, 2]]
    coff = read_off("c.off", "COFF\n3 0 0\n0 0 0 255 0 0 255\n1 0 0 0 9 0 255\n0 1 0 0 0 9 255\n", limits)
    assert coff.points.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]] and coff.normals is None


def test_meshes_are_sampled_on_their_surface(tmp_path: Path) -> None:
    vertices, quads = cube_mesh()
    triangles = np.array([[q[0], q[i], q[i + 1]] for q in quads for i in (1, 2)])
    off = write_off(tmp_path / "cube.off", vertices, quads)
    modelnet = write_off(tmp_path / "modelnet.off", vertices, quads, modelnet_header=True)
    ply = write_ply(tmp_path / "cube.ply", vertices, "binary_big_endian", faces=np.array(quads))
    ply_ascii = write_ply(tmp_path / "cube_ascii.ply", vertices, "ascii", faces=triangles)
    cloud = read_cloud(off, PointFileLimits(1000, 1 << 20))
    assert cloud.triangles.shape == (12, 3)
    config = PointCloudConfig(num_points=256, normals=True, mesh_samples=4000, min_points=16)
    out = load_point_cloud(off, config)
    # every sample is on a face of the cube: its largest coordinate is the half side (1 / sqrt(3) after scaling)
    assert out[:, :3].abs().amax(1).double().sub(1 / np.sqrt(3)).abs().max().item() < 0.02
    # face normals are axis-aligned unit vectors
    assert torch.allclose(out[:, 3:].abs().sum(1), torch.ones(256))
    for other in (modelnet, ply, ply_ascii):
        assert torch.equal(load_point_cloud(other, config), out), other
    vertices_only = load_point_cloud(off, PointCloudConfig(num_points=8, mesh_samples=0, min_points=8))
    assert torch.allclose(vertices_only.abs(), torch.full((8, 3), 1 / np.sqrt(3)))


def test_ply_lists_of_mixed_lengths_and_elements_after_faces(tmp_path: Path) -> None:
    vertices, quads = cube_mesh()
    faces = [quads[0], *[[q[0], q[i], q[i + 1]] for q in quads[1:] for i in (1, 2)]]
    path = tmp_path / "mixed.ply"
    for fmt in ("ascii", "binary_little_endian"):
        write_ply(path, vertices, fmt, faces=None, colour=False)
        data = path.read_bytes()
        head, _, body = data.partition(b"end_header\n")
        head += b"element face %d\nproperty list uchar int vertex_indices\n" % len(faces)
        head += b"element edge 1\nproperty int a\n"
        if fmt == "ascii":
            body += "".join(" ".join(map(str, [len(f), *f])) + "\n" for f in faces).encode() + b"7\n"
        else:
            body += b"".join(np.uint8(len(f)).tobytes() + np.asarray(f, "<i4").tobytes() for f in faces)
            body += np.int32(7).tobytes()
        path.write_bytes(head + b"end_header\n" + body)
        cloud = read_cloud(path, PointFileLimits(100, 1 << 20))
        assert cloud.triangles.shape == (12, 3) and np.array_equal(cloud.points, vertices)


def test_member_paths() -> None:
    assert split_member("x/batch.h5#3") == (Path("x/batch.h5"), "3")
    assert split_member("x/cloud#1.ply") == (Path("x/cloud#1.ply"), None)
    assert split_member("x/plain.h5") == (Path("x/plain.h5"), None)


def bad_files(folder: Path) -> dict[Path | str, str]:
    cloud = grid_points(100)
    (folder / "empty.ply").write_bytes(b"")
    np.save(folder / "nan.npy", np.where(np.arange(600).reshape(100, 6) == 7, np.nan, cloud))
    inf = cloud.copy()
    inf[3, 1] = np.inf
    write_table(folder / "inf.txt", inf)
    np.save(folder / "four.npy", np.ones((100, 4)))
    np.save(folder / "flat.npy", np.ones(300))
    np.save(folder / "text.npy", np.array(["a", "b", "c"]))
    np.save(folder / "few.npy", cloud[:10])
    np.save(folder / "same.npy", np.ones((100, 3)))
    np.savez(folder / "two.npz", a=cloud, b=cloud)
    write_table(folder / "two_columns.xyz", cloud[:, :2], " ")
    write_table(folder / "ragged.txt", cloud[:, :3])
    with (folder / "ragged.txt").open("a") as handle:
        handle.write("1 2 3 4 5 6\n")
    (folder / "words.txt").write_text("1 2 3\n4 five 6\n")
    (folder / "noheader.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n1 2 3\n")
    (folder / "magic.ply").write_bytes(b"PK\x03\x04 not a ply at all")
    (folder / "format.ply").write_bytes(b"ply\nformat binary_middle_endian 1.0\nend_header\n")
    (folder / "noy.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float z\n"
                                     b"end_header\n1 2\n")
    (folder / "orphan.ply").write_bytes(b"ply\nformat ascii 1.0\nproperty float x\nend_header\n")
    write_ply(folder / "short.ply", cloud, "binary_little_endian")
    (folder / "short.ply").write_bytes((folder / "short.ply").read_bytes()[:-20])
    vertices, _ = cube_mesh()
    write_off(folder / "badface.off", vertices, [[0, 1, 99]])
    (folder / "nocounts.off").write_text("OFF\n")
    (folder / "notoff.off").write_text("COUNT 3 0 0\n")
    (folder / "fourd.off").write_text("4OFF\n1 0 0\n0 0 0 1\n")
    (folder / "cut.off").write_text("OFF\n8 6 0\n0 0 0\n")
    with h5py.File(folder / "batch.h5", "w") as handle:
        handle["data"] = np.zeros((2, 64, 3), np.float32)
    with h5py.File(folder / "nodata.h5", "w") as handle:
        handle["labels"] = np.zeros(3)
    (folder / "garbage.h5").write_bytes(b"not hdf5" * 10)
    (folder / "cloud.obj").write_text("v 0 0 0\n")
    return {
        folder / "empty.ply": "empty file", folder / "missing.npy": "not found", folder / "nan.npy": "NaN",
        folder / "inf.txt": "NaN or infinite", folder / "four.npy": "N x 3", folder / "flat.npy": "N x 3",
        folder / "text.npy": "numeric", folder / "few.npy": "too few points",
        folder / "same.npy": "too few points: 1 distinct", folder / "two.npz": "no point array",
        folder / "two_columns.xyz": "expected 3",
        folder / "ragged.txt": "different numbers of values: 3 on the first data line, 6 on data line 101",
        folder / "words.txt": "not a table of numbers",
        folder / "noheader.ply": "unreadable PLY header: no 'end_header'",
        folder / "magic.ply": "unreadable PLY header: the file does not start with 'ply'",
        folder / "format.ply": "unreadable PLY header: line 2: unknown format",
        folder / "noy.ply": "unreadable PLY header: the vertex element has no y",
        folder / "orphan.ply": "unreadable PLY header: line 3: property before any element",
        folder / "short.ply": "truncated", folder / "badface.off": "outside 0..7",
        folder / "nocounts.off": "without vertex/face counts", folder / "notoff.off": "not an OFF file",
        folder / "fourd.off": "4-D or texture-coordinate OFF files are not supported",
        folder / "cut.off": "truncated", folder / "batch.h5": "address one as 'batch.h5#INDEX'",
        f"{folder / 'batch.h5'}#2": "out of range", f"{folder / 'batch.h5'}#first": "not a cloud index",
        folder / "nodata.h5": "no point dataset", folder / "garbage.h5": "cannot decode as an HDF5",
        folder / "cloud.obj": "unknown point-cloud file kind",
    }


def test_bad_files_name_the_file_and_the_reason(tmp_path: Path) -> None:
    for item, reason in bad_files(tmp_path).items():
        with pytest.raises(InputError, match=reason) as err:
            load_point_cloud(item, XYZ)
        assert str(Path(str(item)).name).split("#")[0] in str(err.value), item


def test_limits_and_normals(tmp_path: Path) -> None:
    cloud = grid_points(500)
    write_ply(tmp_path / "big.ply", cloud, "binary_little_endian")
    with pytest.raises(InputError, match="too many points: 500"):
        load_point_cloud(tmp_path / "big.ply", PointCloudConfig(num_points=64, max_points=400))
    with pytest.raises(InputError, match="file too large"):
        load_point_cloud(tmp_path / "big.ply", PointCloudConfig(num_points=64, max_file_bytes=1000))
    write_table(tmp_path / "xyz.txt", cloud[:, :3])
    with pytest.raises(InputError, match="has no normals"):
        load_point_cloud(tmp_path / "xyz.txt", WITH_NORMALS)
    with pytest.raises(InputError, match="expected a point-cloud file path"):
        load_point_cloud(12, XYZ)
    with pytest.raises(ConfigError):
        PointCloudConfig(num_points=16, min_points=32)


def test_training_augmentation_scales_shifts_and_mirrors(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from languagebind.processing import ProcessorConfig
    from languagebind.processing.pointcloud import augment_point_item, load_point_item

    write_table(tmp_path / "a.txt", grid_points(400))
    cfg = ProcessorConfig(options={"num_points": 64, "normals": True, "min_points": 16})
    plain = load_point_item(tmp_path / "a.txt", cfg)
    never, always = SimpleNamespace(flip=0.0), SimpleNamespace(flip=1.0)
    one = augment_point_item(tmp_path / "a.txt", cfg, never, np.random.default_rng(3))
    assert torch.equal(one, augment_point_item(tmp_path / "a.txt", cfg, never, np.random.default_rng(3)))
    assert one.shape == plain.shape and not torch.equal(one, plain)
    # a per-axis affine map of the plain cloud: fit it back
    for axis in range(3):
        slope, offset = np.polyfit(plain[:, axis].numpy(), one[:, axis].numpy(), 1)
        assert 2 / 3 - 1e-4 <= slope <= 3 / 2 + 1e-4 and abs(offset) <= 0.2 + 1e-4
    assert torch.allclose(one[:, 3:].norm(dim=1), torch.ones(64), atol=1e-5)
    mirrored = augment_point_item(tmp_path / "a.txt", cfg, always, np.random.default_rng(3))
    assert np.polyfit(plain[:, 0].numpy(), mirrored[:, 0].numpy(), 1)[0] < 0


def test_preview_is_a_picture_of_the_cloud() -> None:
    from languagebind.processing.pointcloud import preview_points

    picture = preview_points(load_point_cloud(grid_points(300, normals=False), XYZ), size=48)
    assert picture.shape == (48, 48, 3) and picture.dtype == np.uint8
    assert 30 < int((picture.min(axis=2) < 255).sum()) <= 128  # one dot per point, some overlap
