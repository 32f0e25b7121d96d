"""Text from pixels: a caption per keyframe (image-to-text) and a caption per video (video-language model).

Keyframe captions: any ``transformers`` image-to-text model in a local directory (BLIP, BLIP-2, GIT, ...),
loaded with ``AutoProcessor`` + ``AutoModelForImageTextToText``; beam search like the official OFA script.

Video caption, two modes:

* ``chat``: a chat vision-language model (LLaVA, LLaVA-OneVision, Qwen2-VL, ...) gets the keyframes and a
  prompt with the title and hashtags (shipped template ``video_caption``), like mPLUG-Owl in the paper. With
  ``frames_as: images`` the frames are a multi-image message (works with the PIL image processors);
  ``frames_as: video`` passes them as one video (the model's video processor needs torchvision).
* ``frame_grid``: an image-to-text model captions the keyframes tiled into one grid image — a small stand-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from languagebind.errors import ConfigError
from languagebind.vidal import hf, prompts
from languagebind.vidal.media import resize
from languagebind.vidal.operators import Operator
from languagebind.vidal.sample import Sample

_SPACES = re.compile(r"\s+")


def tidy(text: str, prompt: str | None = None) -> str:
    """Generated text on one line, without an echoed prompt prefix."""
    text = _SPACES.sub(" ", text).strip()
    if prompt:
        prefix = _SPACES.sub(" ", prompt).strip()
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix):].strip()
    return text


@dataclass(kw_only=True)
class _GeneratingStage(Operator):
    """Options every text-generating stage shares, and the model loading."""

    uses_model = True
    model: str = ""
    precision: str = "fp32"
    max_new_tokens: int = 30
    num_beams: int = 1
    no_repeat_ngram_size: int = 0

    def _load(self) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        path = hf.local_dir(self.model, self.name)
        self._device = self.device()
        self._processor = hf.load_processor(AutoProcessor, path)
        self._model = hf.load_pretrained(AutoModelForImageTextToText, path, self.precision, self._device)
        self._label = hf.model_label(path, self._model.config)

    def _generate(self, inputs: Any) -> Any:
        import torch

        inputs = {k: v.to(self._device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self._model.dtype)
        options: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams,
                                   "do_sample": False}
        if self.no_repeat_ngram_size:
            options["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        with torch.inference_mode():
            return self._model.generate(**inputs, **options)

    def _caption_images(self, images: list[np.ndarray], prompt: str | None) -> list[str]:
        """Image-to-text over ``images`` (one generate call); ``prompt`` is a text prefix when given."""
        if prompt:
            inputs = self._processor(images=images, text=[prompt] * len(images), return_tensors="pt")
        else:
            inputs = self._processor(images=images, return_tensors="pt")
        output = self._generate(inputs)
        return [tidy(text, prompt) for text in self._processor.batch_decode(output, skip_special_tokens=True)]


@dataclass(kw_only=True)
class KeyframeCaptions(_GeneratingStage):
    """Keyframes -> one caption each (the official ``ofa{k}``)."""

    kind = "keyframe_captions"
    inputs = ("keyframes",)
    outputs = ("keyframe_captions",)

    prompt: str | None = None  # a text prefix for conditional captioners (BLIP: "a picture of")
    num_beams: int = 5
    no_repeat_ngram_size: int = 3

    def setup(self) -> None:
        self._load()

    def process(self, batch: list[Sample]) -> None:
        frames, owners = hf.flatten_keyframes(batch)
        captions = self._caption_images(frames, self.prompt)
        for position, sample in enumerate(batch):
            sample.fields["keyframe_captions"] = [c for c, owner in zip(captions, owners, strict=True)
                                                  if owner[0] == position]
            sample.meta["keyframe_caption_model"] = self._label


@dataclass(kw_only=True)
class VideoCaption(_GeneratingStage):
    """Keyframes + title + hashtags -> one caption for the video (the official ``mplug``)."""

    kind = "video_caption"
    inputs = ("keyframes", "text")
    outputs = ("video_caption",)

    mode: str = "chat"
    prompt: str = "video_caption"  # chat mode: a template (shipped name or path); frame_grid: a text prefix or ""
    frames_as: str = "images"
    num_frames: int = 8
    grid: tuple[int, int] = (2, 4)  # frame_grid: rows, columns
    cell_short_side: int = 192
    max_new_tokens: int = 77

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("chat", "frame_grid"):
            raise ConfigError(f"stage {self.name}: mode must be 'chat' or 'frame_grid'")
        if self.frames_as not in ("images", "video"):
            raise ConfigError(f"stage {self.name}: frames_as must be 'images' or 'video'")

    def setup(self) -> None:
        self._load()
        if self.frames_as == "video" and getattr(self._processor, "video_processor", None) is None:
            raise ConfigError(f"stage {self.name}: the processor of {self.model} takes no videos "
                              "(use frames_as: images; video processors need torchvision)")
        if self.mode == "chat":
            self._template = prompts.load_template(self.prompt)
            tokenizer = getattr(self._processor, "tokenizer", None)
            if tokenizer is not None:
                tokenizer.padding_side = "left"  # decoder-only generation pads on the left

    def process(self, batch: list[Sample]) -> None:
        if self.mode == "frame_grid":
            grids = [frame_grid(s.fields["keyframes"], self.grid, self.cell_short_side) for s in batch]
            captions = self._caption_images(grids, self.prompt or None)
        else:
            captions = self._chat(batch)
        for sample, caption in zip(batch, captions, strict=True):
            sample.fields["video_caption"] = caption
            sample.meta["video_caption_model"] = self._label

    def _chat(self, batch: list[Sample]) -> list[str]:
        texts, images, videos = [], [], []
        for sample in batch:
            frames = _subsample(sample.fields["keyframes"], self.num_frames)
            visual = [{"type": "image"}] * len(frames) if self.frames_as == "images" else [{"type": "video"}]
            message = [{"role": "user", "content": [*visual, {"type": "text",
                                                              "text": prompts.render(self._template, sample)}]}]
            texts.append(self._processor.apply_chat_template(message, add_generation_prompt=True))
            if self.frames_as == "images":
                images += frames
            else:
                videos.append(np.stack(frames))
        media = {"images": images} if self.frames_as == "images" else {"videos": videos}
        inputs = self._processor(text=texts, **media, return_tensors="pt", padding=True)
        output = self._generate(inputs)[:, inputs["input_ids"].shape[1]:]
        return [tidy(text) for text in self._processor.batch_decode(output, skip_special_tokens=True)]


def frame_grid(frames: list[np.ndarray], grid: tuple[int, int], cell_short_side: int) -> np.ndarray:
    """The frames tiled row by row into ``grid`` = (rows, columns) cells (missing cells stay black)."""
    rows, columns = grid
    height, width = frames[0].shape[:2]
    scale = cell_short_side / min(height, width)
    cell_w, cell_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = np.zeros((rows * cell_h, columns * cell_w, 3), np.uint8)
    for index, frame in enumerate(_subsample(frames, rows * columns)):
        row, column = divmod(index, columns)
        canvas[row * cell_h:(row + 1) * cell_h, column * cell_w:(column + 1) * cell_w] = resize(frame, (cell_w, cell_h))
    return canvas


def _subsample(frames: list[np.ndarray], count: int) -> list[np.ndarray]:
    if len(frames) <= count:
        return list(frames)
    return [frames[int(i)] for i in np.linspace(0, len(frames) - 1, count)]
