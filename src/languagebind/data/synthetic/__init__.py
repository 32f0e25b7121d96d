"""VIDAL-mini: a built-in, procedurally generated, aligned dataset in the VIDAL-10M formats (no downloads).

Each clip shows 1-3 objects of one category (ball, cube, star, ...) with a colour, size, motion direction and
speed, rendered as a short video, a still image, depth maps (16-bit PNG, mm), infrared images, a sound track
timed with the motion, a point cloud sampled on the objects' 3-D surfaces and the 6-axis IMU trace of a sensor
riding the main object, plus VIDAL's multi-view text (title with hashtags, keyframe captions, video, polished and
sound captions) written from the ground truth. Everything derives from a seed.

    from languagebind.data.synthetic import SyntheticConfig, generate
    data = generate("runs/vidal-mini", SyntheticConfig(seed=0), progress=True)
    data["train"].manifest      # <root>/train/manifest.jsonl (our manifest format)
    data["test"].shards         # [<root>/test/shards/shard-000000.tar, ...] (our WebDataset format)
    data["train"].official_annotation   # the official {id: {folder, mplug, ...}} JSON

For evaluation, every record's ``meta`` holds the attributes and ``meta["captions"][modality]``, the caption
naming only what that modality perceives; ``caption``, ``perceives``, ``attributes_match``, ``zero_shot_labels``
and ``caption_labels`` rebuild captions and label lists from attributes. See docs/vidal-mini.md.
"""

from languagebind.data.synthetic.captions import (
    attributes_match,
    caption,
    caption_labels,
    captions_for,
    category_names,
    perceived,
    perceives,
    zero_shot_classes,
    zero_shot_labels,
)
from languagebind.data.synthetic.generate import GeneratedDataset, SplitInfo, dataset_description, generate
from languagebind.data.synthetic.options import SPLITS, SyntheticConfig
from languagebind.data.synthetic.vocab import ATTRIBUTES, CATEGORIES, MODALITIES, PERCEIVES, Vocabulary

__all__ = [
    "ATTRIBUTES",
    "CATEGORIES",
    "MODALITIES",
    "PERCEIVES",
    "SPLITS",
    "GeneratedDataset",
    "SplitInfo",
    "SyntheticConfig",
    "Vocabulary",
    "attributes_match",
    "caption",
    "caption_labels",
    "captions_for",
    "category_names",
    "dataset_description",
    "generate",
    "perceived",
    "perceives",
    "zero_shot_classes",
    "zero_shot_labels",
]
