"""Tiny copies of the public benchmark layouts (same file names and columns), with real tiny media files.

Each ``build_<benchmark>(root)`` writes the layout under ``root`` and returns what a reader must find:
``{"items": [relative media paths in reader order], ...}`` plus ``captions``/``caption_item`` (retrieval),
``labels`` (classification) or ``targets`` (multi-label).
"""

from __future__ import annotations

import csv
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image


# -- media ------------------------------------------------------------------------------------------------
def write_video(path: Path, seed: int, frames: int = 4, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_audio(path: Path, seed: int, seconds: float = 0.3, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tone = np.sin(np.arange(int(seconds * rate)) * (0.02 + 0.01 * seed)) * 0.3
    sf.write(path, (tone + 0.05 * rng.standard_normal(tone.size)).astype(np.float32), rate)


def write_image(path: Path, seed: int, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_depth(path: Path, seed: int, size: int = 24) -> None:
    """A 16-bit PNG of depth in millimetres (0-10 m), as NYU-D / SUN-D are released."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mm = np.random.default_rng(seed).integers(300, 10000, (size, size)).astype(np.uint16)
    Image.fromarray(mm).save(path)


def _csv(path: Path, rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def _media(root: Path, rels: list[str], writer: Callable[[Path, int], None]) -> None:
    for seed, rel in enumerate(rels):
        writer(root / rel, seed)


# -- video ------------------------------------------------------------------------------------------------
def build_msrvtt(root: Path) -> dict:
    sentences = ["a man is cooking pasta", "a dog runs on the beach", "a girl sings a song"]
    ids = ["video7020", "video7010", "video9770"]
    _csv(root / "msrvtt_data" / "MSRVTT_JSFUSION_test.csv",
         [["", "key", "vid_key", "video_id", "sentence"]]
         + [[i, f"ret{i}", f"msr{v[5:]}", v, s] for i, (v, s) in enumerate(zip(ids, sentences, strict=True))])
    items = [f"MSRVTT/videos/all/{v}.mp4" for v in ids]
    _media(root, items, write_video)
    return {"items": items, "captions": sentences, "caption_item": [0, 1, 2]}


def build_msvd(root: Path) -> dict:
    captions = {"-4wsuPCjDBc_5_15": [["a", "cat", "plays"], ["the", "cat", "jumps"]],
                "-7KMZQEsJW4_205_208": [["a", "man", "slices", "bread"]],
                "zzit5b_-ukg_5_20": [["kids", "swim"], ["children", "in", "a", "pool"], ["swimming"]],
                "train_only_1_2": [["not", "in", "test"]]}
    (root / "msvd_data").mkdir(parents=True)
    with (root / "msvd_data" / "raw-captions.pkl").open("wb") as handle:
        pickle.dump(captions, handle)
    test = ["-4wsuPCjDBc_5_15", "-7KMZQEsJW4_205_208", "zzit5b_-ukg_5_20"]
    (root / "msvd_data" / "test_list.txt").write_text("\n".join(test) + "\n")
    items = [f"YouTubeClips/{v}.avi" for v in test]
    _media(root, items, write_video)
    return {"items": items, "captions": ["a cat plays", "the cat jumps", "a man slices bread", "kids swim",
                                         "children in a pool", "swimming"], "caption_item": [0, 0, 1, 2, 2, 2]}


def build_didemo(root: Path) -> dict:
    videos = ["12090392@N02_13482799053_87ef417396.mov", "10015567@N08_3655084291_d8b58466fa.mp4",
              "44405433@N08_6102305034_72d2b82ab9.avi"]
    data = [{"annotation_id": 1, "description": "a red car drives by ", "video": videos[0], "times": [[0, 1]]},
            {"annotation_id": 2, "description": "a woman waves", "video": videos[1], "times": [[2, 3], [2, 2]]},
            {"annotation_id": 3, "description": "the car stops", "video": videos[0], "times": [[3, 4]]},
            {"annotation_id": 4, "description": "birds fly", "video": videos[2], "times": [[1, 1]]}]
    (root / "didemo").mkdir(parents=True)
    (root / "didemo" / "test_data.json").write_text(json.dumps(data))
    (root / "didemo" / "test_list.txt").write_text("\n".join(videos) + "\n")
    items = [f"videos/{v}.mp4" for v in videos]  # the converted files keep the original name as stem
    _media(root, items, write_video)
    return {"items": items, "captions": ["a red car drives by the car stops", "a woman waves", "birds fly"],
            "caption_item": [0, 1, 2]}


def build_activitynet(root: Path) -> dict:
    data = {"v_uqiMw7tQ1Cc": {"duration": 55.15, "timestamps": [[0.28, 55.15], [13.79, 54.32]],
                              "sentences": ["A weight lifting tutorial is given.", "  The coach helps the guy."]},
            "v_bXdq2zI1Ms0": {"duration": 73.1, "timestamps": [[0, 10.2]], "sentences": ["Two men play chess."]},
            "v_FsS_NCZEfaI": {"duration": 20.0, "timestamps": [[0, 5]], "sentences": ["A dog swims.", "It shakes."]}}
    (root / "captions").mkdir(parents=True)
    (root / "captions" / "val_1.json").write_text(json.dumps(data))
    items = [f"videos/{v}.mp4" for v in data]
    _media(root, items, write_video)
    return {"items": items, "captions": ["A weight lifting tutorial is given. The coach helps the guy.",
                                         "Two men play chess.", "A dog swims. It shakes."], "caption_item": [0, 1, 2]}


def build_kinetics400(root: Path) -> dict:
    rows = [["label", "youtube_id", "time_start", "time_end", "split"],
            ["zumba", "--07WQ2iBlw", 1, 11, "val"], ["abseiling", "--33Lscn6sk", 4, 14, "val"],
            ["playing cello", "-0RDx_nMgEw", 30, 40, "val"], ["abseiling", "0ad_cD-1Qsk", 0, 10, "val"]]
    _csv(root / "annotations" / "val.csv", rows)
    items = [f"val/{r[1]}_{r[2]:06d}_{r[3]:06d}.mp4" for r in rows[1:]]
    _media(root, items, write_video)
    return {"items": items, "labels": [2, 0, 1, 0], "classnames": ["abseiling", "playing cello", "zumba"]}


# -- class folders ------------------------------------------------------------------------------------------
def _folders(root: Path, layout: dict[str, int], ext: str, writer: Callable[[Path, int], None],
             order: list[str]) -> dict:
    items, labels = [], []
    for folder in order:
        for k in range(layout.get(folder, 0)):
            rel = f"val/{folder}/{folder.replace(' ', '_')}_{k:02d}{ext}"
            writer(root / rel, len(items))
            items.append(rel)
            labels.append(order.index(folder))
    return {"items": items, "labels": labels}


def build_llvip(root: Path) -> dict:
    return _folders(root, {"background": 2, "person": 2}, ".jpg", write_image, ["background", "person"])


def build_flir_v1(root: Path) -> dict:
    return _folders(root, {"bicycle": 1, "car": 2, "dog": 1, "person": 1}, ".jpg", write_image,
                    ["bicycle", "car", "dog", "person"])


FLIR_V2_FOLDERS = ["bike", "bus", "car", "hydrant", "light", "motor", "other vehicle", "person", "sign",
                   "skateboard", "stroller", "truck"]


def build_flir_v2(root: Path) -> dict:
    return _folders(root, {"light": 2, "other vehicle": 1, "truck": 1, "car": 1}, ".jpg", write_image,
                    FLIR_V2_FOLDERS)


NYU_FOLDERS = ["bathroom", "bedroom", "bookstore", "classroom", "dining_room", "home_office", "kitchen",
               "living_room", "office", "others"]


def build_nyu_d(root: Path) -> dict:
    return _folders(root, {"bathroom": 1, "dining_room": 2, "office": 1, "others": 1}, ".png", write_depth,
                    NYU_FOLDERS)


SUN_FOLDERS = ["bathroom", "bedroom", "classroom", "computer_room", "conference_room", "corridor", "dining_area",
               "dining_room", "discussion_area", "furniture_store", "home_office", "kitchen", "lab",
               "lecture_theatre", "library", "living_room", "office", "rest_space", "study_space"]


def build_sun_d(root: Path) -> dict:
    return _folders(root, {"computer_room": 1, "lecture_theatre": 2, "study_space": 1}, ".png", write_depth,
                    SUN_FOLDERS)


def build_imagenet(root: Path) -> dict:
    out = _folders(root, {"n01440764": 2, "n01443537": 1, "n15075141": 1}, ".JPEG", write_image,
                   ["n01440764", "n01443537", "n15075141"])
    out["labels"] = [{0: 0, 1: 1, 2: 999}[label] for label in out["labels"]]  # tench, goldfish, toilet tissue
    return out


# -- point clouds ------------------------------------------------------------------------------------------
def write_points(path: Path, seed: int, count: int = 200) -> None:
    """ModelNet40's ``<class>/<id>.txt``: ``x,y,z,nx,ny,nz`` lines with six decimals."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(count, 3)) * rng.uniform(0.2, 1.0, size=3)
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)
    path.write_text("".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in np.hstack([points, normals])))


MODELNET_CLASSES = ["airplane", "bathtub", "flower_pot", "xbox"]


def build_modelnet40(root: Path) -> dict:
    """``modelnet40_normal_resampled``: a 4-class shape list, the test list (a train shape is not in it)."""
    base = root / "modelnet40_normal_resampled"
    base.mkdir(parents=True)
    (base / "modelnet40_shape_names.txt").write_text("\n".join(MODELNET_CLASSES) + "\n")
    test = ["airplane_0627", "flower_pot_0150", "flower_pot_0151", "xbox_0104"]
    (base / "modelnet40_test.txt").write_text("\n".join(test) + "\n")
    (base / "modelnet40_train.txt").write_text("bathtub_0001\n")
    items = [f"modelnet40_normal_resampled/{name.rsplit('_', 1)[0]}/{name}.txt" for name in [*test, "bathtub_0001"]]
    _media(root, items, write_points)
    return {"items": items[:4], "labels": [0, 2, 2, 3], "classnames": ["airplane", "bathtub", "flower pot", "xbox"]}


# -- audio -------------------------------------------------------------------------------------------------
def build_esc50(root: Path) -> dict:
    base = root / "ESC-50-master"
    rows = [["filename", "fold", "target", "category", "esc10", "src_file", "take"],
            ["1-100032-A-0.wav", 1, 0, "dog", "True", 100032, "A"],
            ["1-100038-A-14.wav", 1, 14, "chirping_birds", "False", 100038, "A"],
            ["2-100648-A-43.wav", 2, 43, "car_horn", "False", 100648, "A"],
            ["5-9032-A-0.wav", 5, 0, "dog", "True", 9032, "A"]]
    _csv(base / "meta" / "esc50.csv", rows)
    items = [f"ESC-50-master/audio/{r[0]}" for r in rows[1:]]
    _media(root, items, write_audio)
    # official alphabetical order: car horn = 4, chirping birds = 7, dog = 18
    return {"items": items, "labels": [18, 7, 4, 18], "groups": ["fold1", "fold1", "fold2", "fold5"]}


def build_vggsound(root: Path) -> dict:
    rows = [["---g-f_I2yQ", 1, "people marching", "test"], ["--0PQM4-hqg", 30, "waterfall burbling", "train"],
            ["--56QUhyDQM", 185, "playing tennis", "test"], ["-0BIyqJj9ZU", 30, "police car (siren)", "test"]]
    _csv(root / "vggsound.csv", rows)
    items = [f"video/{r[0]}_{r[1]:06d}.wav" for r in rows if r[3] == "test"]
    _media(root, items, write_audio)
    return {"items": items, "labels": [157, 224, 238]}


def build_audioset(root: Path) -> dict:
    _csv(root / "class_labels_indices.csv", [["index", "mid", "display_name"], [0, "/m/09x0r", "Speech"],
                                             [1, "/m/05zppz", "Male speech, man speaking"], [2, "/m/0jbk", "Animal"],
                                             [3, "/m/068hy", "Domestic animals, pets"]])
    lines = ["# Segments csv created Sun Mar  5 10:54:25 2017",
             "# num_ytids=3, num_segs=3, num_unique_labels=4, num_positive_labels=5",
             "# YTID, start_seconds, end_seconds, positive_labels",
             '--4gqARaEJE, 0.000, 10.000, "/m/068hy,/m/0jbk"',
             '--BfvyPmVMo, 20.000, 30.000, "/m/09x0r"',
             '--U7joUcTCo, 0.000, 10.000, "/m/05zppz,/m/09x0r"',
             '--ZZZunknown, 0.000, 10.000, "/m/0unknown"']
    (root / "eval_segments.csv").write_text("\n".join(lines) + "\n")
    items = ["eval_segments/Y--4gqARaEJE.wav", "eval_segments/Y--BfvyPmVMo.wav", "eval_segments/Y--U7joUcTCo.wav"]
    _media(root, items, write_audio)
    return {"items": items, "targets": [[2, 3], [0], [0, 1]]}


def build_clotho(root: Path) -> dict:
    rows = [["file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"],
            ["Santa Motor.wav", "a motor hums", "an engine idles", "machine noise", "a motor runs", "humming"],
            ["Rain drops.wav", "rain falls", "drops of rain", "water drips", "rain on a roof", "a shower"]]
    _csv(root / "clotho_captions_evaluation.csv", rows)
    items = [f"evaluation/{r[0]}" for r in rows[1:]]
    _media(root, items, write_audio)
    return {"items": items, "captions": rows[1][1:] + rows[2][1:], "caption_item": [0] * 5 + [1] * 5}


def build_audiocaps(root: Path) -> dict:
    rows = [["audiocap_id", "youtube_id", "start_time", "caption"],
            [103549, "7fmOlUlwoNg", 20, "Constant rattling noise"], [103548, "6BJ455B1aAs", 0, "A rocket flies"],
            [103550, "7fmOlUlwoNg", 20, "A train passes"], [103551, "GOD8Bt5LfDE", 100, "Birds chirp"]]
    _csv(root / "dataset" / "test.csv", rows)
    items = ["test/7fmOlUlwoNg.wav", "test/Y6BJ455B1aAs.wav", "test/GOD8Bt5LfDE_100.wav"]
    _media(root, items, write_audio)
    return {"items": items, "captions": [r[3] for r in rows[1:]], "caption_item": [0, 1, 0, 2]}


BUILDERS: dict[str, Callable[[Path], dict]] = {
    name[len("build_"):]: fn for name, fn in globals().items() if name.startswith("build_") and callable(fn)}
