"""Building and extending indexes: the CLI from media and from `embed` shards, add, resume, kill -9, the choice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from languagebind.cli.main import main
from languagebind.errors import InputError
from languagebind.index import ArraySource, BuildSettings, add_to_index, build_index, open_index
from languagebind.index.choose import choose, parse_bytes
from tests.collection.conftest import add_corrupt, make_images
from tests.index.conftest import clustered, rows_for

REPO = Path(__file__).resolve().parents[2]


def test_cli_from_media_with_captions_then_add_only_new_files(tmp_path, tiny_checkpoint, tiny_model, capsys) -> None:
    root, out = tmp_path / "photos", tmp_path / "photos.index"
    files = make_images(root, 10, per_dir=6)
    add_corrupt(root / "d00" / "broken.png")
    meta = tmp_path / "captions.jsonl"
    meta.write_text("".join(json.dumps({"path": f.relative_to(root).as_posix(), "caption": f"photo {i}",
                                        "even": i % 2 == 0}) + "\n" for i, f in enumerate(files)))
    ckpt = f"image={tiny_checkpoint}"
    assert main(["index", "build", str(root), "--checkpoint", ckpt, "--out", str(out), "--metadata", str(meta),
                 "--no-progress"]) == 0
    assert "| image | 10 | 10 | flat |" in capsys.readouterr().out
    emb = tiny_model.encode("image", files).numpy()
    with open_index(out) as store:
        assert store.count("image") == 10 and store.dim == emb.shape[1]
        top = store.search("image", emb[3], k=3)[0]
        assert top[0].id == "image:3" and top[0].score == pytest.approx(1.0, abs=1e-4)
        assert store.metadata(["image:3"])[0] | {"source": 0} == {
            "id": "image:3", "modality": "image", "path": "d00/img0003.png", "source": 0, "caption": "photo 3",
            "even": False}
        assert {h.id for h in store.search("image", emb[3], 10, {"even": True})[0]} == \
            {f"image:{i}" for i in range(0, 10, 2)}

    more = make_images(root / "new", 3, seed=9)
    assert main(["index", "add", str(root), "--checkpoint", ckpt, "--out", str(out), "--no-progress"]) == 0
    assert "| image | 13 | 3 | flat |" in capsys.readouterr().out
    with open_index(out) as store:
        assert store.count("image") == 13
        paths = [m["path"] for m in store.metadata([f"image:{i}" for i in range(13)])]
        assert paths[:10] == [f.relative_to(root).as_posix() for f in files]
        assert sorted(paths[10:]) == sorted(p.relative_to(root).as_posix() for p in more)
    assert main(["index", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["modalities"]["image"]["count"] == 13 and "caption" in info["fields"]["image"]

    embedded = [str(p) for p in (out / "embeddings").iterdir()]
    qdrant = tmp_path / "qdrant"
    assert main(["index", "build", "--embeddings", *embedded, "--backend", "qdrant", "--url", str(qdrant),
                 "--collection", "photos", "--metadata", str(meta), "--no-progress"]) == 0
    assert "image: 13 items in Qdrant collection photos" in capsys.readouterr().out
    with open_index(qdrant, backend="qdrant", collection="photos") as store, open_index(out) as local:
        assert store.count("image") == 13
        ranked = [[h.id for h in row] for row in store.search("image", emb[:2], 5)]
        assert ranked == [[h.id for h in row] for row in local.search("image", emb[:2], 5)]
        assert store.metadata(["image:3"])[0]["caption"] == "photo 3"


def test_cli_errors_are_clear(tmp_path, capsys) -> None:
    assert main(["index", "build", "--out", str(tmp_path / "x")]) == 2
    assert "nothing to index" in capsys.readouterr().err
    assert main(["index", "build", "--embeddings", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not an embedded collection" in capsys.readouterr().err
    assert main(["index", "add", "--embeddings", str(tmp_path), "--out", str(tmp_path / "none")]) == 2
    assert main(["index", "build", "--embeddings", str(tmp_path), "--backend", "qdrant"]) == 2
    assert "--url" in capsys.readouterr().err


def test_interrupted_build_resumes_and_keeps_the_previous_version(tmp_path) -> None:
    out = tmp_path / "idx"
    build_index(out, [ArraySource("image", clustered(40, 16), rows_for("image", 40))])
    vectors = clustered(900, 16, seed=4)
    sources = [ArraySource("image", vectors, rows_for("image", 900))]
    settings = BuildSettings(segment_rows=200)

    def interrupt(line: str) -> None:
        if "seg-000002" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(out, sources, settings, log=interrupt)
    with open_index(out) as store:
        assert store.count("image") == 40  # the previous version serves on
    first = (out / "build" / "image" / "seg-000000.npy").stat().st_mtime_ns
    lines: list[str] = []
    report = build_index(out, sources, settings, log=lines.append)
    assert report.resumed and not any("seg-000000" in line for line in lines)
    assert (out / report.version / "image" / "seg-000000.npy").stat().st_mtime_ns == first
    with open_index(out) as store:
        assert store.count("image") == 900 and store.search("image", vectors[700], 1)[0][0].id == "image:700"
    other = build_index(out, [ArraySource("image", vectors[:5], rows_for("image", 5))], settings)
    assert not other.resumed and sorted(p.name for p in out.glob("v*")) == [report.version, other.version]


KILLED_BUILD = """
import sys
sys.path.insert(0, {tests!r})
from languagebind.index import ArraySource, BuildSettings, build_index
from tests.index.conftest import clustered, rows_for
vectors = clustered(40000, 24, seed=11)
build_index({out!r}, [ArraySource("image", vectors, rows_for("image", 40000))],
            BuildSettings(index_type="hnsw", segment_rows=5000, checkpoint_seconds=0.0),
            log=lambda line: print(line, flush=True))
