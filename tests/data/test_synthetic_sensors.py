"""VIDAL-mini's point clouds and IMU traces: determinism, shapes, what they show, what their captions name."""

from __future__ import annotations

import io

import numpy as np
import pytest

from languagebind.data.synthetic import (
    CATEGORIES,
    SyntheticConfig,
    caption,
    perceives,
    shapes,
    zero_shot_classes,
    zero_shot_labels,
)
from languagebind.data.synthetic.imu import GRAVITY, LEAD, RAMP, RATE, synthesise_imu, trace_length
from languagebind.data.synthetic.item import render_item
from languagebind.data.synthetic.points import FRAME_METRES, NOISE, sample_points
from languagebind.data.synthetic.scene import sample_scene
from languagebind.data.synthetic.vocab import COLOURS, COUNTS, DIRECTIONS, SIZES
from languagebind.errors import ConfigError
from languagebind.processing import ProcessorConfig, build_processor

CONFIG = SyntheticConfig.tiny(seed=0)
UNIT_UP = {"left": (-1, 0), "right": (1, 0), "up": (0, 1), "down": (0, -1)}  # y up, as the sensor's axes


def arrays(item) -> tuple[np.ndarray, np.ndarray]:
    return np.load(io.BytesIO(item.files["point.npy"])), np.load(io.BytesIO(item.files["imu.npy"]))


def scenes(n: int = 24):
    vocab = CONFIG.vocabulary()
    return [sample_scene(vocab, i, np.random.default_rng(100 + i), compositional=False) for i in range(n)]


def test_point_and_imu_files_are_deterministic_and_shaped() -> None:
    first, again = render_item(CONFIG, "test", 3), render_item(CONFIG, "test", 3)
    assert first.files["point.npy"] == again.files["point.npy"] and first.files["imu.npy"] == again.files["imu.npy"]
    other = render_item(SyntheticConfig.tiny(seed=1), "test", 3)
    assert other.files["point.npy"] != first.files["point.npy"]
    points, motion = arrays(first)
    assert points.shape == (CONFIG.num_points, 3) and points.dtype == np.float32 and np.isfinite(points).all()
    assert motion.shape == (trace_length(CONFIG.duration), 6) == (512, 6) and motion.dtype == np.float32
    # the new streams are spawned after the old ones: the other media of a clip are what they were
    assert render_item(SyntheticConfig.tiny(seed=0, num_points=64), "test", 3).files["video.mp4"] == \
        first.files["video.mp4"]
    assert arrays(render_item(SyntheticConfig.tiny(seed=0, num_points=64), "test", 3))[0].shape == (64, 3)


