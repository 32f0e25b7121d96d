"""Readers for the video benchmarks in their public layouts (annotation files as released).

Every reader takes the ``--data`` directory; annotation files are looked for in it and below, videos
anywhere below it by id (any common video extension).
"""

from __future__ import annotations

import pickle
from pathlib import Path

from languagebind.errors import InputError
from languagebind.evaluation.datasets import (
    VIDEO_EXTENSIONS,
    ClassificationSet,
    FileIndex,
    RetrievalSet,
    cell,
    find_annotation,
    read_csv_dicts,
    read_json,
    read_lines,
)


def _retrieval(items: list[Path], captions_per_item: list[list[str]]) -> RetrievalSet:
    captions, owner = [], []
    for index, texts in enumerate(captions_per_item):
        captions.extend(texts)
        owner.extend([index] * len(texts))
    return RetrievalSet(items, captions, owner)


def read_msrvtt(root: Path) -> RetrievalSet:
    """MSR-VTT 1k-A: ``MSRVTT_JSFUSION_test.csv`` (key, vid_key, video_id, sentence); ``<video_id>.mp4``."""
    path = find_annotation(root, ["MSRVTT_JSFUSION_test.csv"], "MSR-VTT JSFusion test csv")
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    order: dict[str, list[str]] = {}
    for line, row in enumerate(read_csv_dicts(path, ["video_id", "sentence"]), start=2):
        order.setdefault(cell(row, "video_id", path, line), []).append(cell(row, "sentence", path, line))
    items = [videos.find([v], root / "videos" / "all" / f"{v}.mp4") for v in order]
    return _retrieval(items, list(order.values()))


class _CaptionUnpickler(pickle.Unpickler):
    """Only plain containers and strings: a caption pickle must not run code."""

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a caption file")


def read_msvd(root: Path) -> RetrievalSet:
    """MSVD: ``raw-captions.pkl`` ({video_id: [[tokens], ...]}) + ``test_list.txt``; ``<video_id>.avi``.

    Each caption is its tokens joined by spaces (CLIP4Clip); every caption is a query.
    """
    pkl = find_annotation(root, ["raw-captions.pkl"], "MSVD raw-captions.pkl")
    ids = read_lines(find_annotation(root, ["test_list.txt"], "MSVD test_list.txt"))
    try:
        with pkl.open("rb") as handle:
            raw = _CaptionUnpickler(handle).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as err:
        raise InputError(pkl, f"cannot read the caption pickle ({err})") from err
    if not isinstance(raw, dict):
        raise InputError(pkl, "expected a dict {video_id: [captions]}")
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    captions = []
    for vid in ids:
        if vid not in raw or not raw[vid]:
            raise InputError(pkl, f"test video {vid!r} has no captions")
        captions.append([" ".join(c) if isinstance(c, (list, tuple)) else str(c) for c in raw[vid]])
    items = [videos.find([v], root / "YouTubeClips" / f"{v}.avi") for v in ids]
    return _retrieval(items, captions)


def read_didemo(root: Path) -> RetrievalSet:
    """DiDeMo: ``test_data.json`` (list of {video, description, times}); paragraph-to-video retrieval.

    The descriptions of a video are joined (in file order) into one paragraph. ``test_list.txt``, when
    present, restricts and orders the videos (CLIP4Clip); otherwise file order is used.
    """
    path = find_annotation(root, ["test_data.json"], "DiDeMo test_data.json")
    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(path, "expected a list of {video, description, ...} entries")
    paragraphs: dict[str, list[str]] = {}
    for n, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry.get("video") or not isinstance(entry.get("description"), str):
            raise InputError(path, f"entry {n} lacks 'video' or 'description'")
        paragraphs.setdefault(entry["video"], []).append(entry["description"].strip())
    ids = list(paragraphs)
    try:
        listed = read_lines(find_annotation(root, ["test_list.txt"], "DiDeMo test_list.txt"))
        ids = [v for v in listed if v in paragraphs]
    except InputError:
        pass
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    items = [videos.find([v, Path(v).stem], root / "videos" / v) for v in ids]
    return _retrieval(items, [[" ".join(paragraphs[v])] for v in ids])


def read_activitynet(root: Path) -> RetrievalSet:
    """ActivityNet Captions ``val_1.json`` ({v_id: {sentences, ...}}): paragraph-to-video retrieval.

    Sentences are joined into one paragraph per video; videos are ``v_<id>.*`` (or ``<id>.*``).
    ``val_ids.json``, when present, restricts the videos (CLIP4Clip).
    """
    path = find_annotation(root, ["val_1.json"], "ActivityNet Captions val_1.json")
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(path, "expected {video_id: {'sentences': [...]}}")
    ids = list(data)
    try:
        listed = read_json(find_annotation(root, ["val_ids.json"], "val_ids.json"))
        ids = [v for v in listed if v in data] if isinstance(listed, list) else ids
    except InputError:
        pass
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    paragraphs, items = [], []
    for vid in ids:
        sentences = data[vid].get("sentences") if isinstance(data[vid], dict) else None
        if not sentences or not all(isinstance(s, str) for s in sentences):
            raise InputError(path, f"video {vid!r} has no 'sentences' list")
        paragraphs.append([" ".join(s.strip() for s in sentences)])
        bare = vid[2:] if vid.startswith("v_") else vid
        items.append(videos.find([vid, bare, f"v_{bare}"], root / "videos" / f"{vid}.mp4"))
    return _retrieval(items, paragraphs)


KINETICS_CSV_NAMES = ("validate.csv", "val.csv", "kinetics_val.csv", "kinetics_400_validate.csv",
                      "kinetics400_val.csv", "kinetics-400_val.csv", "kinetics_400_val.csv")
KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def _kinetics_csv(root: Path) -> Path:
    """A csv of the known names, else the first csv below ``root`` whose header has the Kinetics columns."""
    try:
        return find_annotation(root, KINETICS_CSV_NAMES, "Kinetics-400 validation csv")
    except InputError:
        for path in sorted(Path(root).rglob("*.csv")):
            with path.open(encoding="utf-8", errors="replace") as handle:
                header = handle.readline()
            if all(column in header for column in KINETICS_COLUMNS):
                return path
        raise


def read_kinetics400(root: Path) -> ClassificationSet:
    """Kinetics-400 validation csv (label, youtube_id, time_start, time_end, split), e.g. ``annotations/val.csv``.

    Clips are ``<youtube_id>_<start:06d>_<end:06d>.mp4`` (CVDF release) or ``<youtube_id>.*``, anywhere
    below ``root``. Classes are the sorted distinct labels (the standard 400-class order).
    """
    path = _kinetics_csv(root)
    rows = read_csv_dicts(path, KINETICS_COLUMNS)
    classes = sorted({cell(row, "label", path, n) for n, row in enumerate(rows, start=2)})
    index = {name: i for i, name in enumerate(classes)}
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    items, labels = [], []
    for line, row in enumerate(rows, start=2):
        yid = cell(row, "youtube_id", path, line)
        try:
            start, end = int(float(row["time_start"])), int(float(row["time_end"]))
        except ValueError as err:
            raise InputError(path, f"line {line}: bad time_start/time_end ({err})") from err
        name = f"{yid}_{start:06d}_{end:06d}"
        items.append(videos.find([name, yid], root / "val" / f"{name}.mp4"))
        labels.append(index[row["label"]])
    return ClassificationSet(items, classes, labels=labels)
