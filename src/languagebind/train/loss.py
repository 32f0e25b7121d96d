"""Symmetric InfoNCE over the global batch, with features all-gathered WITH gradient under DDP.

Every rank computes the same loss over all ranks' features. ``gather_with_grad`` sends each rank the gradient
of its own slice summed over the ranks' (identical) losses, i.e. ``world_size x dL/dx``; DDP then averages
the parameter gradients over ranks, which gives exactly the single-process gradient of the global-batch loss.
(The official trainer gathers without gradient by default, so each rank only back-propagates through its own
rows and the gradient is ``1 / world_size`` of that.)
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.rank, ctx.rows = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)  # sum over ranks (all backends have it; reduce_scatter is missing on gloo)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (same shape on every rank) over ranks in rank order; gradients flow back to each rank."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` over ranks (no gradient; for the frozen text features)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def contrastive_loss(item_features: torch.Tensor, text_features: torch.Tensor,
                     logit_scale: torch.Tensor) -> torch.Tensor:
    """``(CE(s I T^T, arange) + CE(s T I^T, arange)) / 2``, ``s = exp(logit_scale)``, for L2-normalised (N, P)."""
    logits = logit_scale.exp() * item_features.float() @ text_features.float().T
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def hard_negative_loss(item_features: torch.Tensor, contrast: torch.Tensor, mask: torch.Tensor,
                       temperature: float) -> torch.Tensor:
    """Each item ranks its true caption (``contrast[:, 0]``) above its hard negatives (``contrast[:, 1:]``):
    cross-entropy over ``item . contrast / temperature`` of (B, P) items and (B, K, P) texts, entries where
    ``mask`` (B, K) is False left out; samples without negatives do not count. 0 when no sample has any."""
    logits = torch.einsum("bp,bkp->bk", item_features.float(), contrast.float()) / temperature
    used = mask.any(1)
    if not bool(used.any()):
        return logits.sum() * 0.0
    logits = logits[used].masked_fill(~mask[used], float("-inf"))
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device))
