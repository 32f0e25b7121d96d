"""The service routes uploads and draws previews from each modality's spec, with no table of modality names: point
clouds and IMU series (built in, but not in the main test collection) and a plug-in with its own preview function."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from languagebind.api import LanguageBind
from languagebind.model.presets import tiny_config
from languagebind.registry import ModalitySpec, get_modality, guess_modality, register_modality, unregister_modality
from languagebind.serve.errors import ApiError
from languagebind.serve.media import Decoder
from languagebind.serve.previews import PreviewMaker, modality_kind
from tests.serve.conftest import png_bytes, wav_bytes


def ply_bytes(points: np.ndarray) -> bytes:
    header = f"ply\nformat ascii 1.0\nelement vertex {len(points)}\nproperty float x\nproperty float y\n" \
             "property float z\nend_header\n"
    return (header + "".join(f"{x:.4f} {y:.4f} {z:.4f}\n" for x, y, z in points)).encode()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def imu_csv(steps: int = 400) -> bytes:
    t = np.arange(steps) / 200.0
    rows = ["timestamp,ax,ay,az,gx,gy,gz"]
    rows += [f"{s:.4f},{np.sin(s):.4f},0.1,9.8,0.01,0.02,{np.cos(s):.4f}" for s in t]
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def points_model() -> LanguageBind:
    return LanguageBind.from_config({m: tiny_config(m) for m in ("image", "depth", "thermal", "point", "imu")}, seed=0)


def test_guesses_come_from_the_specs() -> None:
    assert guess_modality(".png", ["image", "depth", "thermal"]) == ("image", ("image", "depth", "thermal"))
    assert guess_modality(".png", ["depth", "thermal"])[0] is None  # two readers, neither claims a PNG
    assert guess_modality(".npy", ["depth", "point", "imu"])[0] == "depth"
    assert guess_modality(".npy", ["point", "imu"])[0] is None
    assert guess_modality(".ply", ["image", "point"]) == ("point", ("point",))
    assert guess_modality(".csv", ["point", "imu"])[0] == "imu"
    assert guess_modality(".mp4", ["audio"])[0] == "audio"  # a movie's sound track (also_reads)
    assert guess_modality(".mp4", ["audio", "video"])[0] == "video"
    assert guess_modality(".xyz", ["image"]) == (None, ())


def test_uploads_go_to_the_tower_their_spec_names(points_model: LanguageBind) -> None:
    decoder = Decoder(points_model, 10**7, 30.0, 30.0, 10**6)
    try:
        cloud = np.random.default_rng(0).normal(size=(500, 3))
        assert decoder.tower_for(png_bytes((200, 10, 10)), None) == "image"
        assert decoder.tower_for(ply_bytes(cloud), None) == "point"
        assert decoder.tower_for(npy_bytes(np.ones((32, 32), np.float32)), None) == "depth"
        with pytest.raises(ApiError, match="cannot tell which tower"):
            decoder.tower_for(b"1,2,3\n", None)  # text without a magic number: the client must say
        point = decoder.decode("point", ply_bytes(cloud))
        assert tuple(point.shape) == get_modality("point").resolve("item_shape")(points_model.processor_config("point"))
        imu = decoder.decode("imu", imu_csv())  # CSV has no magic number: written as the tower's text type
        assert imu.shape[0] == 6 and np.isfinite(imu.numpy()).all()
        with pytest.raises(ApiError) as err:
            decoder.decode("point", wav_bytes(440.0))
        assert err.value.status == 415 and ".ply" in str(err.value)
        with pytest.raises(ApiError) as err:
            huge = npy_bytes(np.zeros((1, 6), np.float32)).replace(b"(1, 6)", b"(2000001, 6)")  # the header says
            decoder.decode("imu", huge)
        assert err.value.status == 413
    finally:
        decoder.close()


def test_preview_kinds_are_the_specs(tmp_path: Path) -> None:
    assert [modality_kind(m) for m in ("image", "depth", "thermal", "audio", "video", "point", "imu")] == \
        ["thumbnail", "heatmap", "channel", "spectrogram", "frames", "points", "waveform"]
    assert modality_kind("text") == "text" and modality_kind("not-registered") == "none"
    cloud = tmp_path / "cloud.ply"
    cloud.write_bytes(ply_bytes(np.random.default_rng(1).uniform(-1, 1, size=(3000, 3))))
    series = tmp_path / "walk.npy"
    np.save(series, np.random.default_rng(2).normal(size=(6, 1000)).astype(np.float32))
    maker = PreviewMaker(64, 1.0, 10**7, 30.0)
    points = json.loads(maker.get("point:0", "point", cloud).body)
    assert points["kind"] == "points" and len(points["points"]) == 2048 and len(points["points"][0]) == 3
    waves = json.loads(maker.get("imu:0", "imu", series).body)
    assert waves["kind"] == "waveform" and len(waves["series"]) == 6 and len(waves["series"][0]) == 512


def draw_ring(item: np.ndarray) -> np.ndarray:
    """A plug-in's own preview: a (8, len, 3) strip whose red channel is the signal."""
    signal = np.asarray(item, dtype=np.float32).reshape(-1)
    red = np.round(255 * (signal - signal.min()) / (np.ptp(signal) + 1e-6)).astype(np.uint8)
    picture = np.zeros((8, signal.size, 3), np.uint8)
    picture[..., 0] = red
    return picture


def load_ring(item: object, cfg: object) -> torch.Tensor:
    return torch.from_numpy(np.load(Path(str(item)), allow_pickle=False).astype(np.float32))[None]


def test_a_plugin_preview_function_is_drawn_by_the_service(tmp_path: Path) -> None:
    register_modality(ModalitySpec(name="ringing", extensions=(".npy",), loader=load_ring,
                                   item_shape=lambda cfg: (1, 400), preview=draw_ring), "plug-in test")
    try:
        assert modality_kind("ringing") == "picture"
        assert guess_modality(".npy", ["ringing"]) == ("ringing", ("ringing",))
        signal = tmp_path / "ring.npy"
        np.save(signal, np.sin(np.linspace(0, 20, 400)).astype(np.float32))
        calls = []

        def render(modality: str, path: Path) -> np.ndarray:  # the service's: the tower's preprocessing, then the spec
            calls.append(modality)
            return get_modality(modality).resolve("preview")(load_ring(path, None).numpy())

        preview = PreviewMaker(64, 1.0, 10**7, 30.0, render).get("ringing:0", "ringing", signal)
        assert preview.media_type == "image/png" and calls == ["ringing"]
        picture = np.asarray(Image.open(io.BytesIO(preview.body)))
        assert picture.shape[1] == 64 and picture[..., 0].max() >= 240 and picture[..., 1].max() == 0  # resized
    finally:
        unregister_modality("ringing")
