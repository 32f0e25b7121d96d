"""Readers of benchmark items that carry several modalities at once (combined and emergent tasks).

Every reader returns a ``PairedSet``: ``files[role][i]`` is item ``i`` seen through ``role`` (``"rgb"``,
``"depth"``, ``"thermal"``, ``"video"``, ``"audio"``; ``"rgb"`` is the frames of a video file for AVE and
VGGSound), and ``base`` the item's ground truth (labels or
captions) when the task needs it. The single-modality readers are reused unchanged, so a paired task names
exactly the files the single-modality benchmark names, and the embedding cache (keyed by file and tower)
serves both.

Layouts (docs/evaluation.md, "Combined and emergent tasks"):

* NYU-D and LLVIP: two parallel trees under ``--data``, each in the single-modality class-folder layout;
  a file pairs with the file of the same relative path and stem in the other tree (any image ending).
  NYU-D: ``depth/`` + one of ``rgb/``, ``image/``, ``images/``. LLVIP (named as its release,
  ``LLVIP/{infrared,visible}/``): ``infrared/`` (or ``thermal/``, ``ir/``) + ``visible/`` (or ``rgb/``,
  ``image/``, ``images/``).
* MSR-VTT: the single-modality layout; the audio is the sound track of the same video file.
* VGGSound: the single-modality layout with the clips as videos; the audio is the file the audio reader
  picks (the clip itself, or an extracted ``.wav`` of the same stem).
* AVE (AVE_Dataset): ``AVE/<VideoID>.mp4`` + ``testSet.txt`` (else ``Annotations.txt``), lines
  ``Category&VideoID&Quality&StartTime&EndTime``; video frames and the sound track of the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from languagebind.errors import InputError
from languagebind.evaluation import readers_audio as audio
from languagebind.evaluation import readers_folders as folders
from languagebind.evaluation import readers_video as video
from languagebind.evaluation.datasets import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ClassificationSet,
    Dataset,
    FileIndex,
    find_annotation,
    read_lines,
)


@dataclass(frozen=True)
class PairedSet:
    """The same items in several modalities, and their ground truth over those items (or ``None``)."""

    files: dict[str, list[Path]]
    base: Dataset | None = None

    def __post_init__(self) -> None:
        sizes = {len(paths) for paths in self.files.values()}
        if len(sizes) != 1:
            raise ValueError(f"every role needs one file per item: {({r: len(p) for r, p in self.files.items()})}")
        if self.base is not None and len(self.base.items) != len(self):
            raise ValueError("the ground truth must cover the same items")

    def __len__(self) -> int:
        return len(next(iter(self.files.values())))

    def subset(self, keep: Sequence[int]) -> PairedSet:
        """The items at ``keep`` (in that order)."""
        files = {role: [paths[i] for i in keep] for role, paths in self.files.items()}
        return PairedSet(files, self.base.subset(keep) if self.base is not None else None)


# -- class folders in two parallel trees ---------------------------------------------------------------
def _tree(root: Path, names: Sequence[str], what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "the --data directory does not exist")
    for name in names:
        for candidate in (root / name, root / name.upper(), root / name.capitalize()):
            if candidate.is_dir():
                return candidate
    raise InputError(root, f"no {what} folder (looked for {', '.join(n + '/' for n in names)})")


def _partners(tree: Path, files: Sequence[Path], other: Path) -> list[Path]:
    """For each file of ``tree``, the file of ``other`` at the same relative folder with the same stem and any
    image ending (the first by name), else the ``.jpg`` expected there (reported as missing)."""
    found: dict[tuple[Path, str], Path] = {}
    for path in sorted(p for p in other.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()):
        rel = path.relative_to(other)
        found.setdefault((rel.parent, rel.stem), path)
    out = []
    for path in files:
        rel = path.relative_to(tree)
        out.append(found.get((rel.parent, rel.stem), other / rel.parent / f"{rel.stem}.jpg"))
    return out


def _paired_folders(root: Path, single: ClassificationSet, tree: Path, role: str, rgb_names: Sequence[str]
                    ) -> PairedSet:
    rgb_tree = _tree(root, rgb_names, "RGB")
    return PairedSet({"rgb": _partners(tree, single.items, rgb_tree), role: list(single.items)}, single)


NYU_DEPTH_TREES = ("depth",)
NYU_RGB_TREES = ("rgb", "image", "images")
LLVIP_THERMAL_TREES = ("infrared", "thermal", "ir")
LLVIP_RGB_TREES = ("visible", "rgb", "image", "images")


def read_nyu_d_pairs(root: Path) -> PairedSet:
    """NYU-D v2: ``depth/[val/]<scene>/<id>.png`` (uint16 mm) + ``rgb/[val/]<scene>/<id>.<jpg|png>``."""
    tree = _tree(root, NYU_DEPTH_TREES, "depth")
    return _paired_folders(root, folders.read_nyu_d(tree), tree, "depth", NYU_RGB_TREES)


def read_llvip_pairs(root: Path) -> PairedSet:
    """LLVIP crops: ``infrared/[val/]{background,person}/<id>.jpg`` + ``visible/`` with the same files."""
    tree = _tree(root, LLVIP_THERMAL_TREES, "infrared")
    return _paired_folders(root, folders.read_llvip(tree), tree, "thermal", LLVIP_RGB_TREES)


# -- videos with their sound track ----------------------------------------------------------------------
def read_msrvtt_pairs(root: Path) -> PairedSet:
    """MSR-VTT 1k-A as ``read_msrvtt``; each video file is also its own audio."""
    single = video.read_msrvtt(root)
    return PairedSet({"video": list(single.items), "audio": list(single.items)}, single)


def read_vggsound_pairs(root: Path) -> PairedSet:
    """VGGSound test as ``read_vggsound``; the video is the clip of the audio file's stem (or that file)."""
    single = audio.read_vggsound(root)
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    clips = [path if path.suffix.lower() in VIDEO_EXTENSIONS
             else videos.find([path.stem], path.with_suffix(".mp4")) for path in single.items]
    return PairedSet({"rgb": clips, "audio": list(single.items)}, single)


AVE_LISTS = ("testSet.txt", "Annotations.txt")


def read_ave(root: Path) -> PairedSet:
    """AVE: ``testSet.txt`` (else ``Annotations.txt``) lines ``Category&VideoID&Quality&StartTime&EndTime``
    (a header line is skipped); ``AVE/<VideoID>.mp4``. Each video once, in file order."""
    path = find_annotation(root, AVE_LISTS, "AVE testSet.txt or Annotations.txt")
    videos = FileIndex(root, VIDEO_EXTENSIONS)
    seen: dict[str, Path] = {}
    for line, text in enumerate(read_lines(path), start=1):
        fields = [field.strip() for field in text.split("&")]
        if fields[0].lower() == "category":
            continue
        if len(fields) < 5 or not fields[1]:
            raise InputError(path, f"line {line}: expected Category&VideoID&Quality&StartTime&EndTime, got {text!r}")
        video_id = fields[1]
        if video_id not in seen:
            seen[video_id] = videos.find([video_id], path.parent / "AVE" / f"{video_id}.mp4")
    if not seen:
        raise InputError(path, "no videos listed")
    clips = list(seen.values())
    return PairedSet({"rgb": clips, "audio": list(clips)})
