"""``run_demo``: data -> towers -> held-out evaluation -> metrics.json, report.html, search index.

Layout of the output directory (default ``runs/demo``)::

    data/                  VIDAL-mini (generated once; reused while its parameters match)
    cache/                 decoded item tensors per (split, modality, preprocessing), text embeddings
    towers/<modality>/     trained checkpoints (config.json + model.safetensors) and their loss history
    index/                 faiss indexes of the test items
    metrics.json, report.html
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from languagebind.demo.data import CLIP_VIEW_MODALITIES, KEYFRAME_MODALITIES, Split, read_split, split_tensors
from languagebind.demo.evaluate import SplitEmbeddings, evaluate
from languagebind.demo.presets import DemoConfig
from languagebind.demo.targets import check_targets
from languagebind.demo.text import TextBank
from languagebind.errors import LanguageBindError
from languagebind.registry import get_modality
from languagebind.utils.io import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from languagebind.data.synthetic.vocab import Vocabulary

SPLITS = ("train", "test", "compositional")
Log = Callable[[str], None]


@dataclass
class DemoResult:
    """What a run produced."""

    metrics: dict[str, Any]
    out_dir: Path
    losses: dict[str, list[float]] = field(default_factory=dict)
    search: list[str] = field(default_factory=list)  # the printed search answers

    @property
    def failed_targets(self) -> list[str]:
        return check_targets(self.metrics)


def generate_data(out_dir: Path, config: DemoConfig, progress: bool, log: Log) -> dict[str, Split]:
    """VIDAL-mini under ``out_dir/data`` (generated, or reused when its parameters match)."""
    from languagebind.data.synthetic.generate import generate
    from languagebind.data.synthetic.options import SENSORS, SyntheticConfig

    # the point clouds and IMU traces only when a tower of the preset trains on them (unless `data` says)
    sensors = [m for m in SENSORS if m in config.towers]
    wanted = SyntheticConfig(**{"sensors": sensors, **config.data})
    dataset = generate(out_dir / "data", with_rendered_sensors(out_dir / "data", wanted), progress=progress)
    made = "generated" if dataset.generated_items else "reused"
    log(f"data: {made} VIDAL-mini in {out_dir / 'data'} "
        f"({', '.join(f'{s} {info.size}' for s, info in dataset.splits.items())}) in {dataset.seconds:.0f} s")
    return {s: read_split(dataset[s].manifest, s) for s in SPLITS}


def with_rendered_sensors(data_dir: Path, wanted: Any) -> Any:
    """``wanted`` (a ``SyntheticConfig``), or the one of the dataset already in ``data_dir`` when that differs only
    by rendering more sensors: every other file is the same either way, so an ``nmodal`` run's data serves the
    default preset too, and switching presets in one ``--out`` does not render everything again."""
    from languagebind.data.synthetic.options import SyntheticConfig

    try:
        existing = SyntheticConfig.from_dict(json.loads((data_dir / "dataset.json").read_text())["config"])
    except (OSError, ValueError, KeyError, TypeError, LanguageBindError):
        return wanted
    superset = set(existing.sensors) >= set(wanted.sensors)
    return existing if superset and dataclasses.replace(existing, sensors=wanted.sensors) == wanted else wanted


def train_towers(out_dir: Path, config: DemoConfig, splits: Mapping[str, Split], fresh: bool, progress: bool,
                 log: Log) -> tuple[dict[str, Path], dict[str, list[float]], float]:
    """Train (or reuse) every tower of ``config``; returns checkpoint dirs, loss curves, decode seconds."""
    from languagebind.api import LanguageBind
    from languagebind.data import TextSampler
    from languagebind.demo.data import ItemViews, Views, reversed_clips
    from languagebind.demo.towers import fingerprint, load_trained, tower_config, train_tower

    train = splits["train"]
    data_key = hashlib.sha256("".join(train.ids).encode() + str(train.root).encode()).hexdigest()[:12]
    todo, directories, losses = [], {}, {}
    for m, preset in config.towers.items():
        directories[m] = out_dir / "towers" / m
        saved = None if fresh else load_trained(directories[m], fingerprint(m, preset, config, data_key))
        if saved is None:
            todo.append(m)
        else:
            losses[m] = saved.losses
            log(f"tower {m}: reusing {directories[m]} (trained in {saved.seconds:.0f} s; --fresh retrains)")
    decode_seconds = 0.0
    if not todo:
        return directories, losses, decode_seconds
    # One model holding every tower to train: its frozen text tower is shared by all of them.
    holder = LanguageBind.from_config({m: tower_config(m, config.towers[m], config) for m in todo}, seed=config.seed)
    bank = TextBank(lambda texts: holder.encode("text", texts, batch_size=256), text_bank_path(out_dir, config))
    sources = {p.init_from for p in config.towers.values() if p.init_from}
    todo.sort(key=lambda m: m not in sources)  # a tower others start from is trained first
    vocab = vocabulary(config)
    for m in todo:
        preset = config.towers[m]
        start_from = None
        if preset.init_from:
            source = preset.init_from
            start_from = LanguageBind.from_pretrained({source: directories[source]}).tower(source)
        started = time.perf_counter()
        item_views = Views(keyframes=preset.keyframes if m in KEYFRAME_MODALITIES else 1,
                           video_frames=preset.video_frames if m in CLIP_VIEW_MODALITIES else 0)
        pixels = split_tensors(train, m, holder.processor_config(m), out_dir / "cache",
                               views=item_views)
        decode_seconds += time.perf_counter() - started
        text_views = functools.partial(train.views, modality=m, coarse=preset.coarse_captions,
                                       full_share=preset.full_caption_share, contrast=preset.hard_negatives,
                                       vocab=vocab)
        views = [text_views(i) for i in range(len(train))]
        ids = list(train.ids)
        if get_modality(m).clip and preset.reverse:
            backwards, origin, metas = reversed_clips(train, pixels, vocab.held_out())
            pixels = torch.cat([pixels, backwards])
            views += [text_views(i, meta=meta) for i, meta in zip(origin, metas, strict=True)]
            ids += [f"{train.ids[i]}#reversed" for i in origin]
        items = ItemViews(pixels) if item_views.many else pixels
        sampler = TextSampler.from_spec(dict(preset.texts))
        new = bank.add(itertools.chain((choice.text for v in views for choice, _ in sampler.options(v)),
                                       (text for v in views for text in v.contrast)))
        bank.save()
        log(f"tower {m}: {len(views)} pairs, {new} new texts embedded; training {preset.steps} steps "
            f"(batch {preset.batch_size}, {preset.layers} layers x {preset.width}, input {tuple(pixels.shape[1:])})")
        trained = train_tower(m, preset, config, holder.model.text, items, views, ids, bank.embeddings,
                              directories[m], fingerprint(m, preset, config, data_key), progress=progress,
                              start_from=start_from)
        losses[m] = trained.losses
        log(f"tower {m}: {trained.seconds:.0f} s, loss {trained.losses[0]:.2f} -> {np.mean(trained.losses[-20:]):.2f}")
    return directories, losses, decode_seconds


def vocabulary(config: DemoConfig) -> Vocabulary:
    """The dataset's attribute vocabulary (``held_out()``: the compositional split's combinations)."""
    from languagebind.data.synthetic.options import SyntheticConfig

    return SyntheticConfig(**config.data).vocabulary()


def text_bank_path(out_dir: Path, config: DemoConfig) -> Path:
    key = hashlib.sha256(f"{config.text_model}:{config.text_width}".encode()).hexdigest()[:12]
    return out_dir / "cache" / f"text-{key}.pt"


def embed_splits(model: Any, splits: Mapping[str, Split], cache_dir: Path) -> dict[str, SplitEmbeddings]:
    """Test and compositional items of every loaded tower -> normalised embeddings (and the decoded tensors)."""
    out = {}
    for name in ("test", "compositional"):
        split = splits[name]
        embeddings = {}
        for m in model.modalities:
            pixels = split_tensors(split, m, model.processor_config(m), cache_dir)
            embeddings[m] = model.encode(m, pixels.float(), batch_size=256).numpy()
        out[name] = SplitEmbeddings(embeddings, split.metas)
    return out


def run_demo(out_dir: str | Path, config: DemoConfig, *, fresh: bool = False,
             checkpoints: Mapping[str, str | Path] | None = None, progress: bool | None = None,
             log: Log = print) -> DemoResult:
    """The whole demo (see the module docstring); ``checkpoints`` evaluates given towers instead of training."""
    from languagebind.api import LanguageBind
    from languagebind.data.synthetic.vocab import CATEGORIES

    out_dir = Path(out_dir)
    show = progress if progress is not None else sys.stderr.isatty()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    splits = generate_data(out_dir, config, show, log)
    seconds["data"] = time.perf_counter() - started

    started = time.perf_counter()
    losses: dict[str, list[float]] = {}
    if checkpoints:
        directories = {m: Path(d) for m, d in checkpoints.items()}
    else:
        directories, losses, decode = train_towers(out_dir, config, splits, fresh, show, log)
        seconds["data"] += decode
        started += decode
    seconds["train"] = time.perf_counter() - started

    started = time.perf_counter()
    model = LanguageBind.from_pretrained(directories, device="cpu")
    own_text = not checkpoints
    bank = TextBank(lambda texts: model.encode("text", texts, batch_size=256),
                    text_bank_path(out_dir, config) if own_text else None)
    embedded = embed_splits(model, splits, out_dir / "cache")
    categories = sorted({m["category"] for m in splits["test"].metas},
                        key=[c.name for c in CATEGORIES].index)
    evaluated = evaluate(embedded["test"], embedded["compositional"], categories, config.pairs, bank)
    bank.save()
    metrics = evaluated["metrics"]
    seconds["eval"] = time.perf_counter() - started
    metrics["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    write_json_atomic(out_dir / "metrics.json", metrics)

    from languagebind.demo.showcase import build_showcase, search_answers

    report = build_showcase(metrics, losses, embedded["test"], splits["test"], out_dir / "cache", model, bank,
                            evaluated["matrices"], categories)
    write_text_atomic(out_dir / "report.html", report)
    answers = search_answers(embedded["test"], splits["test"], bank, config.queries, out_dir / "index")
    return DemoResult(metrics, out_dir, losses, answers)
