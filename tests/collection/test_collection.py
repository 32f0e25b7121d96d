"""Collection embedding: shards in walk order, resume, bad files, rank split, the reader and the CLI DIR mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from languagebind.cli.main import main
from languagebind.collection.embed import CollectionSettings, embed_collection, iter_files
from languagebind.collection.store import CollectionReader, ShardFiles
from languagebind.errors import InputError
from languagebind.utils.torchrun import torchrun_env
from tests.collection.conftest import add_corrupt, make_images

SETTINGS = CollectionSettings("image", (".png", ".jpg"), shard_size=8, batch_size=4)


@pytest.fixture()
def collection(tmp_path: Path) -> tuple[Path, list[Path], Path]:
    root = tmp_path / "photos"
    good = make_images(root, 37, per_dir=12)
    bad = add_corrupt(root / "d01" / "img0005b.png")  # sorts right after d01/img0005.png
    (root / "notes.txt").write_text("not an image extension: ignored")
    return root, good, bad


def mtimes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in directory.glob("shard-*")}


def test_walk_is_sorted_and_filtered(collection: tuple) -> None:
    root, good, bad = collection
    files = list(iter_files(root, SETTINGS.extensions))
    assert files == sorted([*good, bad], key=lambda p: p.relative_to(root).parts)


def test_shards_hold_the_walk_in_order_and_equal_encode(collection: tuple, tiny_model, tmp_path: Path) -> None:
    root, good, bad = collection
    reported: list[dict] = []
    summary = embed_collection(tiny_model, root, tmp_path / "out", SETTINGS, rank=0, world=1,
                               on_failure=reported.append)
    assert (summary.files, summary.shards, summary.rows, summary.failures) == (38, 5, 37, 1)
    assert summary.complete and summary.embedded_shards == 5
    reader = CollectionReader(tmp_path / "out")
    assert reader.ids() == [p.relative_to(root).as_posix() for p in good]
    expected = tiny_model.encode("image", good, batch_size=4).numpy()
    np.testing.assert_allclose(reader.embeddings(), expected, atol=1e-6)
    assert reader.embeddings().dtype == np.float32
    bad_id = bad.relative_to(root).as_posix()
    assert [r["id"] for r in reported] == [bad_id] == [r["id"] for r in reader.failures()]
    merged = [json.loads(line) for line in (tmp_path / "out" / "failures.jsonl").read_text().splitlines()]
    assert merged == reader.failures() and "image" in merged[0]["reason"].lower()


def test_resume_recomputes_only_unfinished_shards(collection: tuple, tiny_model, tmp_path: Path) -> None:
    root, _, _ = collection
    out = tmp_path / "out"
    embed_collection(tiny_model, root, out, SETTINGS, rank=0, world=1)
    first = CollectionReader(out).embeddings()
    ShardFiles(out, 2).embeddings.unlink()  # as if killed before shard 2's completion mark
    assert CollectionReader(out).missing() == [2]
    with pytest.raises(InputError, match="not finished"):
        CollectionReader(out).embeddings()
    before = mtimes(out)
    summary = embed_collection(tiny_model, root, out, SETTINGS, rank=0, world=1)
    assert (summary.embedded_shards, summary.finished_before) == (1, 4)
    after = mtimes(out)
    rewritten = {k for k in after if after[k] != before.get(k)}
    assert rewritten == {"shard-000002.jsonl", "shard-000002.npy", "shard-000002.failures.jsonl"}  # the bad file
    np.testing.assert_array_equal(CollectionReader(out).embeddings(), first)


def test_ranks_split_the_shards(collection: tuple, tiny_model, tmp_path: Path) -> None:
    root, _, _ = collection
    embed_collection(tiny_model, root, tmp_path / "single", SETTINGS, rank=0, world=1)
    shared = tmp_path / "shared"
    first = embed_collection(tiny_model, root, shared, SETTINGS, rank=1, world=2)
    assert first.embedded_shards == 2 and not first.complete
    assert CollectionReader(shared).missing() == [0, 2, 4]
    second = embed_collection(tiny_model, root, shared, SETTINGS, rank=0, world=2)
    assert second.embedded_shards == 3 and second.complete
    single = CollectionReader(tmp_path / "single").embeddings()
    np.testing.assert_array_equal(CollectionReader(shared).embeddings(), single)
    assert (shared / "failures.jsonl").is_file()


def test_changed_files_are_recomputed_and_changed_settings_refused(collection: tuple, tiny_model,
                                                                   tmp_path: Path) -> None:
    root, _, _ = collection
    out = tmp_path / "out"
    embed_collection(tiny_model, root, out, SETTINGS, rank=0, world=1)
    make_images(root / "d00" / "zz", 1, seed=9)  # d00/zz/d00/img0000.png: shifts every later shard by one
    summary = embed_collection(tiny_model, root, out, SETTINGS, rank=0, world=1)
    assert summary.files == 39 and summary.finished_before == 1 and summary.embedded_shards == 4
    assert len(CollectionReader(out).ids()) == 38
    other = CollectionSettings("image", SETTINGS.extensions, shard_size=16)
    with pytest.raises(InputError, match="shard_size"):
        embed_collection(tiny_model, root, out, other, rank=0, world=1)


def test_rank_and_world_come_from_torchrun_env() -> None:
    assert (torchrun_env({}).rank, torchrun_env({}).world_size) == (0, 1)
    launch = torchrun_env({"RANK": "3", "WORLD_SIZE": "4"})
    assert (launch.rank, launch.world_size) == (3, 4)
    with pytest.raises(InputError):
        torchrun_env({"RANK": "4", "WORLD_SIZE": "4"})


def test_cli_dir_mode(collection: tuple, tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, good, bad = collection
    out = tmp_path / "cli-out"
    args = ["embed", str(root), "--out", str(out), "--checkpoint", str(tiny_checkpoint), "--shard-size", "16",
            "--no-progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert f"skipped {bad.relative_to(root).as_posix()}" in captured.err
    assert "3 shards" in captured.out and "complete" in captured.out
    assert len(CollectionReader(out).ids()) == len(good)
    assert main(args) == 0
    assert "embedded 0 shards" in capsys.readouterr().out
    assert main(["embed", str(good[0]), "--out", str(out), "--checkpoint", str(tiny_checkpoint)]) == 2
    assert "exactly one input DIR" in capsys.readouterr().err
