"""Every registered modality goes through the generic path: ``languagebind train --config tiny --set modality=NAME
--set init=random:tiny --set train_data=MANIFEST`` (a manifest whose media field is the modality's name), then
``languagebind export`` and ``languagebind embed --checkpoint NAME=DIR`` on the result.

Example files of modality NAME are ``tests/fixtures/assets/NAME/*`` (files with one of the spec's extensions).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.registry import get_modality, modality_names


def examples(assets: Path, name: str) -> list[Path]:
    spec = get_modality(name)
    found = sorted(p for p in (assets / name).glob("*") if p.suffix.lower() in spec.extensions)
    if not found:
        pytest.fail(f"no example {name} files: put two under tests/fixtures/assets/{name}/ "
                    f"(ending in {', '.join(spec.extensions)})", pytrace=False)
    return found


@pytest.mark.parametrize("name", modality_names())
def test_train_export_embed(name: str, assets: Path, tmp_path: Path, capsys) -> None:
    files = examples(assets, name)
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"r{i}", name: str(files[i % len(files)]),
                                            "text": {"raw": f"example number {i % len(files)}"}}) + "\n"
                                for i in range(8)))
    run, ckpt = tmp_path / "run", tmp_path / "ckpt"
    assert main(["train", "--config", "tiny", "--out", str(run), "--set", f"modality={name}",
                 "--set", "init=random:tiny", "--set", f"train_data={manifest}", "--set", f"val_data={manifest}",
                 "--set", "val_samples=4", "--set", "batch_size=4", "--set", "max_steps=2", "--set", "save_every=2",
                 "--set", "eval_every=0", "--set", "augment=true"]) == 0, capsys.readouterr().err
    assert main(["export", str(run), "--out", str(ckpt)]) == 0
    out = tmp_path / "e.npy"
    assert main(["embed", "--checkpoint", f"{name}={ckpt}", "--out", str(out), *map(str, files)]) == 0
    embedded = np.load(out)
    model = LanguageBind.from_pretrained({name: ckpt})
    assert model.config(name).modality == name
    assert embedded.shape == (len(files), model.config(name).vision.projection_dim)
    assert np.allclose(embedded, model.encode(name, files).numpy(), atol=1e-5)
    assert np.allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
