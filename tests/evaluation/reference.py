"""Headline metrics recomputed with plain loops from an encoder's own embeddings (independent of metrics.py)."""

from __future__ import annotations

import numpy as np
import torch

from languagebind.evaluation import get_benchmark
from languagebind.evaluation.prompts import templates


def naive_expected(name, root, expected, encoder):
    """The headline metrics recomputed with plain loops from the encoder's own embeddings."""
    bench = get_benchmark(name)
    emb = encoder.encode(bench.modality, [str(root / p) for p in expected["items"]]).double()
    if "captions" in expected:
        text = encoder.encode("text", expected["captions"]).double()
        sim = text @ emb.T
        owner = expected["caption_item"]
        t2x = [1 + sum(float(s) > float(row[owner[c]]) for s in row) for c, row in enumerate(sim)]
        best = [[max(float(sim[c, i]) for c in range(len(owner)) if owner[c] == g) for g in range(len(emb))]
                for i in range(len(emb))]
        x2t = [1 + sum(s > row[i] for s in row) for i, row in enumerate(best)]
        x = bench.letter
        return {f"t2{x}_R@1": 100 * np.mean([r <= 1 for r in t2x]), f"t2{x}_MnR": np.mean(t2x),
                f"{x}2t_R@1": 100 * np.mean([r <= 1 for r in x2t]), f"{x}2t_MdR": np.median(x2t)}
    names = bench.reader(root).classnames
    tmpl = templates(bench.templates)
    prompts = encoder.encode("text", [t.format(c) for c in names for t in tmpl], batch_size=4096).double()
    cls = torch.nn.functional.normalize(prompts.view(len(names), len(tmpl), -1).mean(1), dim=-1)
    logits = emb @ cls.T
    if "targets" in expected:
        return {"mAP_classes": len({k for t in expected["targets"] for k in t})}
    top1 = [int(row.argmax()) == label for row, label in zip(logits, expected["labels"], strict=True)]
    return {"top1": 100 * np.mean(top1)}
