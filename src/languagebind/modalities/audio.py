"""Audio: a Kaldi fbank "image" of mel bins x 10 ms frames, three chunks as the three channels."""

from __future__ import annotations

from typing import Any

from languagebind.constants import AUDIO_MEAN, AUDIO_STD
from languagebind.registry import BUILTIN, ModalitySpec, register_modality


def processor_fields(vision: Any) -> dict[str, Any]:
    """The tower's (mel bins, target length) "image" size fixes the fbank geometry."""
    return {"num_mel_bins": vision.image_size[0], "target_length": vision.image_size[1],
            "num_frames": vision.num_frames, "max_depth": vision.max_depth, "sample_rate": vision.sample_rate,
            "audio_mean": vision.audio_mean, "audio_std": vision.audio_std, "options": dict(vision.options)}


SPEC = register_modality(ModalitySpec(
    name="audio",
    extensions=(".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff", ".aif"),
    loader="languagebind.processing.processor:load_audio_item",
    item_shape="languagebind.processing.processor:spectrogram_shape",
    token_geometry="2-D patches of a mel spectrogram",
    model_type="LanguageBindAudio",
    templates=("a sound of {}.",),
    augment="languagebind.data.augment:augment_audio",
    letter="a",
    preview="spectrogram",
    also_reads=(".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"),  # a movie's sound track
    guess_for=("*",),
    tiny={"image_size": (16, 96)},
    released={"image_size": (112, 1036)},
    clip_fields={"num_mel_bins": 112, "target_length": 1036, "audio_sample_rate": 16000,
                 "audio_mean": AUDIO_MEAN, "audio_std": AUDIO_STD},
    processor_fields="languagebind.modalities.audio:processor_fields",
    description="sounds as Kaldi fbank spectrograms (the official audio checkpoint)",
), source=BUILTIN)
