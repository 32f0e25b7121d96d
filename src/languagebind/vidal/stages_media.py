"""CPU stages: probe + filter (container and title/hashtag rules), keyframes, audio track."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from languagebind.errors import ConfigError
from languagebind.processing.image import short_side_size
from languagebind.vidal import media, text_rules
from languagebind.vidal.operators import Operator
from languagebind.vidal.sample import Rejected, Sample


@dataclass(kw_only=True)
class ProbeFilter(Operator):
    """Reject what the paper rejects: titles with < 2 words, no hashtags, > 20 s; plus unusable files.

    The text rules run first (no I/O); then the container is opened and its video packets counted.
    """

    kind = "probe"
    inputs = ("source", "title", "hashtags")
    outputs = ("info", "text")

    max_duration: float = 20.0
    min_duration: float = 0.0
    min_side: int = 64
    min_frames: int = 1
    min_title_words: int = 2
    require_hashtags: bool = True
    stopwords: str | None = None  # a word-per-line file; None = the shipped list
    extra_stopwords: list[str] = field(default_factory=list)

    def setup(self) -> None:
        self._stopwords = text_rules.load_stopwords(self.stopwords, tuple(self.extra_stopwords))

    def process(self, batch: list[Sample]) -> None:
        for sample in batch:
            item = sample.item
            text = text_rules.clean(item.title, item.hashtags, self._stopwords)
            problem = text_rules.check(text, self.min_title_words, self.require_hashtags)
            if problem:
                raise Rejected(item.source, *problem)
            info = media.probe(item.path, self.max_duration)
            if info.duration < self.min_duration:
                raise Rejected(item.source, "too_short", f"{info.duration:.2f} s < {self.min_duration:g} s")
            if min(info.width, info.height) < self.min_side:
                raise Rejected(item.source, "too_small", f"{info.width}x{info.height}, short side < {self.min_side}")
            if info.frames < self.min_frames:
                raise Rejected(item.source, "too_few_frames", f"{info.frames} frames < {self.min_frames}")
            sample.fields.update(info=info, text=text)
            sample.meta.update(info.as_meta())


@dataclass(kw_only=True)
class Keyframes(Operator):
    """``num_frames`` RGB keyframes at ``positions`` (see `media.keyframe_indices`), short side ``short_side``."""

    kind = "keyframes"
    inputs = ("info",)
    outputs = ("keyframes", "keyframe_indices")

    num_frames: int = 8
    positions: str = "linspace"
    short_side: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.positions not in media.POSITIONS:
            raise ConfigError(f"stage {self.name}: positions must be one of {media.POSITIONS}")

    def process(self, batch: list[Sample]) -> None:
        for sample in batch:
            info: media.VideoInfo = sample.fields["info"]
            indices = media.keyframe_indices(info.frames, self.num_frames, self.positions)
            found, decoded = media.decode_frames(sample.item.path, indices)
            if len(found) < len(set(indices)):
                # Fewer frames decode than the container lists: place the keyframes on what decodes.
                if decoded == 0:
                    raise Rejected(sample.item.source, "undecodable", "no frame decodes")
                indices = media.keyframe_indices(decoded, self.num_frames, self.positions)
                found, _ = media.decode_frames(sample.item.path, indices)
            height, width = short_side_size(info.height, info.width, self.short_side, even=True)
            sample.fields["keyframes"] = [media.resize(found[i], (width, height)) for i in indices]
            sample.fields["keyframe_indices"] = indices
            sample.meta.update(keyframe_indices=indices, keyframe_positions=self.positions)


@dataclass(kw_only=True)
class AudioTrack(Operator):
    """The audio track as mono float32 at ``sample_rate`` (16 kHz: the audio tower's rate); None without one."""

    kind = modality = "audio"
    inputs = ("info",)
    outputs = (modality, "audio_rate")

    sample_rate: int = 16000
    max_seconds: float | None = None

    def process(self, batch: list[Sample]) -> None:
        for sample in batch:
            audio = None
            if sample.fields["info"].has_audio:
                try:
                    audio = media.decode_audio(sample.item.path, self.sample_rate)
                except Exception as err:
                    sample.meta["audio_error"] = f"{type(err).__name__}: {err}"[:200]
                if audio is not None and self.max_seconds:
                    audio = audio[: int(self.max_seconds * self.sample_rate)]
                if audio is not None and audio.size == 0:
                    audio = None
            sample.fields[self.modality] = audio
            sample.fields["audio_rate"] = self.sample_rate
            sample.meta["has_audio"] = audio is not None

    @classmethod
    def members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        audio = fields.get(cls.modality)
        return [] if audio is None else [(f"{key}.{cls.modality}.wav", media.encode_wav(audio, fields["audio_rate"]))]
