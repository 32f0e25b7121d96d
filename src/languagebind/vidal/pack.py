"""Pack: encode a finished sample into the members of its WebDataset shard(s).

Our layout (docs/architecture.md), members ``<id>.<field>`` in this order: ``json`` (id, text, meta),
``video.mp4``, ``image.jpg`` (from the keyframes), then the files of each stage that makes a modality, as it writes
them (``members``): ``audio.wav``, ``depth.<k>.png`` (uint16 mm), ``thermal.<k>.jpg``. Every field is optional;
the JSON always has at least the raw text.

The official layout (``official: true``) is the one the official WebDataset loader reads: ``raw.txt``,
``mplug.txt``, ``polish_mplug.txt`` (with its required "In the video, " prefix), ``sound_mplug.txt``,
``ofa<k>.txt``, ``frm<k>.jpg`` (short side 256), ``tml<k>.jpg``, ``dep<k>.npy`` (uint16 mm).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from languagebind.errors import ConfigError
from languagebind.processing.encode import encode_jpeg
from languagebind.vidal import media
from languagebind.vidal.operators import Operator, modality_stages
from languagebind.vidal.sample import Sample

VIDEO_MODES = ("keyframes", "resized", "none")
TEXT_FIELDS = ("keyframe_captions", "video_caption", "polished_caption", "sound_caption")


def record(sample: Sample) -> dict[str, Any]:
    """The sample's JSON record: id, text (the fields it has), meta."""
    text: dict[str, Any] = {"raw": sample.fields["text"].raw}
    for name in TEXT_FIELDS:
        if sample.fields.get(name):
            text[name] = sample.fields[name]
    item = sample.item
    meta = {**item.meta, "source": item.source, "title": item.title, "hashtags": list(item.hashtags),
            **sample.meta}
    return {"id": sample.id, "text": text, "meta": meta}


def dump_json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(kw_only=True)
class Pack(Operator):
    """Finished sample -> its JSON record (``manifest``), ``members`` (our layout) and ``official_members``."""

    kind = "pack"
    inputs = ("info", "text")
    # and the field of every stage that makes a modality (audio track, depth, infrared, ...: ``modality_stages``)
    optional_inputs = ("keyframes", *TEXT_FIELDS)
    outputs = ("manifest", "members", "official_members")

    video: str = "keyframes"  # keyframes: the keyframes as an 8-frame MP4; resized: every frame, short side 256
    video_qp: int = 18  # H.264 constant quantiser (lower: larger, closer to the frames)
    image_keyframe: int | None = None  # also write keyframe k as image.jpg
    jpeg_quality: int = 95
    official: bool = False
    resized_short_side: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.video not in VIDEO_MODES:
            raise ConfigError(f"stage {self.name}: video must be one of {VIDEO_MODES}")

    def process(self, batch: list[Sample]) -> None:
        for sample in batch:
            if self.image_keyframe is not None and sample.fields.get("keyframes"):
                sample.meta["image_keyframe"] = self.image_keyframe
            sample.fields["manifest"] = record(sample)
            sample.fields["members"] = self.members(sample)
            if self.official:
                sample.fields["official_members"] = self.official_members(sample)

    def members(self, sample: Sample) -> list[tuple[str, bytes]]:
        fields, key = sample.fields, sample.id
        keyframes = fields.get("keyframes") or []
        out = [(f"{key}.json", dump_json(fields["manifest"]))]
        if self.video == "keyframes" and keyframes:
            out.append((f"{key}.video.mp4", media.encode_mp4(keyframes, qp=self.video_qp)))
        elif self.video == "resized":
            out.append((f"{key}.video.mp4",
                        media.transcode_short_side(sample.item.path, self.resized_short_side, self.video_qp)))
        if self.image_keyframe is not None and keyframes:
            out.append((f"{key}.image.jpg", encode_jpeg(keyframes[self.image_keyframe], self.jpeg_quality)))
        for stage in modality_stages():
            out += stage.members(key, fields, self.jpeg_quality)
        return out

    def official_members(self, sample: Sample) -> list[tuple[str, bytes]]:
        fields, key = sample.fields, sample.id
        text = fields["text"]
        texts = {"raw": " ".join([text.title, *(f"#{t}" for t in text.hashtags)]),
                 "mplug": fields.get("video_caption"),
                 "polish_mplug": f"In the video, {fields['polished_caption']}" if fields.get("polished_caption")
                 else None,
                 "sound_mplug": fields.get("sound_caption")}
        texts.update({f"ofa{k}": c for k, c in enumerate(fields.get("keyframe_captions") or [])})
        out = [(f"{key}.{name}.txt", value.encode("utf-8")) for name, value in texts.items() if value]
        out += [(f"{key}.frm{k}.jpg", encode_jpeg(f, self.jpeg_quality))
                for k, f in enumerate(fields.get("keyframes") or [])]
        for stage in modality_stages():
            out += stage.official_members(key, fields, self.jpeg_quality)
        return out
