"""Point clouds: 3-D points (and meshes, sampled on their surface) as groups of nearest neighbours."""

from __future__ import annotations

from typing import Any

from languagebind.registry import BUILTIN, ModalitySpec, register_modality

TOKEN_OPTIONS = ("num_groups", "point_hidden")


def processor_fields(vision: Any) -> dict[str, Any]:
    """The tower fixes the point count (``image_size`` ``(1, num_points)``) and whether normals are channels 3..5
    (``num_channels`` 6); its other options, but the token module's, are preprocessing settings."""
    options = {k: v for k, v in vision.options.items() if k not in TOKEN_OPTIONS}
    return {"options": {**options, "num_points": vision.image_size[1], "normals": vision.num_channels == 6}}


SPEC = register_modality(ModalitySpec(
    name="point",
    extensions=(".ply", ".off", ".xyz", ".pts", ".txt", ".npy", ".npz", ".h5", ".hdf5"),
    loader="languagebind.processing.pointcloud:load_point_item",
    item_shape="languagebind.processing.pointcloud:point_shape",
    tokens="languagebind.model.points:PointTokens",
    token_geometry="point groups (FPS centres + kNN) -> mini-PointNet",
    start="scratch",
    templates=("a point cloud of a {}.", "a 3D model of a {}.", "a 3D point cloud of a {}."),
    augment="languagebind.processing.pointcloud:augment_point_item",
    in_memory=("array",),
    letter="pc",
    preview="points",
    guess_for=(".ply", ".off", ".xyz", ".pts", ".h5", ".hdf5"),
    tiny={"image_size": (1, 256), "patch_size": 16, "num_channels": 3, "options": {"num_groups": 16}},
    released={"image_size": (1, 2048), "patch_size": 32, "num_channels": 3, "options": {"num_groups": 128}},
    processor_fields="languagebind.modalities.point:processor_fields",
    description="3-D point clouds and meshes (.ply, .off, .xyz/.txt, .npy/.npz, .h5); ModelNet40 zero-shot",
), source=BUILTIN)
