"""``save_pretrained`` writes what the Hub and transformers users expect (config, safetensors weights, tokenizer
files, ``preprocessor_config.json``, a model card with ``model-index``), and loading it back is exact."""

from __future__ import annotations

import json

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch
import transformers
from huggingface_hub import ModelCard

from languagebind import LanguageBind
from languagebind.hub import CARD_MARKER, card_results, run_results
from languagebind.model.core import checkpoint_view
from languagebind.model.presets import tiny_config
from tests.hub.helpers import add_snapshot, commit_hash

FILES = {"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
         "special_tokens_map.json", "preprocessor_config.json", "README.md"}
EVAL = {"benchmark": "esc50", "title": "ESC-50", "task": "classification", "modality": "audio", "n": 2000,
        "n_total": 2000, "limit": None, "metrics": {"top1": 0.9415, "top5": 0.995}}


def state(model: LanguageBind, modality: str) -> dict[str, torch.Tensor]:
    return checkpoint_view(model.model, modality).state_dict()


@pytest.mark.parametrize("modality", ["image", "audio"])
def test_the_directory_and_an_exact_reload(tmp_path, modality):
    model = LanguageBind.from_config(tiny_config(modality, lora_r=2), seed=2)
    out = model.save_pretrained(tmp_path / "out", results=[EVAL] if modality == "audio" else ())
    assert {p.name for p in out.iterdir()} == FILES
    again = LanguageBind.from_pretrained(out)
    a, b = state(model, modality), state(again, modality)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    pixels = torch.randn(2, *(3, 16, 96) if modality == "audio" else (3, 32, 32))
    assert torch.equal(model.encode(modality, pixels), again.encode(modality, pixels))
    texts = ["a photo of a cat", "the sound of rain &amp; thunder"]
    assert torch.equal(model.tokenize(texts)["input_ids"], again.tokenize(texts)["input_ids"])
    preprocessor = json.loads((out / "preprocessor_config.json").read_text())
    assert preprocessor["languagebind"]["modality"] == modality
    if modality == "audio":  # no CLIP image processor for a mel "image"
        assert "image_processor_type" not in preprocessor
        ours = preprocessor["languagebind"]
        assert (ours["num_mel_bins"], ours["target_length"]) == (16, 96)


def test_transformers_reads_the_tokenizer_and_the_image_processor(tmp_path):
    out = LanguageBind.from_config(tiny_config("image", image_size=224, patch_size=14)).save_pretrained(tmp_path)
    tokenizer = transformers.CLIPTokenizer.from_pretrained(out)
    assert tokenizer("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    processor = transformers.CLIPImageProcessor.from_pretrained(out)  # Video-LLaVA #57: the file was missing
    assert processor.crop_size == {"height": 224, "width": 224} and processor.size == {"shortest_edge": 224}
    assert processor.image_mean == pytest.approx([0.48145466, 0.4578275, 0.40821073])
    pixels = processor(images=torch.zeros(3, 300, 250).numpy(), return_tensors="pt", do_rescale=False)
    assert tuple(pixels["pixel_values"].shape) == (1, 3, 224, 224)


def test_the_model_card(tmp_path):
    model = LanguageBind.from_config(tiny_config("audio"), seed=1)
    (tmp_path / "esc50.json").write_text(json.dumps(EVAL))
    out = model.save_pretrained(tmp_path / "card", results=[tmp_path / "esc50.json"], base_model="org/base")
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "languagebind" and card.data.base_model == "org/base"
    assert card.data.model_name == "card" and "audio" in card.data.tags
    found = {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert found == {("esc50", "top1"): 0.9415, ("esc50", "top5"): 0.995}
    assert CARD_MARKER in card.text and "hf upload" in card.text and "| ESC-50 | top1 | 0.9415 |" in card.text
    plain = model.save_pretrained(tmp_path / "plain")
    assert ModelCard.load(plain / "README.md").data.to_dict()["model-index"] == [{"name": "plain", "results": []}]
    (plain / "README.md").write_text("# my own notes\n")  # an edited card (no marker) is kept
    model.save_pretrained(plain)
    assert (plain / "README.md").read_text() == "# my own notes\n"


def test_results_from_a_training_run_and_bad_results(tmp_path):
    lines = [{"step": 5, "loss": 2.0}, {"step": 10, "loss": 1.0, "val_r1_text_to_item": 0.25,
                                        "val_r1_item_to_text": 0.5, "val_items": 64}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    [result] = run_results(tmp_path)
    assert result["metrics"] == {"val_r1_text_to_item": 0.25, "val_r1_item_to_text": 0.5}
    assert "step 10, 64 items" in result["source"]
    assert run_results(tmp_path / "nowhere") == []
    with pytest.raises(ValueError, match="needs 'dataset' and 'metrics'"):
        card_results([{"metrics": {"x": 1}}])


def test_base_model_from_the_hub_id_it_was_loaded_by(monkeypatch, tmp_path):
    source = LanguageBind.from_config(tiny_config("depth"), seed=4).save_pretrained(tmp_path / "src", format="official")
    add_snapshot(tmp_path / "cache", "org/depth-tiny", source, commit_hash("depth"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    model = LanguageBind.from_pretrained("org/depth-tiny", cache_dir=tmp_path / "cache")
    out = model.save_pretrained(tmp_path / "copy", format="official")
    assert ModelCard.load(out / "README.md").data.base_model == "org/depth-tiny"
    assert (out / "vocab.json").read_bytes() == (source / "vocab.json").read_bytes()
    assert (out / "pytorch_model.bin").is_file()
