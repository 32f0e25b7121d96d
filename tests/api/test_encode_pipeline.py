"""The encode path around the model: background decoding keeps order and errors, text padding trimmed exactly,
every precision returns float32 unit vectors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.errors import InputError
from languagebind.model.presets import tiny_config
from languagebind.utils.prefetch import batched, prefetch_map
from tests.collection.conftest import add_corrupt, make_images


def test_prefetch_map_keeps_order_bounds_work_and_reraises() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def slow_square(x: int) -> int:
        with lock:
            started.append(x)
        time.sleep(0.002 * (x % 3))
        if x == 7:
            raise ValueError("seven")
        return x * x

    results = prefetch_map(slow_square, range(20), ahead=3, workers=2)
    assert [next(results) for _ in range(7)] == [x * x for x in range(7)]
    assert max(started) <= 7 + 3  # never more than `ahead` items in advance
    with pytest.raises(ValueError, match="seven"):
        next(results)
    assert list(prefetch_map(lambda x: -x, range(5), ahead=2, workers=0)) == [0, -1, -2, -3, -4]
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_encode_files_equals_preprocess_then_encode(tiny_model: LanguageBind, tmp_path: Path) -> None:
    files = make_images(tmp_path, 11)
    items = [*files[:3], add_corrupt(tmp_path / "bad.png"), *files[3:], tmp_path / "missing.png"]
    result = tiny_model.encode_files("image", items, batch_size=4)
    assert result.indices == [0, 1, 2, *range(4, 12)]
    assert [str(item) for item, _ in result.failures] == [str(items[3]), str(items[12])]
    direct = tiny_model.encode("image", tiny_model.preprocess("image", files), batch_size=4)
    torch.testing.assert_close(result.embeddings, direct, rtol=0, atol=1e-6)
    torch.testing.assert_close(tiny_model.encode("image", files, batch_size=4), direct, rtol=0, atol=1e-6)
    with pytest.raises(InputError, match=r"bad\.png"):
        tiny_model.encode("image", items[:5], batch_size=2)


def test_text_padding_is_trimmed_exactly(tiny_model: LanguageBind) -> None:
    texts = ["a dog", "a photograph of a small brown dog running on the beach at sunset", "cat"]
    tokens = tiny_model.tokenize(texts)
    with torch.inference_mode():
        untrimmed = tiny_model.model.encode_text(tokens["input_ids"], tokens["attention_mask"])
    torch.testing.assert_close(tiny_model.encode("text", texts, batch_size=2), untrimmed, rtol=0, atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "int8", "auto"])
def test_every_precision_returns_float32_unit_vectors(precision: str, tmp_path: Path) -> None:
    reference = LanguageBind.from_config(tiny_config("image"), seed=1)
    model = LanguageBind.from_config(tiny_config("image"), seed=1, precision=precision)
    assert model.precision in ("fp32", "bf16", "int8", "ort-fp32", "ort-int8")
    files = make_images(tmp_path, 6)
    for modality, items in (("image", files), ("text", ["a dog", "a cat on a mat"])):
        out, ref = model.encode(modality, items), reference.encode(modality, items)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.norm(dim=1), torch.ones(len(items)))
        assert torch.nn.functional.cosine_similarity(out, ref).mean() > 0.995
    assert model.model.logit_scales["image"].dtype == torch.float32
    assert model.logit_scale("image") == pytest.approx(reference.logit_scale("image"))
