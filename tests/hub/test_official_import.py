"""Official trainer checkpoints (``epoch_N.pt``: epoch, name, state_dict with DDP's ``module.``, optimizer, scaler),
made here from tiny towers, import back to the same towers; bad files are refused with clear errors."""

from __future__ import annotations

import argparse
import json
import shutil

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch

from languagebind import LanguageBind
from languagebind.cli.main import main as cli
from languagebind.errors import CheckpointError
from languagebind.model.convert import ours_to_official
from languagebind.model.core import checkpoint_view
from languagebind.model.presets import tiny_config
from languagebind.official_import import import_official
from tests.hub.helpers import add_snapshot, commit_hash


def tiny(modality: str, seed: int, **kwargs) -> LanguageBind:
    model = LanguageBind.from_config(tiny_config(modality, **kwargs), seed=seed)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.endswith("lora_B"):
                param.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed))
    return model


def with_text_of(model: LanguageBind, other: LanguageBind) -> LanguageBind:
    model.model.text.load_state_dict(other.model.text.state_dict())
    return model


def trainer_file(path, model: LanguageBind, modality: str, ddp: bool = True, extra: dict | None = None):
    """What the official main.py saves after an epoch (rank 0)."""
    config = model.config(modality)
    state = ours_to_official(checkpoint_view(model.model, modality).state_dict(), lora=config.vision.lora is not None,
                             text_positions=77, vision_positions=config.vision.num_positions)
    state = {("module." if ddp else "") + k: v.clone() for k, v in state.items()}
    trainable = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    optimizer = torch.optim.AdamW([{"params": trainable[:1], "weight_decay": 0.2}, {"params": trainable[1:]}],
                                  lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
    sum(p.sum() for p in trainable).backward()
    optimizer.step()
    payload = {"epoch": 3, "name": "2026_12_07-pt_tl-lorar_2", "state_dict": state,
               "optimizer": optimizer.state_dict(),
               "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                          "_growth_tracker": 11}}
    torch.save({**payload, **(extra or {})}, path)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A thermal LoRA run: the base checkpoint it started from and the trained tower (same frozen text tower)."""
    root = tmp_path_factory.mktemp("official-run")
    base = tiny("thermal", seed=1, lora_r=2)
    trained = with_text_of(tiny("thermal", seed=2, lora_r=2), base)
    base.save_pretrained(root / "base", format="official")
    trainer_file(root / "epoch_3.pt", trained, "thermal")
    return root, trained


def states_equal(a: LanguageBind, b: LanguageBind, modality: str) -> bool:
    x, y = (checkpoint_view(m.model, modality).state_dict() for m in (a, b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def test_imports_equal_to_the_trained_tower(run):
    root, trained = run
    kept = import_official(root / "epoch_3.pt", root / "base", lora="keep")
    assert (kept.epoch, kept.name, kept.modality, kept.text_checked) == (3, "2026_12_07-pt_tl-lorar_2", "thermal",
                                                                         True)
    assert kept.lora.r == 2 and kept.lora.alpha == 16 and not kept.lora_merged
    model = LanguageBind(kept.pretrained.model, kept.pretrained.tokenizer, kept.pretrained.sources)
    assert states_equal(model, trained, "thermal")
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.encode("thermal", pixels), trained.encode("thermal", pixels))
    merged = LanguageBind.from_pretrained(root / "epoch_3.pt", config=root / "base")
    assert merged.config("thermal").vision.lora is None
    assert torch.allclose(merged.encode("thermal", pixels), trained.encode("thermal", pixels), atol=1e-5)
    assert torch.equal(merged.encode("text", ["a dog"]), trained.encode("text", ["a dog"]))


@pytest.mark.parametrize("lora_r", [0, 4])
def test_video_without_ddp_prefix_and_a_config_only_base(tmp_path, lora_r):
    trained = tiny("video", seed=4, lora_r=lora_r)  # LoRA on the temporal attention only, as the official video run
    trainer_file(tmp_path / "epoch_1.pt", trained, "video", ddp=False)
    base = tmp_path / "base"
    tiny("video", seed=5).save_pretrained(base)  # the base config has no LoRA: rank from the keys, alpha 16
    (base / "model.safetensors").unlink()  # a config-only base: nothing to check the text tower against
    imported = import_official(tmp_path / "epoch_1.pt", base, lora="keep")
    assert not imported.text_checked
    if lora_r:
        assert (imported.lora.r, imported.lora.alpha, imported.lora.temporal_only) == (4, 16, True)
    else:
        assert imported.lora is None
    loaded = imported.pretrained
    assert states_equal(LanguageBind(loaded.model, loaded.tokenizer), trained, "video")


def test_a_text_tower_that_differs_from_the_base(tmp_path, run):
    root, _ = run
    trainer_file(tmp_path / "epoch_1.pt", tiny("thermal", seed=6, lora_r=2), "thermal")
    with pytest.raises(CheckpointError, match=r"text tower differs from the base's .*--lock-text"):
        import_official(tmp_path / "epoch_1.pt", root / "base")
    imported = import_official(tmp_path / "epoch_1.pt", root / "base", allow_text_change=True)
    assert imported.text_checked


def test_pickled_objects_are_refused(tmp_path, run):
    root, trained = run
    trainer_file(tmp_path / "evil.pt", trained, "thermal", extra={"args": argparse.Namespace(lr=1e-4)})
    with pytest.raises(CheckpointError, match=r"refused: .*pickled objects .*argparse\.Namespace"):
        import_official(tmp_path / "evil.pt", root / "base")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read it"):
        import_official(tmp_path / "junk.pt", root / "base")


def test_keys_that_do_not_belong(tmp_path, run):
    root, _ = run
    state = torch.load(root / "epoch_3.pt", weights_only=True)
    state["state_dict"]["module.vision_model.adapter.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=r"do not belong .*vision_model\.adapter\.weight"):
        import_official(tmp_path / "odd.pt", root / "base")
    state = torch.load(root / "epoch_3.pt", weights_only=True)
    del state["state_dict"]["module.visual_projection.weight"]
    torch.save(state, tmp_path / "short.pt")
    with pytest.raises(CheckpointError, match=r"missing keys: vision\.projection\.weight"):
        import_official(tmp_path / "short.pt", root / "base")
    with pytest.raises(CheckpointError, match="shapes differ"):
        import_official(root / "epoch_3.pt", _other_geometry(tmp_path, root / "base"))


def _other_geometry(tmp_path, base):
    other = tmp_path / "other"
    shutil.copytree(base, other)
    config = json.loads((other / "config.json").read_text())
    config["vision_config"]["hidden_size"] = 32
    (other / "config.json").write_text(json.dumps(config))
    return other


def test_cli_with_a_hub_id_base(monkeypatch, tmp_path, run, capsys):
    root, trained = run
    cache = tmp_path / "cache"
    add_snapshot(cache, "me/thermal-base", root / "base", commit_hash("base"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "imported"
    assert cli(["import-official", str(root / "epoch_3.pt"), "--config", "me/thermal-base", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 3 of run 2026_12_07-pt_tl-lorar_2" in printed and "LoRA r=2 alpha=16 merged" in printed
    reloaded = LanguageBind.from_pretrained(out)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(reloaded.encode("thermal", pixels), trained.encode("thermal", pixels), atol=1e-5)
    assert cli(["import-official", str(tmp_path / "missing.pt"), "--config", "me/thermal-base", "--out",
                str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such file" in err and not (tmp_path / "x").exists()
