"""The MUNIT ``AdaINGen`` generator (Huang et al., 2018), module for module, so sRGB-TIR weights load as they are.

Only inference is kept. Two deliberate differences from the original ``networks.py``:

* instance norms always normalise with the statistics of the input, also in ``eval()``. The original content
  encoder uses ``InstanceNorm2d(track_running_stats=True)``, whose eval mode switches to running averages; the
  sRGB-TIR scripts avoid that by running in ``train()`` mode. Here eval mode gives the train-mode numbers without
  updating any buffer;
* AdaIN parameters are computed per call from the style code and passed down, instead of being stored on the
  modules, so a generator can be shared by threads.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """MUNIT's layer norm: per-sample mean and (unbiased) std over C, H, W; per-channel gamma and beta."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.rand(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.size(0), -1)
        shape = (-1, 1, 1, 1)
        x = (x - flat.mean(1).view(shape)) / (flat.std(1).view(shape) + self.eps)
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class InstanceNorm(nn.InstanceNorm2d):
    """``InstanceNorm2d(track_running_stats=True)`` (same state-dict keys) that always uses input statistics."""

    def __init__(self, num_features: int) -> None:
        super().__init__(num_features, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


class AdaptiveInstanceNorm2d(nn.Module):
    """Instance norm whose scale and shift come from the style code (keeps the original's unused buffers)."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        mean, std = params[:, : self.num_features], params[:, self.num_features:]
        x = F.instance_norm(x, None, None, None, None, True, 0.0, self.eps)
        return x * std[:, :, None, None] + mean[:, :, None, None]


def _norm(kind: str, dim: int) -> nn.Module | None:
    return {"in": lambda: InstanceNorm(dim), "ln": lambda: LayerNorm(dim),
            "adain": lambda: AdaptiveInstanceNorm2d(dim), "none": lambda: None}[kind]()


def _activation(kind: str) -> nn.Module | None:
    return {"relu": nn.ReLU, "lrelu": lambda: nn.LeakyReLU(0.2), "prelu": nn.PReLU, "selu": nn.SELU,
            "tanh": nn.Tanh, "none": lambda: None}[kind]()


def _padding(kind: str, size: int) -> nn.Module:
    return {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "zero": nn.ZeroPad2d}[kind](size)


class Conv2dBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, kernel: int, stride: int, padding: int = 0, norm: str = "none",
                 activation: str = "relu", pad_type: str = "zero") -> None:
        super().__init__()
        self.pad = _padding(pad_type, padding)
        self.norm = _norm(norm, out_dim)
        self.activation = _activation(activation)
        self.conv = nn.Conv2d(in_dim, out_dim, kernel, stride, bias=True)

    def forward(self, x: torch.Tensor, adain: list[torch.Tensor] | None = None) -> torch.Tensor:
        x = self.conv(self.pad(x))
        if isinstance(self.norm, AdaptiveInstanceNorm2d):
            x = self.norm(x, adain.pop(0))
        elif self.norm is not None:
            x = self.norm(x)
        return self.activation(x) if self.activation is not None else x


class ResBlock(nn.Module):
    def __init__(self, dim: int, norm: str, activation: str, pad_type: str) -> None:
        super().__init__()
        self.model = nn.Sequential(Conv2dBlock(dim, dim, 3, 1, 1, norm, activation, pad_type),
                                   Conv2dBlock(dim, dim, 3, 1, 1, norm, "none", pad_type))

    def forward(self, x: torch.Tensor, adain: list[torch.Tensor] | None = None) -> torch.Tensor:
        out = x
        for block in self.model:
            out = block(out, adain)
        return out + x


class ResBlocks(nn.Module):
    def __init__(self, count: int, dim: int, norm: str, activation: str, pad_type: str) -> None:
        super().__init__()
        self.model = nn.Sequential(*[ResBlock(dim, norm, activation, pad_type) for _ in range(count)])

    def forward(self, x: torch.Tensor, adain: list[torch.Tensor] | None = None) -> torch.Tensor:
        for block in self.model:
            x = block(x, adain)
        return x


class LinearBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, activation: str) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.activation = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x)
        return self.activation(x) if self.activation is not None else x


class AdaINGen(nn.Module):
    """Style encoder, content encoder, AdaIN decoder and the MLP that maps a style code to AdaIN parameters."""

    def __init__(self, input_dim: int, params: dict[str, Any]) -> None:
        super().__init__()
        dim, style_dim, n_down = params["dim"], params["style_dim"], params["n_downsample"]
        n_res, activ, pad, mlp_dim = params["n_res"], params["activ"], params["pad_type"], params["mlp_dim"]
        self.style_dim, self.n_downsample = style_dim, n_down
        style = [Conv2dBlock(input_dim, dim, 7, 1, 3, "none", activ, pad)]
        style_width = dim
        for _ in range(2):
            style.append(Conv2dBlock(style_width, 2 * style_width, 4, 2, 1, "none", activ, pad))
            style_width *= 2
        style += [Conv2dBlock(style_width, style_width, 4, 2, 1, "none", activ, pad) for _ in range(4 - 2)]
        self.enc_style = _Sequential(*style, nn.AdaptiveAvgPool2d(1), nn.Conv2d(style_width, style_dim, 1, 1, 0))
        content = [Conv2dBlock(input_dim, dim, 7, 1, 3, "in", activ, pad)]
        width = dim
        for _ in range(n_down):
            content.append(Conv2dBlock(width, 2 * width, 4, 2, 1, "in", activ, pad))
            width *= 2
        content.append(ResBlocks(n_res, width, "in", activ, pad))
        self.enc_content = _Sequential(*content)
        decoder: list[nn.Module] = [ResBlocks(n_res, width, "adain", activ, pad)]
        for _ in range(n_down):
            decoder += [nn.Upsample(scale_factor=2), Conv2dBlock(width, width // 2, 5, 1, 2, "ln", activ, pad)]
            width //= 2
        decoder.append(Conv2dBlock(width, input_dim, 7, 1, 3, "none", "tanh", pad))
        self.dec = _Sequential(*decoder)
        self._adain = [m.num_features for m in self.dec.modules() if isinstance(m, AdaptiveInstanceNorm2d)]
        self.mlp = _Sequential(LinearBlock(style_dim, mlp_dim, activ), LinearBlock(mlp_dim, mlp_dim, activ),
                               LinearBlock(mlp_dim, 2 * sum(self._adain), "none"))

    def encode_content(self, images: torch.Tensor) -> torch.Tensor:
        return self.enc_content(images)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style.reshape(style.size(0), -1))
        chunks, start = [], 0
        for features in self._adain:  # the original's order: mean then std, layer by layer
            chunks.append(params[:, start:start + 2 * features])
            start += 2 * features
        return self.dec(content, chunks)


class _Sequential(nn.Module):
    """The original's ``self.model = nn.Sequential(...)`` wrappers (same keys ``model.<i>``); hands the AdaIN
    parameter list to the blocks that need it."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.model = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor, adain: list[torch.Tensor] | None = None) -> torch.Tensor:
        for module in self.model:
            x = module(x, adain) if isinstance(module, (Conv2dBlock, ResBlocks)) else module(x)
        return x


def load_generators(state: dict[str, Any], params: dict[str, Any], input_dims: tuple[int, int] = (3, 3)
                    ) -> tuple[AdaINGen, AdaINGen]:
    """``gen_a`` and ``gen_b`` from a MUNIT/sRGB-TIR ``{'a': ..., 'b': ...}`` state dict (strict but for
    ``num_batches_tracked``, which PyTorch < 0.4 checkpoints lack)."""
    generators = []
    for key, input_dim in zip("ab", input_dims, strict=True):
        generator = AdaINGen(input_dim, params)
        weights = {k: v for k, v in state[key].items() if not k.endswith("num_batches_tracked")}
        missing, unexpected = generator.load_state_dict(weights, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise KeyError(f"generator {key}: missing {missing[:5]}, unexpected {list(unexpected)[:5]}")
        generators.append(generator.eval())
    return generators[0], generators[1]
