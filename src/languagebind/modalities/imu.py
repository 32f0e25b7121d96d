"""IMU: 6-axis accelerometer + gyroscope traces, resampled to a fixed rate and window, as 1-D patches."""

from __future__ import annotations

from typing import Any

from languagebind.registry import BUILTIN, ModalitySpec, register_modality


def processor_fields(vision: Any) -> dict[str, Any]:
    """The tower fixes the window (``image_size`` ``(1, num_steps)``); its options are preprocessing settings
    (``sample_rate``, ``normalize``, ``mean``, ``std``, ...: ``languagebind.processing.imu.ImuConfig``)."""
    return {"options": {**vision.options, "num_steps": vision.image_size[1]}}


SPEC = register_modality(ModalitySpec(
    name="imu",
    extensions=(".npy", ".npz", ".csv", ".tsv"),
    loader="languagebind.processing.imu:load_imu_item",
    item_shape="languagebind.processing.imu:imu_shape",
    tokens="languagebind.model.series:SeriesTokens",
    token_geometry="1-D patches of 6-channel traces (8 steps x 6 at full size)",
    start="scratch",
    templates=("an IMU recording of {}.", "motion sensor data of {}.", "accelerometer and gyroscope readings of {}."),
    augment="languagebind.processing.imu:augment_imu_item",
    in_memory=("array",),
    letter="imu",
    preview="waveform",
    guess_for=(".csv", ".tsv"),
    tiny={"image_size": (1, 256), "patch_size": 16, "num_channels": 6},
    released={"image_size": (1, 2000), "patch_size": 8, "num_channels": 6},
    processor_fields="languagebind.modalities.imu:processor_fields",
    description="6-axis IMU traces (acc + gyro) from .npy/.npz/.csv, resampled to 200 Hz, 10 s windows",
), source=BUILTIN)
