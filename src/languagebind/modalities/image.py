"""Images: RGB pictures, the modality of the CLIP image tower every other tower starts from."""

from languagebind.registry import BUILTIN, ModalitySpec, register_modality

SPEC = register_modality(ModalitySpec(
    name="image",
    extensions=(".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"),
    loader="languagebind.processing.processor:load_image_item",
    item_shape="languagebind.processing.processor:still_shape",
    token_geometry="2-D patches",
    model_type="LanguageBindImage",
    templates=("a photo of a {}.",),
    augment="languagebind.data.augment:augment_image",
    flip=True,
    in_memory=("picture",),
    letter="i",
    preview="thumbnail",
    guess_for=("*",),
    tiny={"image_size": (32, 32)},
    released={"image_size": (224, 224)},
    description="RGB pictures (the official image checkpoint)",
), source=BUILTIN)
