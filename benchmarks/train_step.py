"""Training-step speed and memory: samples/s and peak RSS of one optimizer step (forward, loss, backward, AdamW).

    python benchmarks/train_step.py                               # tiny + ViT-B/16 image towers, all switches
    python benchmarks/train_step.py --presets tiny --steps 10     # quick
    python benchmarks/train_step.py --presets vit_b16 --batch 8 --tuning full

For each tower size (``tiny`` test preset at 32 px, ``vit_b16``: ViT-B/16 at 224 px with the CLIP-L text tower) it
times the trainer's own step (``languagebind.train.loop.optimization_step``) on in-memory batches (no decoding;
median of ``--steps`` after one warm-up step),
for fp32 vs bf16 autocast, text-embedding cache on vs off, gradient checkpointing off vs on. The cache runs on a
pool of captions already seen (steady state: every text is a hit); "off" runs the frozen text tower every step.
Each configuration runs in its own process so its peak RSS is its own; ``--rounds`` repeats the switches in turn
(the median round is reported), which evens out other processes' load. Prints a table, writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SWITCHES = [  # (precision, text cache, gradient checkpointing)
    ("fp32", True, False), ("bf16", True, False), ("fp32", False, False), ("fp32", True, True), ("bf16", False, True),
]
CAPTIONS = [f"a photo of {n} {c} {o}" for n in ("one", "two", "three", "many") for c in ("red", "green", "blue", "grey")
            for o in ("balls", "cubes", "stars", "rings")]


def measure(preset: str, precision: str, text_cache: bool, checkpointing: bool, batch: int, steps: int,
            tuning: str, threads: int) -> dict[str, Any]:
    """One configuration, in this process."""
    import torch

    from languagebind.precision import tune_cpu_allocator
    from languagebind.train.loop import optimization_step, set_initial_temperature
    from languagebind.train.optim import build_optimizer, select_trainable
    from languagebind.train.recipe import TrainConfig
    from languagebind.train.start import TrainingTower, starting_model
    from languagebind.train.text_cache import TextEmbeddings

    tune_cpu_allocator()  # as `languagebind train` does (LANGUAGEBIND_MALLOC_TUNING=0 turns it off)
    torch.set_num_threads(threads)
    cfg = TrainConfig(modality="image", init=f"random:{preset}", tuning=tuning, precision=precision,
                      text_cache=text_cache, grad_checkpointing=checkpointing, batch_size=batch, train_data="memory",
                      lr=1e-4, text_chunk=batch)
    start_model = starting_model(cfg)
    core = start_model.model.train()
    set_initial_temperature(core, cfg)
    trainable = select_trainable(core, cfg)
    optimizer = build_optimizer(trainable, cfg)
    tower = TrainingTower(core.towers["image"]).train()
    tower.tower.encoder.gradient_checkpointing = checkpointing
    texts = TextEmbeddings(lambda ids, mask: core.encode_text(ids, mask, modality="image"), torch.device("cpu"),
                           cfg.text_chunk, enabled=text_cache)
    size = core.configs["image"].vision.image_size
    generator = torch.Generator().manual_seed(0)
    pool = CAPTIONS * (batch // len(CAPTIONS) + 1)
    tokens = start_model.tokenizer(pool[:batch])
    if text_cache:  # steady state: the captions were seen before
        texts(pool[:batch], tokens["input_ids"], tokens["attention_mask"])
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    times, losses = [], []
    for step in range(steps + 1):  # step 0 warms up (allocator, oneDNN kernel choice)
        batch_data = {"pixels": torch.randn(batch, 3, *size, generator=generator), "seeds": torch.arange(batch),
                      "texts": pool[:batch], **tokens}
        start = time.perf_counter()
        loss = optimization_step(tower, tower, core, texts, [batch_data], cfg, autocast)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            times.append(time.perf_counter() - start)
            losses.append(float(loss))
    per_step = sorted(times)[len(times) // 2]  # the median: robust to other processes on a shared machine
    return {"preset": preset, "precision": precision, "text_cache": text_cache, "grad_checkpointing": checkpointing,
            "tuning": tuning, "batch": batch, "steps": steps, "seconds_per_step": per_step,
            "best_seconds_per_step": min(times),
            "samples_per_s": batch / per_step, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "trainable_params": sum(p.numel() for p in trainable.values()), "loss_finite": all(map(_finite, losses))}


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def run_child(args: argparse.Namespace, preset: str, switch: tuple[str, bool, bool], batch: int) -> dict[str, Any]:
    steps = args.steps or (30 if preset == "tiny" else 4)
    spec = json.dumps({"preset": preset, "precision": switch[0], "text_cache": switch[1], "checkpointing": switch[2],
                       "batch": batch, "steps": steps, "tuning": args.tuning, "threads": args.threads})
    proc = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed: {spec}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'tower':8} {'batch':>5} {'precision':9} {'text cache':10} {'grad ckpt':9} {'samples/s':>10} " \
           f"{'s/step':>8} {'peak RSS MB':>11} {'vs fp32+cache':>13}"
    lines = [head, "-" * len(head)]
    for row in rows:
        base = next(r for r in rows if r["preset"] == row["preset"] and r["precision"] == "fp32" and r["text_cache"]
                    and not r["grad_checkpointing"])
        cache, ckpt = ("on" if row[k] else "off" for k in ("text_cache", "grad_checkpointing"))
        lines.append(f"{row['preset']:8} {row['batch']:>5} {row['precision']:9} {cache:10} {ckpt:9}"
                     f" {row['samples_per_s']:>10.2f} {row['seconds_per_step']:>8.3f} {row['peak_rss_mb']:>11.0f}"
                     f" {row['samples_per_s'] / base['samples_per_s']:>12.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,vit_b16")
    parser.add_argument("--batch", type=int, default=0, help="samples per step (default: tiny 64, vit_b16 8)")
    parser.add_argument("--steps", type=int, default=0,
                        help="timed steps per configuration, median reported (default: tiny 30, vit_b16 4)")
    parser.add_argument("--rounds", type=int, default=0,
                        help="interleaved repetitions of every switch, median reported (default: tiny 5, vit_b16 1)")
    parser.add_argument("--tuning", default="lora", choices=("lora", "partial", "attention", "full"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench" / "train_step.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(measure(**spec)))
        return
    import torch

    from languagebind.precision import hardware_summary

    rows = []
    for preset in args.presets.split(","):
        batch = args.batch or (64 if preset == "tiny" else 8)
        rounds = args.rounds or (5 if preset == "tiny" else 1)
        runs: dict[tuple, list[dict[str, Any]]] = {switch: [] for switch in SWITCHES}
        for _ in range(rounds):  # interleaved, so that a busy moment of the machine hits every switch alike
            for switch in SWITCHES:
                runs[switch].append(run_child(args, preset, switch, batch))
                print(f"  {preset} {switch}: {runs[switch][-1]['samples_per_s']:.2f} samples/s", file=sys.stderr)
        for results in runs.values():
            median = sorted(results, key=lambda r: r["seconds_per_step"])[len(results) // 2]
            rows.append({**median, "rounds": rounds, "peak_rss_mb": max(r["peak_rss_mb"] for r in results)})
    print(table(rows))
    report = {"hardware": hardware_summary() | {"platform": platform.platform(), "torch": torch.__version__,
                                                "threads_per_run": args.threads},
              "tuning": args.tuning, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
