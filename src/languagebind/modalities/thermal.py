"""Thermal infrared pictures (LLVIP / FLIR style), read as images."""

from languagebind.registry import BUILTIN, ModalitySpec, register_modality

SPEC = register_modality(ModalitySpec(
    name="thermal",
    extensions=(".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"),
    loader="languagebind.processing.processor:load_thermal_item",
    item_shape="languagebind.processing.processor:still_shape",
    token_geometry="2-D patches",
    model_type="LanguageBindThermal",
    templates=("a thermal infrared photo of a {}.",),
    augment="languagebind.data.augment:augment_thermal",
    flip=True,
    in_memory=("picture",),
    letter="ir",
    preview="channel",
    tiny={"image_size": (32, 32)},
    released={"image_size": (224, 224)},
    description="thermal infrared pictures (the official thermal checkpoint)",
), source=BUILTIN)
