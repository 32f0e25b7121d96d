"""Combined and emergent tasks on tiny copies of their public layouts, with a fake encoder: the metrics equal
ones recomputed naively from the embeddings, runs are deterministic, and a second run encodes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from languagebind.errors import InputError
from languagebind.evaluation import evaluate, get_benchmark
from languagebind.evaluation.paired import (
    PAIRED_TASKS,
    evaluate_paired,
    get_paired_task,
    markdown_paired,
    paper_paired,
)
from languagebind.evaluation.prompts import classnames, prompts_for, templates
from languagebind.evaluation.readers_paired import read_ave
from tests.evaluation.fakes import FakeEncoder, _vector
from tests.evaluation.layouts_paired import BUILDERS


class SaltedEncoder(FakeEncoder):
    """Like ``FakeEncoder`` but the same file gives unrelated vectors in different towers (video vs audio)."""

    def encode(self, modality, items, batch_size=32, progress=None):
        out = super().encode(modality, items, batch_size, progress)
        if modality == "text":
            return out
        return torch.stack([_vector(bytes(row.numpy().tobytes()) + modality.encode(), self.dim) for row in out])


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def naive_rank(scores: np.ndarray, correct: int) -> int:
    return 1 + sum(1 for s in scores if s > scores[correct])


def recalls(ranks: list[int]) -> dict[str, float]:
    return {f"R@{k}": 100.0 * sum(r <= k for r in ranks) / len(ranks) for k in (1, 5, 10)}


def naive_expected(task, root, expected, enc=None) -> dict[str, dict[str, float]]:
    """Every row's headline metrics recomputed with loops from the encoder's embeddings."""
    enc = enc if enc is not None else SaltedEncoder()
    emb = {role: enc.encode(task.towers[role], [str(root / p) for p in expected["files"][role]]).double().numpy()
           for role in task.roles}
    out = {}
    if task.kind == "emergent":
        for a, b in ((task.roles[0], task.roles[1]), (task.roles[1], task.roles[0])):
            sim = emb[a] @ emb[b].T
            out[f"{a}->{b}"] = recalls([naive_rank(sim[i], i) for i in range(len(sim))])
        return out
    combined = unit(sum(unit(emb[r]) for r in task.roles))
    if "captions" in expected:
        text = enc.encode("text", expected["captions"]).double().numpy()
        for name, items in [*((r, emb[r]) for r in task.roles), ("+".join(task.roles), combined)]:
            sim = text @ items.T
            out[name] = {f"t2x_{k}": v for k, v in recalls([naive_rank(sim[c], i) for c, i in
                                                             enumerate(expected["caption_item"])]).items()}
        return out
    names = classnames(task.dataset)
    classifiers = {}
    for role in task.roles:
        filled = templates(task.templates[role])
        prompts = enc.encode("text", prompts_for(names, filled)).double().numpy()
        classifiers[role] = unit(prompts.reshape(len(names), len(filled), -1).mean(1))
    labels = expected["labels"]
    both = unit(sum(classifiers[r] for r in task.roles))
    for name, items, classes in [*((r, emb[r], classifiers[r]) for r in task.roles),
                                 ("+".join(task.roles), combined, both)]:
        out[name] = {"top1": 100.0 * np.mean((items @ classes.T).argmax(1) == np.array(labels))}
    return out


@pytest.mark.parametrize("name", list(PAIRED_TASKS))
def test_task_matches_naive_metrics_and_second_run_encodes_nothing(tmp_path, name):
    task = get_paired_task(name)
    expected = BUILDERS[task.dataset](tmp_path / "data")
    first = evaluate_paired(task, tmp_path / "data", SaltedEncoder(), cache_dir=tmp_path / "cache", batch_size=2)
    assert first.n == first.n_total == len(expected["files"][task.roles[0]]) and not first.missing
    assert list(first.metrics) == task.rows
    for row, values in naive_expected(task, tmp_path / "data", expected).items():
        for key, value in values.items():
            assert first.metrics[row][key] == pytest.approx(value, abs=1e-9), (row, key)
    assert first.encoded["items"] == {r: first.n for r in task.roles}
    again = SaltedEncoder()
    second = evaluate_paired(task, tmp_path / "data", again, cache_dir=tmp_path / "cache", batch_size=2)
    assert again.calls == [] and second.encoded == {"items": dict.fromkeys(task.roles, 0), "texts": 0}
    assert second.metrics == first.metrics
    uncached = evaluate_paired(task, tmp_path / "data", SaltedEncoder(), batch_size=3)  # other batches, no disk
    assert uncached.metrics == first.metrics
    table = markdown_paired(second.to_json())
    assert f"({name};" in table and f"**{task.headline}**" in table
    for paper in paper_paired(task).values():
        assert f" {paper['value']:.1f}? |" in table


def test_every_issue_task_is_registered_with_the_paper_numbers():
    names = {"nyu_d:rgb+depth", "llvip:rgb+thermal", "msrvtt:video+audio", "llvip:rgb->thermal", "llvip:thermal->rgb",
             "nyu_d:rgb->depth", "nyu_d:depth->rgb", "ave:rgb->audio", "vggsound:rgb->audio"}
    assert set(PAIRED_TASKS) == names
    paper = {name: {row: v["value"] for row, v in paper_paired(PAIRED_TASKS[name]).items()} for name in names}
    assert paper["msrvtt:video+audio"] == {"video": 41.4, "video+audio": 42.0}
    assert paper["nyu_d:rgb+depth"] == {"depth": 65.1, "rgb": 76.0, "rgb+depth": 77.4}
    assert paper["llvip:rgb+thermal"] == {"rgb": 62.4, "rgb+thermal": 79.3}
    assert paper["ave:rgb->audio"] == {"rgb->audio": 10.6} and paper["vggsound:rgb->audio"] == {"rgb->audio": 10.0}
    assert paper["llvip:thermal->rgb"] == {"rgb->thermal": 7.5, "thermal->rgb": 9.3}
    assert paper["nyu_d:rgb->depth"] == {"rgb->depth": 17.9, "depth->rgb": 24.5}
    assert get_paired_task("NYU-D:RGB+Depth") is PAIRED_TASKS["nyu_d:rgb+depth"]
    assert get_paired_task("ave:rgb2audio") is PAIRED_TASKS["ave:rgb->audio"]
    with pytest.raises(InputError, match="unknown combined/emergent task"):
        get_paired_task("nyu_d:audio+depth")


def test_single_modality_run_fills_the_cache_of_the_combined_task(tmp_path):
    BUILDERS["nyu_d"](tmp_path / "data")
    encoder = SaltedEncoder()
    single = evaluate(get_benchmark("nyu_d"), tmp_path / "data" / "depth", encoder, cache_dir=tmp_path / "cache")
    encoder.calls.clear()
    both = evaluate_paired(get_paired_task("nyu_d:rgb+depth"), tmp_path / "data", encoder, cache_dir=tmp_path / "cache")
    assert "depth" not in {modality for modality, _ in encoder.calls}  # only the RGB files and their prompts
    assert both.encoded["items"] == {"rgb": 6, "depth": 0}
    assert both.metrics["depth"]["top1"] == single.metrics["top1"]
    assert both.metrics["depth"]["top5"] == single.metrics["top5"]


def test_weights_change_the_combined_row_only(tmp_path):
    BUILDERS["msrvtt"](tmp_path / "data")
    task = get_paired_task("msrvtt:video+audio")
    equal = evaluate_paired(task, tmp_path / "data", SaltedEncoder())
    video_only = evaluate_paired(task, tmp_path / "data", SaltedEncoder(), weights={"video": 1.0, "audio": 0.0})
    assert video_only.metrics["video+audio"] == equal.metrics["video"]
    assert video_only.to_json()["weights"] == {"video": 1.0, "audio": 0.0}
    with pytest.raises(InputError, match="weights"):
        evaluate_paired(task, tmp_path / "data", SaltedEncoder(), weights={"video": 1.0})
    with pytest.raises(InputError, match="combines nothing"):
        evaluate_paired(get_paired_task("llvip:rgb->thermal"), tmp_path / "data", SaltedEncoder(), weights={})


def test_missing_partner_and_unreadable_files_leave_the_whole_item_out(tmp_path):
    expected = BUILDERS["llvip"](tmp_path / "data")
    (tmp_path / "data" / expected["files"]["rgb"][1]).unlink()
    (tmp_path / "data" / expected["files"]["thermal"][3]).write_bytes(b"BAD not an image")
    task = get_paired_task("llvip:rgb->thermal")
    with pytest.raises(InputError, match="1 of 5 files are missing"):
        evaluate_paired(task, tmp_path / "data", SaltedEncoder())
    result = evaluate_paired(task, tmp_path / "data", SaltedEncoder(), allow_missing=True)
    assert result.n == 3 and result.n_total == 5
    reasons = [(r, why) for _, r, why in result.missing]
    assert reasons == [("rgb", "file not found"), ("thermal", "cannot decode (fake)")]
    assert result.missing[0][0].endswith("visible/val/background/00001.jpg")
    assert "2 item(s) with a missing or unreadable file" in markdown_paired(result.to_json())


def test_layout_errors_name_the_expected_layout(tmp_path):
    BUILDERS["nyu_d"](tmp_path / "data")
    (tmp_path / "data" / "rgb").rename(tmp_path / "data" / "colour")
    with pytest.raises(InputError, match=r"no RGB folder .*expected layout for nyu_d:rgb\+depth"):
        evaluate_paired(get_paired_task("nyu_d:rgb+depth"), tmp_path / "data", SaltedEncoder())


def test_ave_reader_skips_the_header_and_lists_each_video_once(tmp_path):
    expected = BUILDERS["ave"](tmp_path)
    pairs = read_ave(tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in pairs.files["rgb"]] == expected["files"]["rgb"]
    assert pairs.files["audio"] == pairs.files["rgb"]
    (tmp_path / "AVE_Dataset" / "testSet.txt").unlink()  # falls back to Annotations.txt (all five videos)
    assert len(read_ave(tmp_path)) == 4
    (tmp_path / "AVE_Dataset" / "Annotations.txt").write_text("Dog&only-two-fields\n")
    with pytest.raises(InputError, match="line 1: expected Category&VideoID"):
        read_ave(tmp_path)


class MutedEncoder(SaltedEncoder):
    """A video file listed in ``muted`` has no sound track: its audio fails like ``no audio stream``."""

    def __init__(self, muted):
        super().__init__()
        self.muted = {str(p) for p in muted}

    def encode(self, modality, items, batch_size=32, progress=None):
        if modality == "audio" and any(str(i) in self.muted for i in items):
            self.calls.append((modality, len(items)))
            raise InputError(items[0], "no audio stream (streams: video)")
        return super().encode(modality, items, batch_size, progress)


def test_partial_keeps_an_item_without_sound_combined_from_its_video(tmp_path):
    expected = BUILDERS["msrvtt"](tmp_path / "data")
    muted = tmp_path / "data" / expected["files"]["video"][1]
    task = get_paired_task("msrvtt:video+audio")
    with pytest.raises(InputError, match=r"1 of 4 files are missing or unreadable.*no audio stream"):
        evaluate_paired(task, tmp_path / "data", MutedEncoder([muted]))
    dropped = evaluate_paired(task, tmp_path / "data", MutedEncoder([muted]), allow_missing=True)
    assert dropped.n == 3 and [r for _, r, _ in dropped.missing] == ["audio"]
    kept = evaluate_paired(task, tmp_path / "data", MutedEncoder([muted]), partial=True, cache_dir=tmp_path / "c")
    assert kept.n == 4 and not kept.missing and [(p, r) for p, r, _ in kept.incomplete] == [(str(muted), "audio")]
    assert {row: m["n"] for row, m in kept.metrics.items()} == {"video": 4, "audio": 3, "video+audio": 4}
    full = evaluate_paired(task, tmp_path / "data", SaltedEncoder())
    assert kept.metrics["video"] == full.metrics["video"]  # every video could be read
    # the combined row by hand: the muted item is its unit video embedding, the others video + audio
    enc = SaltedEncoder()
    files = [str(tmp_path / "data" / p) for p in expected["files"]["video"]]
    video, audio = enc.encode("video", files).double().numpy(), enc.encode("audio", files).double().numpy()
    both = unit(unit(video) + unit(audio))
    both[1] = unit(video[1])
    sim = enc.encode("text", expected["captions"]).double().numpy() @ both.T
    ranks = [naive_rank(sim[c], i) for c, i in enumerate(expected["caption_item"])]
    assert kept.metrics["video+audio"]["t2x_R@1"] == pytest.approx(recalls(ranks)["R@1"])
    assert kept.to_json()["incomplete"] == [{"path": str(muted), "role": "audio", "reason": "no audio stream "
                                                                                         "(streams: video)"}]
    table = markdown_paired(kept.to_json())
    assert "1 item(s) lack a modality" in table and "| n |" in table
    again = MutedEncoder([muted])
    assert evaluate_paired(task, tmp_path / "data", again, partial=True, cache_dir=tmp_path / "c").metrics == \
        kept.metrics
    assert again.calls and {m for m, _ in again.calls} == {"audio"}  # only the failed sound track is tried again
    with pytest.raises(InputError, match="combines nothing"):
        evaluate_paired(get_paired_task("ave:rgb->audio"), tmp_path / "data", SaltedEncoder(), partial=True)


def test_rgb_partner_is_found_with_any_image_ending(tmp_path):
    from languagebind.evaluation.readers_paired import read_nyu_d_pairs

    expected = BUILDERS["nyu_d"](tmp_path)
    first = tmp_path / expected["files"]["rgb"][0]
    first.rename(first.with_suffix(".PNG"))
    pairs = read_nyu_d_pairs(tmp_path)
    assert pairs.files["rgb"][0] == first.with_suffix(".PNG")
    assert [str(p.relative_to(tmp_path)) for p in pairs.files["rgb"][1:]] == expected["files"]["rgb"][1:]
    assert [str(p.relative_to(tmp_path)) for p in pairs.files["depth"]] == expected["files"]["depth"]
    assert pairs.base.labels == expected["labels"]
