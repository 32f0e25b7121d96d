"""ModelNet40 zero-shot in both public layouts: readers, metrics against hand-computed values, the cache, the CLI
with a real tiny point tower, and broken layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.errors import InputError
from languagebind.evaluation import get_benchmark
from languagebind.evaluation.cache import file_key
from languagebind.evaluation.prompts import templates
from languagebind.evaluation.runner import evaluate
from languagebind.model.presets import tiny_config
from languagebind.processing.pointcloud import PointCloudConfig, load_point_cloud
from tests.evaluation.layouts import build_modelnet40

CLASSES = ["airplane", "bathtub", "bed", "flower_pot", "night_stand", "xbox"]
SHOWN = ["airplane", "bathtub", "bed", "flower pot", "night stand", "xbox"]
# Scores of each test shape for the six classes, and its true class. Ranks of the truth: 1, 3, 1, 6, 2 ->
# top-1 = 2 / 5 = 40 %, top-5 = 4 / 5 = 80 %.
SCORES = [([9, 1, 2, 3, 4, 5], 0), ([1, 2, 9, 3, 8, 4], 3), ([1, 2, 3, 4, 5, 9], 5), ([9, 8, 7, 6, 5, 1], 5),
          ([1, 9, 8, 2, 3, 4], 2)]
TOP1, TOP5 = 40.0, 80.0


def cloud(seed: int, count: int = 64) -> np.ndarray:
    points = np.random.default_rng(seed).normal(size=(count, 3))
    return np.hstack([points, points / np.linalg.norm(points, axis=1, keepdims=True)])


def resampled_layout(root: Path) -> tuple[Path, list[str]]:
    """``modelnet40_normal_resampled`` with the five test shapes of ``SCORES`` (and one train shape)."""
    base = root / "modelnet40_normal_resampled"
    base.mkdir(parents=True)
    (base / "modelnet40_shape_names.txt").write_text("\n".join(CLASSES) + "\n")
    names = [f"{CLASSES[label]}_{100 + n:04d}" for n, (_, label) in enumerate(SCORES)]
    (base / "modelnet40_test.txt").write_text("\n".join(names) + "\n")
    (base / "modelnet40_train.txt").write_text("bed_0001\n")
    for n, name in enumerate([*names, "bed_0001"]):
        folder = base / name.rsplit("_", 1)[0]
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.txt").write_text("".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in cloud(n)))
    return base, [str(base / n.rsplit("_", 1)[0] / f"{n}.txt") for n in names]


def hdf5_layout(root: Path, listing: bool = True) -> tuple[Path, list[str]]:
    """``modelnet40_ply_hdf5_2048`` with the five test shapes of ``SCORES`` in two files (3 + 2 clouds)."""
    base = root / "modelnet40_ply_hdf5_2048"
    base.mkdir(parents=True)
    (base / "shape_names.txt").write_text("\n".join(CLASSES) + "\n")
    items = []
    for number, rows in enumerate([SCORES[:3], SCORES[3:]]):
        path = base / f"ply_data_test{number}.h5"
        with h5py.File(path, "w") as handle:
            handle["data"] = np.stack([cloud(len(items) + i)[:, :3] for i in range(len(rows))]).astype(np.float32)
            handle["normal"] = np.stack([cloud(len(items) + i)[:, 3:] for i in range(len(rows))]).astype(np.float32)
            handle["label"] = np.array([[label] for _, label in rows], dtype=np.uint8)
            handle["faceId"] = np.zeros((len(rows), 64), dtype=np.int32)
        items.extend(f"{path}#{i}" for i in range(len(rows)))
    with h5py.File(base / "ply_data_train0.h5", "w") as handle:
        handle["data"] = np.zeros((2, 64, 3), np.float32)
        handle["label"] = np.zeros((2, 1), np.uint8)
    if listing:  # as released: paths relative to the download's parent folder
        (base / "test_files.txt").write_text("".join(f"data/modelnet40_ply_hdf5_2048/ply_data_test{i}.h5\n"
                                                     for i in range(2)))
    return base, items


class ScoringEncoder:
    """Item ``n`` of the layout gets ``SCORES[n]`` as its embedding; a prompt gets the one-hot of its class, so the
    logits are the scores themselves."""

    def __init__(self, items: list[str]) -> None:
        self.items = {item: n for n, item in enumerate(items)}
        self.encoded: dict[str, int] = {}

    def encode(self, modality: str, items: Any, batch_size: int = 32, progress: bool | None = None) -> torch.Tensor:
        self.encoded[modality] = self.encoded.get(modality, 0) + len(items)
        if modality == "text":
            rows = [torch.eye(len(SHOWN))[next(i for i, c in enumerate(SHOWN) if f" {c}" in t)] for t in items]
            return torch.stack(rows)
        for item in items:  # the items are real point clouds
            assert load_point_cloud(item, PointCloudConfig(num_points=32)).shape == (32, 3)
        rows = [torch.tensor(SCORES[self.items[str(item)]][0], dtype=torch.float32) for item in items]
        return torch.nn.functional.normalize(torch.stack(rows), dim=-1)

    def checkpoint_fingerprint(self, modality: str) -> str:
        return f"scores-{modality}"


@pytest.mark.parametrize("layout", [resampled_layout, hdf5_layout])
def test_both_layouts_give_the_hand_computed_metrics_then_use_the_cache(tmp_path: Path, layout) -> None:
    _, items = layout(tmp_path / "data")
    bench = get_benchmark("modelnet40")
    dataset = bench.reader(tmp_path / "data")
    assert [str(p) for p in dataset.items] == items
    assert dataset.labels == [label for _, label in SCORES] and dataset.classnames == SHOWN
    encoder = ScoringEncoder(items)
    first = evaluate(bench, tmp_path / "data", encoder, cache_dir=tmp_path / "cache", batch_size=2)
    assert first.metrics == pytest.approx({"top1": TOP1, "top5": TOP5})
    assert first.encoded == {"items": 5, "texts": 6 * len(templates("point"))} and not first.missing
    encoder.encoded.clear()
    second = evaluate(bench, tmp_path / "data", encoder, cache_dir=tmp_path / "cache", batch_size=2)
    assert second.metrics == first.metrics and second.encoded == {"items": 0, "texts": 0} and not encoder.encoded


def test_hdf5_files_by_number_without_a_listing_and_member_cache_keys(tmp_path: Path) -> None:
    base, items = hdf5_layout(tmp_path / "data", listing=False)
    for n in range(2, 11):  # ply_data_test10.h5 sorts after ply_data_test2.h5
        with h5py.File(base / f"ply_data_test{n}.h5", "w") as handle:
            handle["data"] = np.zeros((1, 64, 3), np.float32)
            handle["label"] = np.array([[n % 6]], np.uint8)
    dataset = get_benchmark("modelnet40").reader(base)
    assert [str(p) for p in dataset.items[:5]] == items
    assert [p.name for p in dataset.items[5:]] == [f"ply_data_test{n}.h5#0" for n in range(2, 11)]
    keys = {file_key(Path(item), "point") for item in items}
    assert len(keys) == 5  # one key per member
    before = file_key(Path(items[0]), "point")
    with h5py.File(base / "ply_data_test0.h5", "a") as handle:
        handle["data"][0] = 1.0
    assert file_key(Path(items[0]), "point") != before  # a rewritten container is a new key


def test_cli_on_the_hdf5_layout_with_a_tiny_point_tower(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, items = hdf5_layout(tmp_path / "data")
    model = LanguageBind.from_config({"point": tiny_config("point")}, seed=1)
    checkpoint = model.save_pretrained(tmp_path / "ckpt", modality="point")
    args = ["eval", "modelnet40", "--data", str(tmp_path / "data"), "--checkpoint", f"point={checkpoint}",
            "--batch-size", "2", "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--out", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.json")]) == 0
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert first["n"] == 5 and first["modality"] == "point" and second["encoded"] == {"items": 0, "texts": 0}
    assert first["metrics"] == second["metrics"]
    # the metrics from the model's own embeddings, by hand
    emb = model.encode("point", items).double()
    tmpl = templates("point")
    prompts = model.encode("text", [t.format(c) for c in SHOWN for t in tmpl]).double()
    classes = torch.nn.functional.normalize(prompts.view(len(SHOWN), len(tmpl), -1).mean(1), dim=-1)
    ranks = [1 + int((row > row[label]).sum()) for row, (_, label) in zip(emb @ classes.T, SCORES, strict=True)]
    assert first["metrics"]["top1"] == pytest.approx(100 * np.mean([r == 1 for r in ranks]))
    assert first["metrics"]["top5"] == pytest.approx(100 * np.mean([r <= 5 for r in ranks]))
    assert "0 items and 0 texts encoded" in capsys.readouterr().err


def test_broken_layouts_name_the_file(tmp_path: Path) -> None:
    bench = get_benchmark("modelnet40")
    with pytest.raises(InputError, match="neither ModelNet40 layout"):
        bench.reader(tmp_path)
    base, _ = resampled_layout(tmp_path / "unknown")
    (base / "modelnet40_test.txt").write_text("airplane_0100\nsubmarine_0001\n")
    with pytest.raises(InputError, match="line 2: 'submarine_0001' is of no class"):
        bench.reader(base)
    (base / "modelnet40_shape_names.txt").unlink()
    with pytest.raises(InputError, match="class list is missing"):
        bench.reader(base)
    h5, _ = hdf5_layout(tmp_path / "h5")
    with h5py.File(h5 / "ply_data_test1.h5", "a") as handle:
        handle["label"][0] = 40
    with pytest.raises(InputError, match=r"labels must be class indices 0\.\.5") as err:
        bench.reader(h5)
    assert "ply_data_test1.h5" in str(err.value)
    (h5 / "ply_data_test1.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="cannot read as HDF5"):
        bench.reader(h5)
    (h5 / "test_files.txt").write_text("data/modelnet40_ply_hdf5_2048/ply_data_test7.h5\n")
    with pytest.raises(InputError, match=r"ply_data_test7\.h5"):
        bench.reader(h5)


def test_missing_and_unreadable_clouds_are_left_out_with_allow_missing(tmp_path: Path) -> None:
    expected = build_modelnet40(tmp_path)
    (tmp_path / expected["items"][1]).write_text("1,2,3\n")  # too few points
    (tmp_path / expected["items"][3]).unlink()
    model = LanguageBind.from_config({"point": tiny_config("point")})
    with pytest.raises(InputError, match="1 of 4 files are missing or unreadable"):  # found before encoding
        evaluate(get_benchmark("modelnet40"), tmp_path, model, batch_size=2)
    result = evaluate(get_benchmark("modelnet40"), tmp_path, model, batch_size=2, allow_missing=True)
    assert result.n == 2 and [r for _, r in result.missing] == ["too few points: 1 distinct, at least 32 needed "
                                                                "(min_points)", "file not found"]
