"""The training loop, top to bottom: set-up, resume, steps, logging, held-out check, checkpoints.

One optimizer step = ``accum_steps`` micro-batches of ``batch_size`` per process. The loss is the symmetric
InfoNCE over all micro-batches of all processes (features all-gathered with gradient), so a step equals one
single-process step on the whole global batch:
* ``accum_steps == 1``: forward, loss, backward;
* ``accum_steps > 1``: the open_clip scheme in its gradient-cache form: a no-grad forward of every micro-batch,
  the loss and its gradient w.r.t. those features (and the temperature), then per micro-batch a forward with
  grad and ``features.backward(feature_grad)``, DDP gradient sync only on the last (``no_sync``).
Runs under ``torchrun`` (gloo on CPU, nccl on GPU) or as one process.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from languagebind.data import AugmentConfig, DataError, PairLoader, Partition, TextSampler, build_batches, open_source
from languagebind.errors import ConfigError
from languagebind.model.core import LanguageBindModel
from languagebind.pretrained import Pretrained, default_tokenizer
from languagebind.processing import ProcessorConfig
from languagebind.train import checkpoint as ckpt
from languagebind.train.distributed import (
    DistInfo,
    all_gather_objects,
    barrier,
    broadcast_object,
    init_distributed,
    sum_int,
)
from languagebind.train.evaluate import heldout_recall
from languagebind.train.loss import contrastive_loss, gather, gather_with_grad, hard_negative_loss
from languagebind.train.optim import build_optimizer, clamp_temperature, select_trainable, set_lr
from languagebind.train.recipe import TrainConfig
from languagebind.train.runlog import RunLog
from languagebind.train.start import TrainingTower, frozen_fingerprint, make_tokenizer, starting_model
from languagebind.train.text_cache import TextEmbeddings
from languagebind.utils.io import write_json_atomic
from languagebind.utils.progress import progress as progress_bar

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run produced: the trained model (adapters not merged) and its tokenizer, logged metrics, the last
    checkpoint. ``LanguageBind(result.model, result.tokenizer)`` encodes with it."""

    model: LanguageBindModel
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    steps: int = 0
    tokenizer: Any = None


@dataclass
class ResumePoint:
    step: int = 0
    batches: int = 0  # micro-batches consumed per process
    stream_states: dict[int, dict[str, int]] = field(default_factory=dict)
    rng: dict[str, Any] | None = None
    tensors: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None
    path: Path | None = None


