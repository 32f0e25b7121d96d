"""Videos: clips of frames sampled evenly, with temporal attention layers (2-D patches, or 3-D tubes in V1.5)."""

from languagebind.registry import BUILTIN, ModalitySpec, register_modality

SPEC = register_modality(ModalitySpec(
    name="video",
    extensions=(".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"),
    loader="languagebind.processing.processor:load_video_item",
    item_shape="languagebind.processing.processor:clip_shape",
    token_geometry="2-D patches per frame (3-D tubes with tube_size) + temporal layers",
    clip=True,
    model_type="LanguageBindVideo",
    templates=("a video of a {}.",),
    augment="languagebind.data.augment:augment_video",
    flip=True,
    letter="v",
    preview="frames",
    guess_for=("*",),
    tiny={"image_size": (32, 32), "num_frames": 4, "temporal": True},
    released={"image_size": (224, 224), "num_frames": 8, "temporal": True},
    clip_fields={"add_time_attn": True, "num_frames": 8},
    description="video clips (the official video checkpoints)",
), source=BUILTIN)
