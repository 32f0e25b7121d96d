"""Tiny copies of the public layouts of the paired (combined / emergent) tasks, with real media files.

Each ``build_<dataset>(root)`` writes the layout and returns ``{"files": {role: [relative paths]}, ...}`` in
reader order, plus ``labels`` or ``captions``/``caption_item`` when the task has them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.evaluation.layouts import NYU_FOLDERS, _csv, write_depth, write_image, write_video


def write_video_with_audio(path: Path, seed: int) -> None:
    """An MP4 with an MPEG-4 video stream and an AAC mono sound track (0.5 s at 16 kHz)."""
    write_video(path, seed, sound_rate=16000)


def _two_trees(root: Path, trees: tuple[str, str], layout: dict[str, int], order: list[str],
               writers: tuple[Callable[[Path, int], None], Callable[[Path, int], None]],
               exts: tuple[str, str]) -> tuple[list[str], list[str], list[int]]:
    first, second, labels = [], [], []
    for folder in order:
        for k in range(layout.get(folder, 0)):
            stem = f"val/{folder}/{k:05d}"
            first.append(f"{trees[0]}/{stem}{exts[0]}")
            second.append(f"{trees[1]}/{stem}{exts[1]}")
            writers[0](root / first[-1], 10 + len(labels))
            writers[1](root / second[-1], 50 + len(labels))
            labels.append(order.index(folder))
    return first, second, labels


def build_nyu_d(root: Path) -> dict:
    """``depth/val/<scene>/<id>.png`` (uint16 mm) + ``rgb/val/<scene>/<id>.jpg``."""
    depth, rgb, labels = _two_trees(root, ("depth", "rgb"), {"bathroom": 2, "kitchen": 1, "office": 2, "others": 1},
                                    NYU_FOLDERS, (write_depth, write_image), (".png", ".jpg"))
    return {"files": {"rgb": rgb, "depth": depth}, "labels": labels}


def build_llvip(root: Path) -> dict:
    """``infrared/val/{background,person}/<id>.jpg`` + ``visible/`` with the same names (LLVIP's own naming)."""
    thermal, rgb, labels = _two_trees(root, ("infrared", "visible"), {"background": 3, "person": 2},
                                      ["background", "person"], (write_image, write_image), (".jpg", ".jpg"))
    return {"files": {"rgb": rgb, "thermal": thermal}, "labels": labels}


def build_msrvtt(root: Path) -> dict:
    sentences = ["a man is cooking pasta", "a dog runs on the beach", "a girl sings a song", "cars race"]
    ids = ["video7020", "video7010", "video9770", "video9731"]
    owner = [0, 1, 2, 3]
    _csv(root / "msrvtt_data" / "MSRVTT_JSFUSION_test.csv",
         [["", "key", "vid_key", "video_id", "sentence"]]
         + [[i, f"ret{i}", f"msr{v[5:]}", v, s] for i, (v, s) in enumerate(zip(ids, sentences, strict=True))])
    items = [f"MSRVTT/videos/all/{v}.mp4" for v in ids]
    for seed, rel in enumerate(items):
        write_video_with_audio(root / rel, seed)
    return {"files": {"video": items, "audio": items}, "captions": sentences, "caption_item": owner}


def build_vggsound(root: Path) -> dict:
    rows = [["---g-f_I2yQ", 1, "people marching", "test"], ["--0PQM4-hqg", 30, "waterfall burbling", "train"],
            ["--56QUhyDQM", 185, "playing tennis", "test"], ["-0BIyqJj9ZU", 30, "police car (siren)", "test"],
            ["-1nwo5TDLW4", 10, "playing tennis", "test"]]
    _csv(root / "vggsound.csv", rows)
    clips = [f"video/{r[0]}_{r[1]:06d}.mp4" for r in rows if r[3] == "test"]
    for seed, rel in enumerate(clips):
        write_video_with_audio(root / rel, seed)
    return {"files": {"rgb": clips, "audio": clips}, "labels": [157, 224, 238, 224]}


def build_ave(root: Path) -> dict:
    """AVE_Dataset: ``AVE/<id>.mp4`` + ``Annotations.txt`` (with its header) and ``testSet.txt`` (without)."""
    base = root / "AVE_Dataset"
    lines = ["Church bell&RUhOCu3LNXM&good&0&10", "Male speech, man speaking&MH3m4AwEcRY&good&6&8",
             "Dog&-gv9zgXS9x4&good&2&9", "Male speech, man speaking&MH3m4AwEcRY&good&6&8"]  # listed twice
    base.mkdir(parents=True)
    (base / "Annotations.txt").write_text("Category&VideoID&Quality&StartTime&EndTime\n"
                                          + "\n".join([*lines, "Frying (food)&--UzE8GUNkQ&good&0&10"]) + "\n")
    (base / "testSet.txt").write_text("\n".join(lines) + "\n")
    clips = [f"AVE_Dataset/AVE/{v}.mp4" for v in ("RUhOCu3LNXM", "MH3m4AwEcRY", "-gv9zgXS9x4")]
    for seed, rel in enumerate(clips):
        write_video_with_audio(root / rel, seed)
    return {"files": {"rgb": clips, "audio": clips}}


BUILDERS: dict[str, Callable[[Path], dict]] = {"nyu_d": build_nyu_d, "llvip": build_llvip, "msrvtt": build_msrvtt,
                                               "vggsound": build_vggsound, "ave": build_ave}
