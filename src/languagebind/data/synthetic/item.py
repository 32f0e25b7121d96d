"""One clip from (config, split, index): scene -> rendered media -> encoded files + record.

Each item draws from its own generators seeded by ``(seed, split, index)`` (independent streams for the scene,
the sound, the text, the point cloud and the IMU trace), so items can be made in any order or process and still
be identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from languagebind.data.synthetic import render
from languagebind.data.synthetic.captions import captions_for
from languagebind.data.synthetic.imu import synthesise_imu
from languagebind.data.synthetic.options import SPLITS, SyntheticConfig
from languagebind.data.synthetic.points import sample_points
from languagebind.data.synthetic.scene import sample_scene
from languagebind.data.synthetic.sound import SAMPLE_RATE, synthesise
from languagebind.data.synthetic.views import text_views
from languagebind.processing import encode

# mbtree=0: with x264's macroblock-tree rate control the output varied from run to run (with the same frames)
# once other code had used the heap; without it, and single-threaded, the bytes are repeatable.
X264_OPTIONS = {"preset": "veryfast", "crf": "18", "threads": "1", "x264-params": "mbtree=0"}
PNG_COMPRESS_LEVEL = 1


def video_settings(codec: str) -> encode.VideoSettings:
    """VIDAL-mini's MP4 encoding: x264 at crf 18 (veryfast), or mpeg4 at 2 Mb/s (no crf; plenty for small
    frames); one thread, frame rates as fractions over at most 1000."""
    if codec == "libx264":
        return encode.VideoSettings(codec, X264_OPTIONS, thread_count=None, rate_denominator=1000)
    return encode.VideoSettings(codec, {"threads": "1"}, thread_count=None, bit_rate=2_000_000,
                                rate_denominator=1000)


@dataclass(frozen=True)
class Item:
    """A clip's files by WebDataset field name (``video.mp4``, ``depth.3.png``, ...) and its text and meta."""

    id: str
    files: dict[str, bytes]
    text: dict[str, Any]
    meta: dict[str, Any]


def item_id(split: str, index: int) -> str:
    """``"train-000042"``: unique across splits, no dots (WebDataset keys end at the first dot)."""
    return f"{split}-{index:06d}"


def render_item(config: SyntheticConfig, split: str, index: int) -> Item:
    """Render and encode clip ``index`` of ``split``."""
    streams = np.random.SeedSequence([config.seed, SPLITS.index(split), index]).spawn(5)
    scene_seq, sound_seq, text_seq, point_seq, imu_seq = streams
    scene = sample_scene(config.vocabulary(), index, np.random.default_rng(scene_seq),
                         compositional=split == "compositional")
    times = np.arange(config.num_frames) / max(config.num_frames - 1, 1)
    fields = render.object_fields(scene, times, config.frame_size)
    keyframes = config.keyframe_indices()
    frames = render.render_video(scene, fields)
    depth = render.render_depth(scene, fields.frames(keyframes))
    thermal = render.render_thermal(scene, fields.frames(keyframes))
    track = synthesise(scene, config.duration, np.random.default_rng(sound_seq))
    still_time = float(times[config.still_index()])

    files = {
        "video.mp4": encode.encode_mp4(frames, config.fps, video_settings(config.video_codec)),
        "audio.wav": encode.encode_wav(track, SAMPLE_RATE),
        "image.jpg": encode.encode_jpeg(frames[config.still_index()], config.jpeg_quality),
    }
    if "point" in config.sensors:
        cloud = sample_points(scene, still_time, np.random.default_rng(point_seq), config.num_points)
        files["point.npy"] = encode.encode_npy(cloud)
    if "imu" in config.sensors:
        files["imu.npy"] = encode.encode_npy(synthesise_imu(scene, config.duration, np.random.default_rng(imu_seq)))
    for k in range(len(keyframes)):
        files[f"depth.{k}.png"] = encode.encode_png16(depth[k], PNG_COMPRESS_LEVEL)
        files[f"thermal.{k}.jpg"] = encode.encode_jpeg(thermal[k], config.jpeg_quality)
    text = text_views(scene.attributes, scene.positions(times[keyframes]), np.random.default_rng(text_seq))
    meta = {**scene.meta(), "split": split, "captions": captions_for(scene.attributes)}
    return Item(item_id(split, index), files, text, meta)
