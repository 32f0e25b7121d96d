"""Checkpoints by Hugging Face Hub id, from a Hub cache laid out on disk as ``huggingface_hub`` writes it.

No test touches the network: ``HF_HUB_OFFLINE=1`` is set for every test here (and in ``huggingface_hub``'s
constants, which it reads once at import), and the online paths are exercised with a stand-in
``hf_hub_download`` that serves files from a directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import numpy as np
import pytest
import torch
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

from languagebind import LanguageBind
from languagebind.cli.main import main as cli
from languagebind.errors import CheckpointError
from languagebind.hub import HubOptions, hub_cache_dir, is_hub_id, resolve_checkpoint
from languagebind.model.presets import tiny_config
from tests.hub.helpers import add_snapshot, commit_hash

REPO_ID = "LanguageBind/LanguageBind_Image"
MAIN = commit_hash("main commit")
OLD = commit_hash("old commit")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Offline for every test; no stray cache settings from the machine."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def older(tmp_path_factory):
    """Another tiny official-format image checkpoint (the repository's older revision)."""
    directory = tmp_path_factory.mktemp("older")
    model = LanguageBind.from_config(tiny_config("image", image_size=224, patch_size=14), seed=5)
    model.save_pretrained(directory, format="official")
    return directory


@pytest.fixture
def cache(tmp_path, fixture_dir, older):
    """A Hub cache holding the official tiny image checkpoint at ``main`` and ``older`` at an older commit."""
    root = tmp_path / "hf-cache"
    add_snapshot(root, REPO_ID, older, OLD, branch=None)
    add_snapshot(root, REPO_ID, fixture_dir / "checkpoint", MAIN)
    return root


@pytest.fixture(scope="module")
def images(assets):
    return [str(assets / "image" / "0.jpg"), str(assets / "image" / "1.jpg")]


def embeddings(source, images, **kwargs):
    model = LanguageBind.from_pretrained(source, **kwargs)
    return model.encode("image", images), model.encode("text", ["a dog", "a cat"])


def assert_same(a, b):
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_cache_layout_is_the_real_one(cache):
    repo = cache / "models--LanguageBind--LanguageBind_Image"
    assert (repo / "refs" / "main").read_text() == MAIN
    link = repo / "snapshots" / MAIN / "pytorch_model.bin"
    assert link.is_symlink() and link.resolve().parent == (repo / "blobs").resolve()
    assert huggingface_hub.try_to_load_from_cache(REPO_ID, "config.json", cache_dir=cache) == str(link.parent /
                                                                                                    "config.json")


def test_id_offline_from_hf_hub_cache_equals_the_directory(monkeypatch, cache, fixture_dir, images):
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert_same(embeddings(REPO_ID, images), embeddings(fixture_dir / "checkpoint", images))
    assert resolve_checkpoint(REPO_ID) == cache / "models--LanguageBind--LanguageBind_Image" / "snapshots" / MAIN


def test_id_by_cache_dir_and_by_hf_home(monkeypatch, tmp_path, cache, fixture_dir, images):
    expected = embeddings(fixture_dir / "checkpoint", images)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))  # cache_dir= wins over the environment
    assert_same(embeddings(REPO_ID, images, cache_dir=cache, local_files_only=True), expected)
    monkeypatch.delenv("HF_HUB_CACHE")
    home = tmp_path / "home"
    home.mkdir()
    shutil.move(str(cache), str(home / "hub"))
    monkeypatch.setenv("HF_HOME", str(home))
    assert hub_cache_dir() == home / "hub"
    assert_same(embeddings(REPO_ID, images), expected)


def test_revision_selects_the_snapshot(cache, older, images):
    expected = embeddings(older, images)
    assert_same(embeddings(REPO_ID, images, cache_dir=cache, revision=OLD), expected)
    assert_same(embeddings(f"{REPO_ID}@{OLD}", images, cache_dir=cache), expected)
    with pytest.raises(Exception, match="names revision"):
        resolve_checkpoint(f"{REPO_ID}@{OLD}", HubOptions(cache_dir=cache, revision="main"))


def test_several_ids_and_modalities(cache, fixture_dir, images):
    model = LanguageBind.from_pretrained({"image": REPO_ID}, cache_dir=cache)
    assert model.modalities == ["image"]
    assert model.sources["image"].name == MAIN  # the snapshot: official tokenizer files are copied from there


def test_a_local_path_wins_over_an_id(monkeypatch, tmp_path, cache, older, images):
    local = tmp_path / "LanguageBind" / "LanguageBind_Image"
    shutil.copytree(older, local)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert resolve_checkpoint(REPO_ID) == Path(REPO_ID)
    assert_same(embeddings(REPO_ID, images), embeddings(older, images))


def test_missing_id_offline_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty-cache"
    with pytest.raises(CheckpointError) as caught:
        LanguageBind.from_pretrained("LanguageBind/LanguageBind_Depth", cache_dir=empty)
    message = str(caught.value)
    assert "LanguageBind/LanguageBind_Depth" in message and str(empty) in message
    assert "offline" in message and "hf download LanguageBind/LanguageBind_Depth" in message
    assert "\n" not in message


def test_weights_missing_from_the_cache(tmp_path, fixture_dir):
    root = tmp_path / "partial"
    add_snapshot(root, REPO_ID, fixture_dir / "checkpoint", MAIN, files=["config.json"])
    with pytest.raises(CheckpointError, match="no weights in the cache"):
        resolve_checkpoint(REPO_ID, HubOptions(cache_dir=root))


