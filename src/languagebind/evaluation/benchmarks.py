"""The benchmark registry: name -> reader, modality, task, metrics, prompts and the paper's numbers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from languagebind.errors import InputError
from languagebind.evaluation import readers_audio as audio
from languagebind.evaluation import readers_folders as folders
from languagebind.evaluation import readers_points as points
from languagebind.evaluation import readers_video as video
from languagebind.evaluation.datasets import Dataset
from languagebind.evaluation.prompts import paper_rows
from languagebind.evaluation.readers_folders import read_class_folders
from languagebind.registry import get_modality, is_modality, modality_names

FOLDER = "folder"  # the generic benchmark: one folder per class, any registered modality


@dataclass(frozen=True)
class Benchmark:
    """One evaluation: how to read it, what tower encodes it, and what is reported."""

    name: str
    title: str
    reader: Callable[[Path], Dataset]
    modality: str
    task: str  # "retrieval" | "classification" | "multilabel"
    metrics: tuple[str, ...]  # headline metrics (the Markdown table's rows)
    templates: str | None = None  # template set of prompts.templates (classification)
    layout: str = ""  # what --data must contain
    prompt_templates: tuple[str, ...] = ()  # the templates themselves (instead of a set of prompts.templates)

    @property
    def letter(self) -> str:
        """The modality's letter in retrieval metric names (``t2v_R@1``, ``a2t_MdR``): its spec's ``letter``."""
        return get_modality(self.modality).letter


def _retrieval(name: str, title: str, reader: Callable[[Path], Dataset], modality: str, layout: str) -> Benchmark:
    x = get_modality(modality).letter
    metrics = tuple(f"{d}_{m}" for d in (f"t2{x}", f"{x}2t") for m in ("R@1", "R@5", "R@10", "MdR", "MnR"))
    return Benchmark(name, title, reader, modality, "retrieval", metrics, layout=layout)


def _classification(name: str, title: str, reader: Callable[[Path], Dataset], modality: str, templates: str,
                    layout: str, top5: bool = True) -> Benchmark:
    return Benchmark(name, title, reader, modality, "classification", ("top1", "top5") if top5 else ("top1",),
                     templates, layout)


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    _retrieval("msrvtt", "MSR-VTT 1k-A", video.read_msrvtt, "video",
               "MSRVTT_JSFUSION_test.csv + <video_id>.mp4"),
    _retrieval("msvd", "MSVD", video.read_msvd, "video", "raw-captions.pkl, test_list.txt + <video_id>.avi"),
    _retrieval("didemo", "DiDeMo (paragraph)", video.read_didemo, "video",
               "test_data.json [+ test_list.txt] + videos named as in the json"),
    _retrieval("activitynet", "ActivityNet Captions val_1 (paragraph)", video.read_activitynet, "video",
               "val_1.json [+ val_ids.json] + v_<id>.mp4"),
    _classification("kinetics400", "Kinetics-400 val", video.read_kinetics400, "video", "video",
                    "validate.csv/val.csv + <youtube_id>_<start:06d>_<end:06d>.mp4"),
    _classification("llvip", "LLVIP (infrared crops)", folders.read_llvip, "thermal", "photo",
                    "[val/]{background,person}/*.jpg", top5=False),
    _classification("flir_v1", "FLIR v1 (infrared crops)", folders.read_flir_v1, "thermal", "photo",
                    "[val/]{bicycle,car,dog,person}/*.jpg", top5=False),
    _classification("flir_v2", "FLIR v2 (infrared crops)", folders.read_flir_v2, "thermal", "photo",
                    "[val/]<12 class folders>/*.jpg"),
    _classification("nyu_d", "NYU-D v2 (depth scenes)", folders.read_nyu_d, "depth", "depth",
                    "[val/]<10 scene folders>/*.png (uint16 mm)"),
    _classification("sun_d", "SUN-D (depth scenes)", folders.read_sun_d, "depth", "depth",
                    "[val/]<19 scene folders>/*.png (uint16 mm)"),
    _classification("esc50", "ESC-50 (5 folds)", audio.read_esc50, "audio", "sound",
                    "meta/esc50.csv + audio/<filename>.wav"),
    _classification("vggsound", "VGGSound test", audio.read_vggsound, "audio", "sound",
                    "vggsound.csv + <youtube_id>_<start:06d>.wav|.mp4"),
    Benchmark("audioset", "AudioSet eval (multi-label)", audio.read_audioset, "audio", "multilabel", ("mAP",),
              "sound", "class_labels_indices.csv, eval_segments.csv + Y<YTID>.wav"),
    _retrieval("clotho", "Clotho v2 evaluation", audio.read_clotho, "audio",
               "clotho_captions_evaluation.csv + evaluation/<file_name>"),
    _retrieval("audiocaps", "AudioCaps test", audio.read_audiocaps, "audio",
               "test.csv + <youtube_id>.wav"),
    _classification("imagenet", "ImageNet-style folders", folders.read_imagenet, "image", "photo",
                    "[val/]<wnid>/*.JPEG"),
    _classification("modelnet40", "ModelNet40 test (point clouds)", points.read_modelnet40, "point", "point",
                    "modelnet40_shape_names.txt, modelnet40_test.txt + <class>/<id>.txt (normal_resampled), or "
                    "shape_names.txt + ply_data_test*.h5 (ply_hdf5_2048)"),
]}

ALIASES = {"msr_vtt": "msrvtt", "msrvtt_1ka": "msrvtt", "activitynet_captions": "activitynet", "anet": "activitynet",
           "k400": "kinetics400", "kinetics_400": "kinetics400", "flirv1": "flir_v1", "flirv2": "flir_v2",
           "nyuv2": "nyu_d", "nyud": "nyu_d", "nyu_d_v2": "nyu_d", "sunrgbd": "sun_d", "sund": "sun_d",
           "esc_50": "esc50", "vgg_sound": "vggsound", "clotho_v2": "clotho", "imagenet_1k": "imagenet",
           "modelnet": "modelnet40", "modelnet_40": "modelnet40"}


def folder_benchmark(modality: str) -> Benchmark:
    """Zero-shot classification of any registered modality from ``<data>[/val|/test]/<class>/<files>``: the class
    names are the folder names (``_`` read as a space), the prompts the modality's own templates."""
    spec = get_modality(modality)
    reader = functools.partial(read_class_folders, extensions=spec.extensions)
    return Benchmark(FOLDER, f"class folders ({modality})", reader, modality, "classification", ("top1", "top5"),
                     layout=f"[val/|test/]<one folder per class>/<files ending in {', '.join(spec.extensions)}>",
                     prompt_templates=spec.templates)


def get_benchmark(name: str, modality: str | None = None) -> Benchmark:
    """A benchmark by name (case and ``-``/``_`` insensitive, common aliases accepted); ``folder`` needs the
    ``modality``."""
    key = name.strip().lower().replace("-", "_")
    if key == FOLDER:
        if not modality:
            raise InputError(name, "the folder benchmark needs a modality (--modality)")
        if not is_modality(modality):
            raise InputError(modality, f"unknown modality; known: {', '.join(modality_names())}")
        return folder_benchmark(modality)
    key = ALIASES.get(key, key)
    if key not in BENCHMARKS:
        raise InputError(name, f"unknown benchmark; known: {', '.join(BENCHMARKS)}, {FOLDER}")
    return BENCHMARKS[key]


def paper_results(name: str) -> dict[str, dict[str, dict]]:
    """The paper's numbers for a benchmark: ``{variant: {metric: {"value", "verified", "source"}}}``."""
    out: dict[str, dict[str, dict]] = {}
    for row in paper_rows("paper_results.json"):
        if row["benchmark"] == name:
            out.setdefault(row["variant"], {})[row["metric"]] = {k: row[k] for k in ("value", "verified", "source")}
    return out
