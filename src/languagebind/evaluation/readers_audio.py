"""Readers for the audio benchmarks in their public layouts.

Audio files are found anywhere below ``--data`` by name or stem (wav, flac, mp3, ... or the video file
the audio track is in), so both the as-downloaded and the extracted-wav layouts work.
"""

from __future__ import annotations

from pathlib import Path

from languagebind.errors import InputError
from languagebind.evaluation.datasets import (
    AUDIO_EXTENSIONS,
    ClassificationSet,
    FileIndex,
    RetrievalSet,
    cell,
    find_annotation,
    read_csv_dicts,
    read_csv_rows,
)
from languagebind.evaluation.prompts import class_table


def _label_index(table: str) -> tuple[list[str], dict[str, int]]:
    pairs = class_table(table)
    return [name for _, name in pairs], {key: i for i, (key, _) in enumerate(pairs)}


def read_esc50(root: Path) -> ClassificationSet:
    """ESC-50: ``meta/esc50.csv`` (filename, fold, target, category, ...) and ``audio/<filename>``.

    All five folds are evaluated (zero-shot needs no training fold); each item's fold is kept as its group.
    Class order is the official alphabetical one; ``category`` (``chirping_birds``) selects the class.
    """
    path = find_annotation(root, ["esc50.csv"], "ESC-50 meta/esc50.csv")
    classes, index = _label_index("esc50")
    audio_dir = path.parent.parent / "audio"
    files = FileIndex(root, AUDIO_EXTENSIONS)
    items, labels, groups = [], [], []
    for line, row in enumerate(read_csv_dicts(path, ["filename", "fold", "category"]), start=2):
        category = cell(row, "category", path, line)
        if category not in index:
            raise InputError(path, f"line {line}: unknown category {category!r}")
        name = cell(row, "filename", path, line)
        items.append(files.find([name], audio_dir / name))
        labels.append(index[category])
        groups.append(f"fold{cell(row, 'fold', path, line)}")
    return ClassificationSet(items, classes, labels=labels, groups=groups)


def read_vggsound(root: Path) -> ClassificationSet:
    """VGGSound ``vggsound.csv`` (no header: youtube_id, start_seconds, label, split), rows with split "test".

    Clips are ``<youtube_id>_<start:06d>.*`` (the release naming), ``<youtube_id>_<start>.*``,
    ``<youtube_id>_<start:06d>_<end:06d>.*`` or ``<youtube_id>.*``.
    """
    path = find_annotation(root, ["vggsound.csv", "vggsound_test.csv"], "VGGSound csv")
    classes, index = _label_index("vggsound")
    files = FileIndex(root, AUDIO_EXTENSIONS)
    items, labels = [], []
    for line, row in enumerate(read_csv_rows(path), start=1):
        if len(row) < 3 or (len(row) >= 4 and row[3] != "test"):
            continue
        yid, start, label = row[0], row[1], row[2]
        if label not in index:
            raise InputError(path, f"line {line}: label {label!r} is not one of the 309 VGGSound classes")
        try:
            seconds = int(float(start))
        except ValueError as err:
            raise InputError(path, f"line {line}: bad start seconds {start!r}") from err
        name = f"{yid}_{seconds:06d}"
        keys = [name, f"{yid}_{seconds}", f"{yid}_{start}", f"{name}_{seconds + 10:06d}", yid]
        items.append(files.find(keys, root / "test" / f"{name}.wav"))
        labels.append(index[label])
    if not items:
        raise InputError(path, "no rows with split 'test'")
    return ClassificationSet(items, classes, labels=labels)