def train(cfg: TrainConfig, run_dir: str | Path, resume: str | None = None, *,
          model: LanguageBindModel | None = None, tokenizer: Any = None,
          text_cache: dict[str, torch.Tensor] | None = None,
          on_step: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Train ``cfg.modality``'s tower; ``resume``: None (fresh run), ``"auto"`` (newest valid checkpoint, if
    any) or a checkpoint directory. Python callers may pass a ready ``model`` (with its ``tokenizer``; default
    the HF text tower's own or the bundled CLIP one) and a shared ``text_cache``."""
    info = init_distributed(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(run_dir)
    m = cfg.modality
    start_model = starting_model(cfg) if model is None else Pretrained(
        model, tokenizer if tokenizer is not None else default_tokenizer(model, None), dict.fromkeys(model.modalities))
    core = start_model.model.to(info.device).eval()  # only the trained tower runs in training mode
    set_initial_temperature(core, cfg)
    trainable = select_trainable(core, cfg)
    optimizer = build_optimizer(trainable, cfg)
    tower = TrainingTower(core.towers[m], cfg.patch_dropout).train()
    tower.tower.encoder.gradient_checkpointing = cfg.grad_checkpointing
    fingerprint = frozen_fingerprint(core) if info.is_main else ""
    start = find_start(run_dir, resume, cfg, info, fingerprint)
    restore(start, optimizer, trainable)

    runlog = RunLog(run_dir, info.rank, info.is_main, cfg.tensorboard)
    if start.step:
        runlog.truncate_after(start.step)
    tokenize = make_tokenizer(start_model)
    texts = TextEmbeddings(lambda ids, mask: core.encode_text(ids, mask, modality=m), info.device, cfg.text_chunk,
                           cfg.text_cache_size, cfg.text_cache, text_cache, tokenize)
    batches = training_batches(cfg, core, tokenize, info, start)
    ddp = DistributedDataParallel(tower, device_ids=[info.device] if info.device.type == "cuda" else None) \
        if info.initialized else tower
    autocast = torch.autocast(info.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    result = TrainResult(core, checkpoint=start.path, steps=start.step, tokenizer=start_model.tokenizer)
    stream_states = dict(start.stream_states)
    pending_skipped, window_start, window_samples = 0, time.perf_counter(), 0
    progress = steps_bar(cfg, info, start.step)

    for step in range(start.step, cfg.max_steps):
        lr = set_lr(optimizer, step, cfg)
        micro = [next(batches) for _ in range(cfg.accum_steps)]
        loss = optimization_step(ddp, tower, core, texts, micro, cfg, autocast)
        if cfg.grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(list(trainable.values()), cfg.grad_clip_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        clamp_temperature(core, m, cfg.max_logit_scale)

        done = step + 1
        for batch in micro:
            if "stream" in batch:
                stream_states[batch["stream"]] = batch["state"]
            runlog.skipped(done, batch["skipped"])
            pending_skipped += len(batch["skipped"])
            window_samples += batch["pixels"].shape[0]
        last = done == cfg.max_steps
        evaluate_now = cfg.val_data is not None and (last or (cfg.eval_every and done % cfg.eval_every == 0))
        if last or evaluate_now or done % cfg.log_every == 0:
            values = {"step": done, "loss": float(loss), "lr": lr,
                      **window_metrics(core, m, texts, info, window_samples, pending_skipped, window_start)}
            if evaluate_now:
                values.update(evaluate(tower, texts, tokenize, core, cfg, info, autocast))
            runlog.metrics(values)
            result.history.append(values)
            if on_step is not None and info.is_main:
                on_step(values)
            progress.set_postfix(loss=f"{values['loss']:.4f}")
            pending_skipped, window_start, window_samples = 0, time.perf_counter(), 0
        progress.update(1)
        if last or done % cfg.save_every == 0:
            result.checkpoint = save_state(run_dir, done, cfg, info, trainable, optimizer, stream_states, fingerprint)
        result.steps = done

    progress.close()
    runlog.close()
    del batches
    return result


# -- set-up helpers ---------------------------------------------------------------------------------------
def find_start(run_dir: Path, resume: str | None, cfg: TrainConfig, info: DistInfo, fingerprint: str) -> ResumePoint:
    """Where to start: a fresh run (the run directory must have no checkpoints) or a validated checkpoint."""
    found: tuple[Path, dict[str, Any]] | None = None
    if info.is_main:
        if resume is None and ckpt.list_checkpoints(run_dir):
            raise ConfigError(f"{run_dir} already has checkpoints: pass --resume auto, or use a new directory")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / "config.json", cfg.to_dict())
        if resume == "auto":
            found = ckpt.find_resume(run_dir)
        elif resume is not None:
            path = Path(resume)
            found = (path, ckpt.validate(path))
        if found is not None:
            check_compatible(found[1], cfg, info, fingerprint)
            log.info("resuming from %s (step %d)", found[0], found[1]["step"])
    found = broadcast_object(info, (str(found[0]), found[1]) if found else None)
    if found is None:
        seed_everything(cfg.seed + info.rank)
        return ResumePoint()
    path, state = Path(found[0]), found[1]
    rank_state = state["ranks"][info.rank]
    return ResumePoint(step=state["step"], batches=state["batches"],
                       stream_states={int(k): v for k, v in rank_state["streams"].items()}, rng=rank_state["rng"],
                       tensors=ckpt.load_tensors(path), path=path)


def check_compatible(state: dict[str, Any], cfg: TrainConfig, info: DistInfo, fingerprint: str) -> None:
    """A checkpoint resumes only a run with the same frozen weights, processes and data layout."""
    if state["fingerprint"] != fingerprint:
        raise ConfigError("the frozen weights differ from the checkpoint's run (init changed?)")
    saved = state["config"]
    for key in ("modality", "tuning", "batch_size", "accum_steps", "workers", "seed"):
        if saved.get(key) != getattr(cfg, key):
            raise ConfigError(f"cannot resume: {key} was {saved.get(key)!r}, now {getattr(cfg, key)!r}")
    if len(state["ranks"]) != info.world_size:
        raise ConfigError(f"cannot resume: the run had {len(state['ranks'])} processes, now {info.world_size}")


def restore(start: ResumePoint, optimizer: torch.optim.Optimizer, trainable: dict[str, torch.nn.Parameter]) -> None:
    """Load trainable weights, optimizer moments and this rank's RNG states from the resume point."""
    if start.tensors is None:
        return
    weights, moments = start.tensors
    if set(weights) != set(trainable):
        differ = sorted(set(weights) ^ set(trainable))[:5]
        raise ConfigError(f"checkpoint weights do not match the trainable set ({differ})")
    with torch.no_grad():
        for name, param in trainable.items():
            param.copy_(weights[name].to(param.device))
    ckpt.load_optimizer_tensors(optimizer, moments, trainable)
    ckpt.set_rng_state(start.rng)


def set_initial_temperature(core: LanguageBindModel, cfg: TrainConfig) -> None:
    """``init_temp`` (official 0.07) replaces the checkpoint's temperature; None keeps it."""
    if cfg.init_temp is not None:
        with torch.no_grad():
            core.logit_scales[cfg.modality].fill_(math.log(1 / cfg.init_temp))


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def training_batches(cfg: TrainConfig, core: LanguageBindModel, tokenize: Callable, info: DistInfo,
                     start: ResumePoint) -> Iterator[dict[str, Any]]:
    """The DataLoader over this rank's stream, starting after ``start.batches`` micro-batches."""
    m = cfg.modality
    augment = AugmentConfig(tuple(cfg.crop_scale), cfg.flip, cfg.audio_chunks) if cfg.augment else None
    loader = PairLoader(m, ProcessorConfig(**core.configs[m].vision.processor_fields()),
                        TextSampler.from_spec(cfg.text_weights),
                        augment, train=True, contrast=cfg.contrast_weight > 0)
    source = open_source(cfg.train_data, cfg.data_root)
    # Worker processes tokenize the captions beside the training; without them the text cache tokenizes only the
    # captions it has not embedded yet (most steps: none) instead of every caption of every batch.
    dataset = build_batches(source, loader, tokenize if cfg.workers > 0 else None, cfg.batch_size, cfg.seed,
                            Partition(info.rank, info.world_size, max(1, cfg.workers)), start.batches,
                            start.stream_states, cfg.shuffle_buffer, cfg.max_bad_in_a_row)
    # The generator keeps the DataLoader from drawing its worker seed from the global RNG (exact resume).
    data = DataLoader(dataset, batch_size=None, num_workers=cfg.workers, pin_memory=info.device.type == "cuda",
                      persistent_workers=cfg.workers > 0, generator=torch.Generator().manual_seed(cfg.seed))
    return without_worker_traceback(iter(data))


def without_worker_traceback(batches: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A ``DataError`` raised in a DataLoader worker arrives wrapped in the worker's traceback: keep the message."""
    try:
        yield from batches
    except DataError as err:
        raise DataError(str(err).strip().splitlines()[-1].removeprefix(f"{DataError.__module__}.DataError: ")) from None


def steps_bar(cfg: TrainConfig, info: DistInfo, start: int) -> Any:
    """The main process's bar over optimizer steps (on a terminal unless ``cfg.progress`` says otherwise)."""
    return progress_bar(total=cfg.max_steps, initial=start, desc=f"train {cfg.modality}",
                        enabled=cfg.progress if info.is_main else False, leave=True, dynamic_ncols=True)


# -- one step ---------------------------------------------------------------------------------------------
def optimization_step(ddp: torch.nn.Module, tower: TrainingTower, core: LanguageBindModel, texts: TextEmbeddings,
                      micro: list[dict[str, Any]], cfg: TrainConfig,
                      autocast: contextlib.AbstractContextManager) -> torch.Tensor:
    """Forward + backward of one optimizer step over ``micro`` batches; returns the (global) loss."""
    scale = core.logit_scales[cfg.modality]
    device = scale.device
    text = torch.cat([texts(b["texts"], b.get("input_ids"), b.get("attention_mask")) for b in micro])
    all_text = gather(text)
    if len(micro) == 1:
        batch = micro[0]
        with autocast:
            features = ddp(batch["pixels"].to(device, non_blocking=True), batch["seeds"])
        loss = contrastive_loss(gather_with_grad(features), all_text, scale)
        loss = loss + contrast_term(features, micro, texts, cfg)
        loss.backward()
        return loss.detach()
    # gradient cache: features without grad, the loss gradient w.r.t. them, then re-forward each micro-batch
    rng_states, cached = [], []
    with torch.no_grad():
        for batch in micro:
            rng_states.append(rng_snapshot(device))
            with autocast:
                cached.append(tower(batch["pixels"].to(device), batch["seeds"]))
    features = torch.cat(cached).requires_grad_(True)
    loss = contrastive_loss(gather_with_grad(features), all_text, scale)
    loss = loss + contrast_term(features, micro, texts, cfg)
    loss.backward()
    grads = features.grad.split([f.shape[0] for f in cached])
    for j, batch in enumerate(micro):
        rng_restore(rng_states[j], device)  # the same dropout masks as in the no-grad pass
        sync = j == len(micro) - 1 or not isinstance(ddp, DistributedDataParallel)
        with contextlib.nullcontext() if sync else ddp.no_sync(), autocast:
            again = ddp(batch["pixels"].to(device), batch["seeds"])
        again.backward(grads[j])
    return loss.detach()


def contrast_term(features: torch.Tensor, micro: list[dict[str, Any]], texts: TextEmbeddings,
                  cfg: TrainConfig) -> torch.Tensor | float:
    """``contrast_weight`` x the hard-negative loss of this process's samples (``TextViews.contrast``); 0 when
    off or no sample has negatives. It involves no other sample, so under DDP the averaged gradients are those of
    the global batch's mean (exactly when every process has as many samples with negatives)."""
    if cfg.contrast_weight <= 0 or not any("contrast" in b for b in micro):
        return 0.0
    found = [(b["pixels"].shape[0], b.get("contrast")) for b in micro]
    width = max(c["mask"].shape[1] for _, c in found if c is not None)
    contrast = torch.zeros(features.shape[0], width, features.shape[-1], device=features.device)
    mask = torch.zeros(features.shape[0], width, dtype=torch.bool)
    start = 0
    for rows, c in found:
        if c is not None:
            embedded = texts(c["texts"])
            contrast[start:start + rows, :c["mask"].shape[1]] = embedded.view(rows, -1, embedded.shape[-1])
            mask[start:start + rows, :c["mask"].shape[1]] = c["mask"]
        start += rows
    return cfg.contrast_weight * hard_negative_loss(features, contrast, mask.to(features.device),
                                                   cfg.contrast_temperature)


def rng_snapshot(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def rng_restore(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


# -- logging, evaluation and checkpoints ---------------------------------------------------------------------------
def window_metrics(core: LanguageBindModel, modality: str, texts: TextEmbeddings, info: DistInfo, samples: int,
                   skipped: int, since: float) -> dict[str, Any]:
    """Temperature, global samples/s and skipped samples since the last log (summed over processes)."""
    scale = float(core.logit_scales[modality].detach().exp())
    elapsed = max(time.perf_counter() - since, 1e-9)
    return {"logit_scale": scale, "temperature": 1 / scale, "samples_per_s": sum_int(info, samples) / elapsed,
            "skipped": sum_int(info, skipped), "text_cache_hit_rate": texts.hit_rate}


def evaluate(tower: TrainingTower, texts: TextEmbeddings, tokenize: Callable, core: LanguageBindModel,
             cfg: TrainConfig, info: DistInfo, autocast: contextlib.AbstractContextManager) -> dict[str, Any]:
    """Held-out R@1 on the main process (the others wait)."""
    values: dict[str, Any] = {}
    if info.is_main:
        m = cfg.modality
        loader = PairLoader(m, ProcessorConfig(**core.configs[m].vision.processor_fields()),
                            TextSampler.from_spec(cfg.val_text), train=False)
        source = open_source(cfg.val_data, cfg.val_data_root or cfg.data_root)
        values = heldout_recall(tower, texts, tokenize, source, loader, cfg.val_samples, cfg.batch_size,
                                info.device, autocast)
    barrier(info)
    return values


def save_state(run_dir: Path, step: int, cfg: TrainConfig, info: DistInfo, trainable: dict[str, torch.nn.Parameter],
               optimizer: torch.optim.Optimizer, stream_states: dict[int, dict[str, int]],
               fingerprint: str) -> Path:
    """Every rank's RNG and data position to the main process, which writes the checkpoint."""
    mine = {"rng": ckpt.rng_state(), "streams": {str(k): v for k, v in stream_states.items()}}
    ranks = all_gather_objects(info, mine)
    path = ckpt.checkpoint_dir(run_dir) / f"step-{step:08d}"
    if info.is_main:
        names = {id(p): n for n, p in trainable.items()}
        state = {"batches": step * cfg.accum_steps, "ranks": ranks, "config": cfg.to_dict(),
                 "fingerprint": fingerprint, "world_size": info.world_size}
        path = ckpt.save_checkpoint(run_dir, step, {n: p.detach() for n, p in trainable.items()},
                                    ckpt.optimizer_tensors(optimizer, names), state, cfg.keep_checkpoints)
    barrier(info)
    return path
