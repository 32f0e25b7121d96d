"""Every reader on a tiny copy of its public layout, plus the prompt data files and the registry."""

from __future__ import annotations

import pickle
from fractions import Fraction

import pytest

from languagebind.errors import InputError
from languagebind.evaluation import BENCHMARKS, get_benchmark, paper_results
from languagebind.evaluation.datasets import ClassificationSet, RetrievalSet
from languagebind.evaluation.prompts import class_table, classnames, prompts_for, templates
from tests.evaluation.layouts import BUILDERS


def test_every_benchmark_has_a_layout_builder():
    assert set(BUILDERS) == set(BENCHMARKS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_reader_finds_items_and_annotations(tmp_path, name):
    expected = BUILDERS[name](tmp_path)
    data = get_benchmark(name).reader(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in data.items] == expected["items"]
    assert all(p.is_file() for p in data.items)
    if isinstance(data, RetrievalSet):
        assert data.captions == expected["captions"]
        assert data.caption_item == expected["caption_item"]
    else:
        assert isinstance(data, ClassificationSet)
        assert data.labels == expected.get("labels", [])
        assert data.targets == expected.get("targets", [])
        assert data.groups == expected.get("groups", [])
        if "classnames" in expected:
            assert data.classnames == expected["classnames"]


def test_missing_media_keeps_the_expected_path(tmp_path):
    BUILDERS["msrvtt"](tmp_path)
    (tmp_path / "MSRVTT/videos/all/video7010.mp4").unlink()
    data = get_benchmark("msrvtt").reader(tmp_path)
    assert data.items[1] == tmp_path / "videos/all/video7010.mp4" and not data.items[1].exists()


def test_missing_annotation_names_the_file(tmp_path):
    with pytest.raises(InputError, match=r"MSRVTT_JSFUSION_test\.csv"):
        get_benchmark("msrvtt").reader(tmp_path)


def test_bad_csv_column_is_named(tmp_path):
    (tmp_path / "clotho_captions_evaluation.csv").write_text("name,caption_1\na.wav,x\n")
    with pytest.raises(InputError, match="file_name"):
        get_benchmark("clotho").reader(tmp_path)


def test_unknown_class_folder_is_an_error(tmp_path):
    BUILDERS["llvip"](tmp_path)
    (tmp_path / "val" / "cat").mkdir()
    with pytest.raises(InputError, match="unknown class folder"):
        get_benchmark("llvip").reader(tmp_path)


def test_msvd_pickle_may_not_run_code(tmp_path):
    BUILDERS["msvd"](tmp_path)
    with (tmp_path / "msvd_data" / "raw-captions.pkl").open("wb") as handle:
        pickle.dump({"x": [Fraction(1, 3)]}, handle)  # an object that needs find_class
    with pytest.raises(InputError, match="refusing"):
        get_benchmark("msvd").reader(tmp_path)


def test_subset_keeps_captions_with_their_items(tmp_path):
    BUILDERS["msvd"](tmp_path)
    data = get_benchmark("msvd").reader(tmp_path).subset([2, 0])
    assert data.caption_item == [0, 0, 0, 1, 1]
    assert data.captions == ["kids swim", "children in a pool", "swimming", "a cat plays", "the cat jumps"]


def test_templates_are_the_80_openai_ones_and_their_modality_variants():
    photo = templates("photo")
    assert len(photo) == 80 == len(set(photo))
    assert photo[0] == "a bad photo of a {}." and photo[-1] == "a tattoo of the {}."
    for name, word in [("depth", "depth photo"), ("video", "video"), ("thermal", "thermal infrared photo"),
                       ("sound80", "sound")]:
        assert templates(name) == tuple(t.replace("photo", word) for t in photo)
    assert templates("sound") == ("a sound of {}.",)
    assert prompts_for(["dog", "cat"], ("a {}.", "the {}!")) == ["a dog.", "the dog!", "a cat.", "the cat!"]


def test_class_lists_are_the_official_ones():
    assert len(classnames("esc50")) == 50 and len(classnames("vggsound")) == 309
    assert len(classnames("imagenet")) == 1000 and classnames("imagenet")[0] == "tench"
    assert classnames("llvip") == ["background", "people"]
    flir = dict(class_table("flir_v2"))
    assert flir["light"] == "traffic light" and flir["other vehicle"] == "construction equipment or trailers"
    assert flir["truck"] == "semi truck or freight truck" and len(flir) == 12
    assert classnames("nyu_d")[4] == "dining room" and len(classnames("sun_d")) == 19
    folders = [key for key, _ in class_table("imagenet")]
    assert folders == sorted(folders) and len(set(folders)) == 1000


def test_registry_names_aliases_and_paper_numbers():
    assert get_benchmark("MSR-VTT").name == "msrvtt" and get_benchmark("NYUv2").name == "nyu_d"
    with pytest.raises(InputError, match="unknown benchmark"):
        get_benchmark("coco")
    assert paper_results("msrvtt")["lora"]["t2v_R@1"]["value"] == 42.6
    assert paper_results("msrvtt")["tuned"]["t2v_R@1"]["value"] == 42.7
    assert paper_results("llvip")["lora"]["top1"]["value"] == 87.2
    assert paper_results("nyu_d")["lora"]["top1"]["value"] == 65.1
    assert {v: r["top1"]["value"] for v, r in paper_results("esc50").items()} == {"lora": 91.8, "tuned": 94.0}
    for name in BENCHMARKS:
        for rows in paper_results(name).values():
            assert set(rows) <= set(BENCHMARKS[name].metrics), name


def test_kinetics_csv_under_another_name_is_found_by_its_columns(tmp_path):
    expected = BUILDERS["kinetics400"](tmp_path)
    (tmp_path / "annotations" / "val.csv").rename(tmp_path / "annotations" / "k400_validation_2020.csv")
    assert get_benchmark("kinetics400").reader(tmp_path).labels == expected["labels"]
