"""`languagebind eval` on combined and emergent tasks with tiny real towers and real media (the sound track
decoded from the same MP4 as the frames): metrics recomputed from ``LanguageBind.encode``, a second run
encodes nothing, and ``eval --list`` names every task."""

from __future__ import annotations

import json

import pytest

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.evaluation.paired import PAIRED_TASKS, get_paired_task
from languagebind.model.presets import tiny_config
from tests.evaluation.layouts_paired import BUILDERS
from tests.evaluation.test_paired import naive_expected


@pytest.fixture(scope="module")
def towers(tmp_path_factory):
    """One tiny random tower per modality sharing one text tower, loaded together and saved apart."""
    model = LanguageBind.from_config({m: tiny_config(m) for m in ("video", "audio", "image", "depth", "thermal")},
                                     seed=5)
    root = tmp_path_factory.mktemp("towers")
    return model, {m: model.save_pretrained(root / m, modality=m) for m in model.modalities}


def run(name, data, saved, out, *extra):
    task = get_paired_task(name)
    ckpts = [f"--checkpoint={tower}={saved[tower]}" for tower in dict.fromkeys(task.towers.values())]
    return main(["eval", name, "--data", str(data), *ckpts, "--out", str(out), "--batch-size", "2", *extra])


@pytest.mark.parametrize("name", ["msrvtt:video+audio", "llvip:rgb+thermal", "ave:rgb->audio", "nyu_d:depth->rgb"])
def test_cli_metrics_match_encode_and_second_run_encodes_nothing(tmp_path, towers, name, capsys):
    model, saved = towers
    task = get_paired_task(name)
    expected = BUILDERS[task.dataset](tmp_path / "data")
    cache = ("--cache-dir", str(tmp_path / "cache"))
    assert run(name, tmp_path / "data", saved, tmp_path / "a.json", *cache) == 0
    first = json.loads((tmp_path / "a.json").read_text())
    assert first["benchmark"] == name and first["n"] == len(expected["files"][task.roles[0]])
    assert first["encoded"]["items"] == {r: first["n"] for r in task.roles}
    for row, values in naive_expected(task, tmp_path / "data", expected, model).items():
        for key, value in values.items():
            assert first["metrics"][row][key] == pytest.approx(value, abs=1e-6), (row, key)
    table = (tmp_path / "a.md").read_text()
    assert table.startswith(f"### {task.title} ({name};") and table in capsys.readouterr().out
    assert run(name, tmp_path / "data", saved, tmp_path / "b.json", *cache) == 0
    second = json.loads((tmp_path / "b.json").read_text())
    assert second["encoded"] == {"items": dict.fromkeys(task.roles, 0), "texts": 0}
    assert second["metrics"] == first["metrics"]
    assert "0 " + task.roles[0] in capsys.readouterr().err


def test_list_names_every_task_and_wrong_towers_are_reported(tmp_path, towers, capsys):
    assert main(["eval", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert "msrvtt" in listed and all(name in listed for name in PAIRED_TASKS)
    _, saved = towers
    BUILDERS["nyu_d"](tmp_path / "data")
    assert main(["eval", "nyu_d:rgb+depth", "--data", str(tmp_path / "data"), "--checkpoint",
                 f"depth={saved['depth']}", "--checkpoint", f"audio={saved['audio']}", "--out",
                 str(tmp_path / "r.json")]) == 2
    assert "needs the image tower(s)" in capsys.readouterr().err
    assert main(["eval", "nyu_d", "--data", str(tmp_path / "data" / "depth"), "--checkpoint", str(saved["depth"]),
                 "--out", str(tmp_path / "r.json"), "--weights", "rgb=1"]) == 2
    assert "applies to combined tasks" in capsys.readouterr().err


def test_video_without_sound_track_stops_or_is_kept_with_partial(tmp_path, towers, capsys):
    from tests.evaluation.layouts import write_video

    _, saved = towers
    expected = BUILDERS["msrvtt"](tmp_path / "data")
    silent = tmp_path / "data" / expected["files"]["video"][2]
    write_video(silent, 7)  # frames only
    assert run("msrvtt:video+audio", tmp_path / "data", saved, tmp_path / "r.json", "--no-cache") == 2
    assert "no audio stream" in capsys.readouterr().err
    assert run("msrvtt:video+audio", tmp_path / "data", saved, tmp_path / "r.json", "--no-cache", "--partial") == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["n"] == 4 and results["incomplete"][0]["path"] == str(silent)
    assert {row: m["n"] for row, m in results["metrics"].items()} == {"video": 4, "audio": 3, "video+audio": 4}
    assert f"an item without its audio ({silent}" in capsys.readouterr().err