def read_audioset(root: Path) -> ClassificationSet:
    """AudioSet evaluation: ``class_labels_indices.csv`` (index, mid, display_name) + ``eval_segments.csv``.

    Segments: ``YTID, start_seconds, end_seconds, "mid,mid,..."`` (``#`` header lines). Audio files are
    ``Y<YTID>.*`` (the official filter), ``<YTID>.*`` or ``<YTID>_<start>_<end>.*``. Multi-label targets.
    """
    labels_path = find_annotation(root, ["class_labels_indices.csv"], "AudioSet class_labels_indices.csv")
    segments_path = find_annotation(root, ["eval_segments.csv"], "AudioSet eval_segments.csv")
    rows = read_csv_dicts(labels_path, ["index", "mid", "display_name"])
    classes = [cell(r, "display_name", labels_path, n) for n, r in enumerate(rows, start=2)]
    by_mid = {cell(r, "mid", labels_path, n): i for i, (n, r) in enumerate(enumerate(rows, start=2))}
    files = FileIndex(root, AUDIO_EXTENSIONS)
    items, targets = [], []
    for line, row in enumerate(read_csv_rows(segments_path, skip_comments=True), start=1):
        if len(row) < 4:
            raise InputError(segments_path, f"segment {line}: expected YTID, start, end, labels")
        yid, start, end, mids = row[0], row[1], row[2], row[3]
        target = sorted({by_mid[m.strip()] for m in mids.split(",") if m.strip() in by_mid})
        if not target:
            continue  # no label of the 527 classes: it cannot count for any class
        try:
            s, e = float(start), float(end)
        except ValueError as err:
            raise InputError(segments_path, f"segment {line}: bad start/end ({err})") from err
        keys = [f"Y{yid}", yid, f"Y{yid}_{s:.3f}_{e:.3f}", f"{yid}_{s:.3f}_{e:.3f}", f"{yid}_{int(s)}_{int(e)}",
                f"{yid}_{int(s)}"]
        items.append(files.find(keys, root / "eval_segments" / f"Y{yid}.wav"))
        targets.append(target)
    return ClassificationSet(items, classes, targets=targets)


def read_clotho(root: Path) -> RetrievalSet:
    """Clotho v2 evaluation: ``clotho_captions_evaluation.csv`` (file_name, caption_1..caption_5);
    audio at ``evaluation/<file_name>``."""
    path = find_annotation(root, ["clotho_captions_evaluation.csv"], "Clotho clotho_captions_evaluation.csv")
    files = FileIndex(root, AUDIO_EXTENSIONS)
    items, captions, owner = [], [], []
    for line, row in enumerate(read_csv_dicts(path, ["file_name", "caption_1"]), start=2):
        name = cell(row, "file_name", path, line)
        texts = [row[k] for k in sorted(row) if k.startswith("caption_") and row[k]]
        items.append(files.find([name], root / "evaluation" / name))
        captions.extend(texts)
        owner.extend([len(items) - 1] * len(texts))
    return RetrievalSet(items, captions, owner)


def read_audiocaps(root: Path) -> RetrievalSet:
    """AudioCaps ``test.csv`` (audiocap_id, youtube_id, start_time, caption); one item per clip.

    Clips keep their first-appearance order; files are ``<youtube_id>.*``, ``Y<youtube_id>.*``,
    ``<youtube_id>_<start_time>.*`` or ``<audiocap_id>.*``.
    """
    path = find_annotation(root, ["test.csv", "audiocaps_test.csv"], "AudioCaps test.csv")
    files = FileIndex(root, AUDIO_EXTENSIONS)
    clips: dict[tuple[str, str], int] = {}
    items, captions, owner = [], [], []
    for line, row in enumerate(read_csv_dicts(path, ["audiocap_id", "youtube_id", "start_time", "caption"]),
                               start=2):
        yid, start = cell(row, "youtube_id", path, line), cell(row, "start_time", path, line)
        if (yid, start) not in clips:
            clips[(yid, start)] = len(items)
            keys = [yid, f"Y{yid}", f"{yid}_{start}", row["audiocap_id"]]
            items.append(files.find(keys, root / "test" / f"{yid}.wav"))
        captions.append(cell(row, "caption", path, line))
        owner.append(clips[(yid, start)])
    return RetrievalSet(items, captions, owner)