"""


def test_kill_9_mid_build_leaves_the_previous_index_and_resumes(tmp_path) -> None:
    out = tmp_path / "idx"
    build_index(out, [ArraySource("image", clustered(30, 24), rows_for("image", 30))])
    script = KILLED_BUILD.format(tests=str(REPO), out=str(out))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "build" / "image" / "partial.faiss").is_file():
        assert process.poll() is None and time.monotonic() < deadline, "the build ended before it could be killed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert (out / "CURRENT").read_text().strip() == "v000001"
    with open_index(out) as store:
        assert store.count("image") == 30
    vectors = clustered(40000, 24, seed=11)
    lines: list[str] = []
    report = build_index(out, [ArraySource("image", vectors, rows_for("image", 40000))],
                         BuildSettings(index_type="hnsw", segment_rows=5000), log=lines.append)
    assert report.resumed
    added = next(line for line in lines if "adding" in line)
    assert int(added.split("adding ")[1].split()[0]) < 40000  # continued from the checkpoint
    with open_index(out) as store:
        assert store.count("image") == 40000 and store.describe()["image"]["index"] == "hnsw"
        graph = store._parts["image"].index  # every vector in the graph once, in row order across the resume
        for row in (0, 16383, 16384, 25000, 39999):
            np.testing.assert_array_equal(graph.reconstruct(row), vectors[row])
        assert store.search("image", vectors[12345], 1, {"rank": 12345})[0][0].id == "image:12345"


def test_approximate_indexes_reach_the_target_and_filter_to_k(tmp_path) -> None:
    vectors = clustered(4000, 32, seed=3, clusters=16)
    for kind in ("hnsw", "ivfpq"):
        report = build_index(tmp_path / kind, [ArraySource("image", vectors, rows_for("image", 4000))],
                             BuildSettings(index_type=kind))
        assert report.modalities[0].recall_at_10 >= 0.95
        with open_index(tmp_path / kind) as store:
            assert store.describe()["image"]["index"] == kind
            queries = vectors[:20]
            exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
            found = [[int(h.id.split(":")[1]) for h in row] for row in store.search("image", queries, 10)]
            assert np.mean([len(set(f) & set(e.tolist())) / 10 for f, e in zip(found, exact, strict=True)]) >= 0.9
            rare = store.search("image", queries[:2], 10, {"rank": [5, 77, 901, 3999]})
            assert [sorted(int(h.id.split(":")[1]) for h in row) for row in rare] == [[5, 77, 901, 3999]] * 2
            many = store.search("image", queries[:2], 10, {"category": "dog"})
            assert all(len(row) == 10 and all(int(h.id.split(":")[1]) % 4 == 0 for h in row) for row in many)


def test_add_to_an_approximate_index(tmp_path) -> None:
    vectors = clustered(1500, 16, seed=8)
    build_index(tmp_path / "h", [ArraySource("image", vectors[:1400], rows_for("image", 1400))],
                BuildSettings(index_type="hnsw"))
    report = add_to_index(tmp_path / "h", [ArraySource("image", vectors[1400:], rows_for("image", 100, 1400))])
    assert (report.modalities[0].count, report.modalities[0].added, report.modalities[0].index) == (1500, 100, "hnsw")
    with open_index(tmp_path / "h") as store:
        assert [store.search("image", vectors[i], 1)[0][0].id for i in (3, 1400, 1499)] == \
            ["image:3", "image:1400", "image:1499"]
        assert store.metadata(["image:1450"])[0]["path"] == "image/01450.bin"


def test_the_choice_under_a_memory_budget() -> None:
    assert choose(1_000_000, 768, parse_bytes("8G"))["type"] == "flat"
    assert choose(1_000_001, 768, parse_bytes("8G"))["type"] == "hnsw"
    big = choose(2_000_000, 768, parse_bytes("1G"))
    assert big["type"] == "ivfpq" and big["factory"] == "OPQ64_512,IVF4096,PQ64x8"
    assert choose(100_000_000, 768, parse_bytes("4G"))["factory"].startswith("OPQ32_256,IVF")
    with pytest.raises(InputError, match="too small"):
        choose(100_000_000, 768, parse_bytes("100M"))
    with pytest.raises(InputError, match="4G"):
        parse_bytes("lots")
    assert parse_bytes("1.5G") == 3 * 2**29 and parse_bytes("512MiB") == 2**29