def test_points_lie_on_the_objects_solids_including_their_hidden_backs() -> None:
    for scene in scenes(12):
        cloud = sample_points(scene, 0.5, np.random.default_rng(0), count=900)
        centres = scene.positions(np.array([0.5]))[0]
        # every point belongs to one object's outline (within the edge band and the sensor noise)
        x, y = cloud[:, 0] / FRAME_METRES, -cloud[:, 1] / FRAME_METRES
        distances = np.stack([shapes.signed_distance(scene.attributes["category"], (x - cx) / scene.radius,
                                                     (y - cy) / scene.radius) for cx, cy in centres])
        nearest = distances.argmin(0)
        assert (distances.min(0) < 0.05).all()
        counts = np.bincount(nearest, minlength=len(centres))
        assert len(centres) == scene.attributes["count"] and (counts >= 900 // len(centres) - 1).all()
        # not a depth map back-projected: the back faces (farthest from the camera) hold a quarter of the points
        for k in range(len(centres)):
            depth = cloud[nearest == k, 2]
            back = depth < np.quantile(depth, 0.05) + 3 * NOISE
            assert 0.2 < back.mean() < 0.35


def test_imu_shows_direction_and_speed_and_nothing_else() -> None:
    t = np.arange(trace_length(CONFIG.duration)) / RATE - LEAD
    start = (t > -RAMP) & (t < 0)
    peaks = {}
    for scene in scenes(24):
        motion = synthesise_imu(scene, CONFIG.duration, np.random.default_rng(0))
        acc, gyro = motion[:, :3], motion[:, 3:]
        assert abs(acc[:, 1].mean() - GRAVITY) < 0.2  # gravity on y
        along = np.array([*UNIT_UP[scene.attributes["direction"]], 0.0])
        pulse = (acc[start] - [0.0, GRAVITY, 0.0]) @ along
        assert pulse.mean() > 0.5  # speeding up along its direction
        across = np.cross(along, [0.0, 0.0, 1.0])
        assert np.abs(gyro @ across).max() > 3 * np.abs(gyro @ along).max()  # it rocks about the across axis
        peaks.setdefault(scene.attributes["speed"], []).append(float(np.percentile(pulse, 90)))
    assert min(peaks["fast"]) > 1.5 * max(peaks["slow"])
    # colour, size, count and category leave the trace untouched
    base = scenes(1)[0]
    from dataclasses import replace
    changed = replace(base, attributes={**base.attributes, "colour": "blue", "category": "star", "size": "large"},
                      radius=base.radius * 1.2)
    same = [synthesise_imu(s, CONFIG.duration, np.random.default_rng(5)) for s in (base, changed)]
    np.testing.assert_array_equal(*same)


def test_captions_of_point_and_imu_name_only_what_they_perceive() -> None:
    names = {c.name for c in CATEGORIES} | {c.plural for c in CATEGORIES}
    counts = {"one", "two", "three"}
    assert perceives("point") == ("category", "count") and perceives("imu") == ("direction", "speed")
    for scene in scenes(24):
        meta = scene.attributes
        words = set(caption("imu", meta).split())
        assert not words & (names | set(COLOURS) | set(SIZES) | counts)
        assert {meta["direction"], {"slow": "slowly", "fast": "quickly"}[meta["speed"]]} <= words
        words = set(caption("point", meta).split())
        assert not words & (set(COLOURS) | set(SIZES) | set(DIRECTIONS) | {"slowly", "quickly"})
        assert words & names and words & (counts | {"a", "an"})
    assert caption("imu", {"category": "star", "direction": "up", "speed": "slow"}) == \
        "an IMU recording of an object moving up slowly"
    assert caption("point", {"category": "star", "count": 2, "size": "large"}) == "a point cloud of two stars"
    classes = zero_shot_classes("imu")
    assert len(classes) == len(DIRECTIONS) * 2 and all(set(c) == {"direction", "speed"} for c in classes)
    assert len(set(zero_shot_labels("imu"))) == 8 and zero_shot_labels("point")[0] == "a point cloud of a ball"
    assert len(COUNTS) == 3


@pytest.mark.parametrize("modality", ["point", "imu"])
def test_generated_files_go_through_the_modality_processors(modality: str, tmp_path) -> None:
    item = render_item(CONFIG, "train", 5)
    path = tmp_path / f"{modality}.npy"
    path.write_bytes(item.files[f"{modality}.npy"])
    options = {"num_points": 256} if modality == "point" else {"num_steps": 512}
    tensor = build_processor(modality, ProcessorConfig(options=options)).load(path)
    assert tensor.shape == ((256, 3) if modality == "point" else (6, 512)) and bool(tensor.isfinite().all())


def test_sensors_are_rendered_only_when_asked_and_change_nothing_else() -> None:
    full = render_item(SyntheticConfig.tiny(), "train", 3)
    bare = render_item(SyntheticConfig.tiny(sensors=()), "train", 3)
    imu_only = render_item(SyntheticConfig.tiny(sensors=["imu"]), "train", 3)
    assert {"point.npy", "imu.npy"} <= set(full.files) and not {"point.npy", "imu.npy"} & set(bare.files)
    assert set(imu_only.files) == set(full.files) - {"point.npy"}
    assert all(bare.files[f] == full.files[f] for f in bare.files)
    assert imu_only.files["imu.npy"] == full.files["imu.npy"]
    assert bare.text == full.text and bare.meta == full.meta
    assert SyntheticConfig.tiny(sensors=["imu", "point"]).sensors == ("point", "imu")
    with pytest.raises(ConfigError, match="sonar"):
        SyntheticConfig.tiny(sensors=["sonar"])
