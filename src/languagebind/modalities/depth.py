"""Depth maps: 16-bit PNG in millimetres, or float ``.npy`` / TIFF in metres."""

from languagebind.registry import BUILTIN, ModalitySpec, register_modality

SPEC = register_modality(ModalitySpec(
    name="depth",
    extensions=(".png", ".npy", ".tif", ".tiff"),
    loader="languagebind.processing.processor:load_depth_item",
    item_shape="languagebind.processing.processor:still_shape",
    token_geometry="2-D patches",
    model_type="LanguageBindDepth",
    templates=("a depth photo of a {}.",),
    augment="languagebind.data.augment:augment_depth",
    flip=True,
    in_memory=("picture", "array"),
    letter="d",
    preview="heatmap",
    guess_for=(".npy",),
    tiny={"image_size": (32, 32)},
    released={"image_size": (224, 224)},
    clip_fields={"max_depth": 10},
    description="depth maps (the official depth checkpoint)",
), source=BUILTIN)
