from __future__ import annotations

import json
from pathlib import Path

import pytest

from languagebind.errors import InputError
from languagebind.vidal.inputs import read_inputs, safe_id


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_directory_with_every_sidecar_kind(tmp_path: Path) -> None:
    _touch(tmp_path / "b" / "b1.mp4")
    _touch(tmp_path / "b" / "b1.json", json.dumps({"title": "Dog surfing", "hashtags": "#dog #surf",
                                                   "meta": {"category": "animal"}}))
    _touch(tmp_path / "a.webm")
    _touch(tmp_path / "a.info.json", json.dumps({"id": "yt.ID-1", "title": "A title", "tags": ["x", "y"]}))
    _touch(tmp_path / "c.mkv")
    _touch(tmp_path / "c.txt", "Raw title #tag\n")
    _touch(tmp_path / "sound.m4a")
    _touch(tmp_path / "thumb.jpg")
    _touch(tmp_path / ".hidden.mp4")
    inputs = read_inputs(tmp_path)
    assert [i.source for i in inputs.items] == ["a.webm", "b/b1.mp4", "c.mkv", "sound.m4a"]
    a, b, c, sound = inputs.items
    assert (a.id, a.title, a.hashtags) == ("yt_ID-1", "A title", ("x", "y"))
    assert (b.id, b.hashtags, b.meta) == ("b1", ("dog", "surf"), {"category": "animal"})
    assert (c.title, c.hashtags) == ("Raw title #tag", ())
    assert (sound.title, sound.problem) == ("", "")
    assert inputs.ignored == {".jpg": 1}
    assert [i.index for i in inputs.items] == [0, 1, 2, 3]


def test_bad_sidecar_and_duplicate_ids_become_problems_not_errors(tmp_path: Path) -> None:
    _touch(tmp_path / "x.mp4")
    _touch(tmp_path / "x.json", "{not json")
    _touch(tmp_path / "y" / "x.mp4")
    inputs = read_inputs(tmp_path)
    assert inputs.items[0].problem.startswith("bad_sidecar: x.json is not valid JSON")
    assert inputs.items[1].problem.startswith("duplicate_id")


def test_manifests_jsonl_and_csv(tmp_path: Path) -> None:
    _touch(tmp_path / "v" / "1.mp4")
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "one", "path": "v/1.mp4", "title": "T t",
                                                  "hashtags": ["h"]}) + "\n\n")
    (tmp_path / "m.csv").write_text("id,path,title,hashtags\ntwo,v/1.mp4,Title two,#a #b\n")
    jsonl, csv = read_inputs(tmp_path / "m.jsonl").items[0], read_inputs(tmp_path / "m.csv").items[0]
    assert (jsonl.id, jsonl.path, jsonl.hashtags) == ("one", str((tmp_path / "v/1.mp4").resolve()), ("h",))
    assert (csv.id, csv.title, csv.hashtags, csv.source) == ("two", "Title two", ("a", "b"), "v/1.mp4")
    (tmp_path / "bad.jsonl").write_text('{"title": "no path"}\n')
    with pytest.raises(InputError, match="no 'path'"):
        read_inputs(tmp_path / "bad.jsonl")
    with pytest.raises(InputError, match="does not exist"):
        read_inputs(tmp_path / "nothing")


def test_ids_are_webdataset_keys() -> None:
    assert safe_id("a.b c/d", 3) == "a_b_c_d"
    assert safe_id("...", 3) == "input00000003"


def test_fingerprint_follows_ids_and_sources(tmp_path: Path) -> None:
    _touch(tmp_path / "a.mp4")
    first = read_inputs(tmp_path).fingerprint()
    (tmp_path / "a.mp4").write_text("changed content")
    assert read_inputs(tmp_path).fingerprint() == first
    _touch(tmp_path / "b.mp4")
    assert read_inputs(tmp_path).fingerprint() != first