def test_what_is_not_an_id_stays_a_path(tmp_path):
    assert not is_hub_id("ckpts/a/b") and not is_hub_id("./x/y") and not is_hub_id("/abs/x")
    assert is_hub_id("LanguageBind/LanguageBind_Video_FT") and is_hub_id("org/name@v1.0")
    assert resolve_checkpoint("./nowhere/x") == Path("nowhere/x")
    with pytest.raises(CheckpointError, match="no such directory"):
        LanguageBind.from_pretrained(str(tmp_path / "nowhere"))


class FakeHub:
    """``hf_hub_download`` online: serves ``files`` of a remote repository into a cache, records the calls."""

    def __init__(self, remote: Path, cache: Path, reachable: bool = True) -> None:
        self.remote, self.cache, self.reachable, self.calls = remote, cache, reachable, []

    def __call__(self, repo_id, filename, *, revision=None, cache_dir=None, token=None, local_files_only=False):
        self.calls.append((filename, revision, Path(cache_dir), token, local_files_only))
        if not self.reachable:
            raise LocalEntryNotFoundError("connection error and the file is not in the cache")
        if not (self.remote / filename).is_file():
            raise EntryNotFoundError(f"{filename} not in {repo_id}")
        snapshot = add_snapshot(Path(cache_dir), repo_id, self.remote, MAIN, files=[filename])
        return str(snapshot / filename)


def test_online_fetches_only_the_files_a_tower_needs(monkeypatch, tmp_path, fixture_dir, images):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    remote = tmp_path / "remote"
    shutil.copytree(fixture_dir / "checkpoint", remote)
    (remote / "tf_model.h5").write_bytes(b"not needed")
    (remote / "tokenizer.json").write_text("{}")
    fake = FakeHub(remote, tmp_path / "cache")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    model = LanguageBind.from_pretrained(REPO_ID, cache_dir=tmp_path / "cache", revision="main", token="hf_x")
    asked = [name for name, *_ in fake.calls]
    assert asked == ["config.json", "model.safetensors", "pytorch_model.bin", "vocab.json", "merges.txt",
                     "tokenizer_config.json", "special_tokens_map.json"]
    assert fake.calls[0][1] == "main" and {call[1] for call in fake.calls[1:]} == {MAIN}  # pinned to one commit
    assert {(call[2], call[3], call[4]) for call in fake.calls} == {(tmp_path / "cache", "hf_x", False)}
    assert torch.equal(model.encode("image", images), embeddings(fixture_dir / "checkpoint", images)[0])
    # safetensors is preferred when the repository has it
    torch.save({}, remote / "unused.bin")
    LanguageBind.from_pretrained(tmp_path / "cache" / "models--LanguageBind--LanguageBind_Image" / "snapshots" / MAIN
                                 ).save_pretrained(remote)
    fake.calls.clear()
    resolve_checkpoint(REPO_ID, HubOptions(cache_dir=tmp_path / "cache2"))
    assert [name for name, *_ in fake.calls][:2] == ["config.json", "model.safetensors"]


def test_unreachable_hub_and_not_cached(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", FakeHub(tmp_path, tmp_path / "c", reachable=False))
    with pytest.raises(CheckpointError, match=r"could not be reached.*hf download"):
        resolve_checkpoint(REPO_ID)


def test_cli_by_id_and_the_missing_id_error(monkeypatch, tmp_path, cache, fixture_dir, images, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert cli(["embed", "--checkpoint", f"image={REPO_ID}", "--out", str(tmp_path / "id.npy"), *images]) == 0
    assert cli(["embed", "--checkpoint", str(fixture_dir / "checkpoint"), "--out", str(tmp_path / "dir.npy"),
                *images]) == 0
    assert np.array_equal(np.load(tmp_path / "id.npy"), np.load(tmp_path / "dir.npy"))
    capsys.readouterr()
    assert cli(["embed", "--checkpoint", "LanguageBind/LanguageBind_Audio_FT", "--out", str(tmp_path / "x.npy"),
                *images]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("languagebind embed: error: checkpoint LanguageBind/LanguageBind_Audio_FT: ")
    assert str(cache) in err and "hf download LanguageBind/LanguageBind_Audio_FT" in err
    assert not (tmp_path / "x.npy").exists()


def test_eval_and_demo_resolve_ids_too(tmp_path, capsys):
    empty = tmp_path / "empty"
    for argv in (["eval", "esc50", "--data", str(tmp_path), "--checkpoint", "audio=org/missing-audio", "--out",
                  str(tmp_path / "r.json"), "--no-cache"],
                 ["demo", "--checkpoint", "video=org/missing-video", "--out", str(tmp_path / "demo"), "--only",
                  "data"]):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HF_HUB_CACHE", str(empty))
            assert cli(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "org/missing-" in err and str(empty) in err and "hf download" in err
    assert not (tmp_path / "demo").exists() and not (tmp_path / "r.json").exists()


def test_training_init_by_id(monkeypatch, cache, fixture_dir):
    from languagebind.train.recipe import TrainConfig
    from languagebind.train.start import starting_model

    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    cfg = TrainConfig(modality="image", init=REPO_ID, tuning="full", train_data="unused.jsonl")
    start = starting_model(cfg)
    direct = LanguageBind.from_pretrained(fixture_dir / "checkpoint").model
    a, b = start.model.towers["image"].state_dict(), direct.towers["image"].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
