"""The "official-style" fp32 baseline for benchmarks/encode.py.

The official LanguageBind modeling files need transformers 4.30, peft 0.4 and einops (not installed here, and
their imports break with transformers 5). This module rebuilds the same computation from the Hugging Face CLIP
building blocks they are made of, in fp32 with ``attn_implementation="eager"`` (the matmul-softmax attention the
official code runs), following the official forward passes (reference: official-model-and-preprocessing.md,
sections 5.7, 7.1-7.7):

* vision towers (image, depth, thermal, audio, video): HF ``CLIPVisionEmbeddings``-style conv patch embedding
  with CLS and a learned position table (593 rows for audio's 112x1036 input), ``pre_layrnorm``, HF
  ``CLIPEncoderLayer`` x 24, ``post_layernorm`` of each frame's CLS, mean over frames, bias-free projection;
* video: before each layer the official temporal step - add the layer's temporal embedding in the
  ``(b n) t d`` layout, then ``x += temporal_attn(temporal_layer_norm1(x))`` over the 8 frames with an HF eager
  ``CLIPAttention`` (the official code's einops ``rearrange`` copies are reproduced with permute + reshape);
* depth / thermal: the released configs have unmerged LoRA (r=2) on q/k/v/out, added as peft 0.4 computes it
  (``x A^T B^T * alpha/r``, dropout 0 -> identity);
* text: HF ``CLIPTextModelWithProjection`` (eager) on 77-token padded ids, as the official tokenizer emits;
* every attention module (spatial, temporal, text) computes as transformers 4.30.2's ``CLIPAttention`` does:
  ``q_proj(x) * scale``, ``bmm``, softmax, ``bmm`` (:class:`Attention430`). Transformers 5's eager function
  scales the (L x L) score tensor instead, an extra pass over it the official code never made.

Weights are random (initialised by transformers); speed does not depend on their values.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

# Our VisionTower / CLIPTextTower state-dict names -> this module's (to check the baseline computes our function).
_VISION_NAMES = ((r"^embeddings\.proj\.weight$", "patch_embedding.weight"),
                 (r"^embeddings\.class_embedding$", "class_embedding"),
                 (r"^embeddings\.position_embedding$", "position_embedding.weight"),
                 (r"^encoder\.layers\.(\d+)\.temporal\.embedding$", r"temporal_embedding.\1"),
                 (r"^encoder\.layers\.(\d+)\.temporal\.norm\.", r"temporal_norm.\1."),
                 (r"^encoder\.layers\.(\d+)\.temporal\.attn\.", r"temporal_attn.\1."),
                 (r"^encoder\.layers\.", "layers."))
_TEXT_NAMES = ((r"^token_embedding\.", "model.text_model.embeddings.token_embedding."),
               (r"^position_embedding$", "model.text_model.embeddings.position_embedding.weight"),
               (r"^encoder\.", "model.text_model.encoder."),
               (r"^final_layer_norm\.", "model.text_model.final_layer_norm."),
               (r"^projection\.weight$", "model.text_projection.weight"))


def load_ours(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy one of our towers' weights (``VisionTower`` or ``CLIPTextTower`` state dict) into a baseline module."""
    table = _TEXT_NAMES if isinstance(module, OfficialStyleText) else _VISION_NAMES
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in table:
            key, count = re.subn(pattern, replacement, key)
            if count:
                break
        renamed[key] = value
    module.load_state_dict(renamed, strict=True)


def _vision_config(vision: dict[str, Any]) -> Any:
    from transformers import CLIPVisionConfig

    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_channels",
            "image_size", "patch_size", "hidden_act", "layer_norm_eps")
    return CLIPVisionConfig(**{k: vision[k] for k in keys if k in vision}, attn_implementation="eager")


class OfficialStyleVision(nn.Module):
    """An official LanguageBind modality tower made of HF CLIP eager modules (see the module docstring)."""

    def __init__(self, official: dict[str, Any]) -> None:
        super().__init__()
        from transformers.models.clip.modeling_clip import CLIPAttention, CLIPVisionModel

        vision = official["vision_config"]
        self.hf_config = _vision_config(vision)
        model = CLIPVisionModel(self.hf_config).eval()
        core = getattr(model, "vision_model", model)  # transformers 4.x nests the modules, 5.x does not
        self.patch_embedding = core.embeddings.patch_embedding
        self.class_embedding = core.embeddings.class_embedding
        height, width = _input_size(vision)
        patch = vision["patch_size"]
        positions = (height // patch) * (width // patch) + 1
        self.position_embedding = nn.Embedding(positions, vision["hidden_size"])
        self.register_buffer("position_ids", torch.arange(positions).expand((1, -1)), persistent=False)
        self.pre_layrnorm, self.post_layernorm = core.pre_layrnorm, core.post_layernorm
        self.layers = core.encoder.layers
        _use_430_attention(self.layers)
        self.projection = nn.Linear(vision["hidden_size"], official.get("projection_dim", 768), bias=False)
        self.frames = int(vision.get("num_frames", 1)) if vision.get("add_time_attn") else 1
        if self.frames > 1:
            width_ = vision["hidden_size"]
            self.temporal_embedding = nn.ParameterList(
                nn.Parameter(torch.randn(1, self.frames, width_) * width_ ** -0.5) for _ in self.layers)
            self.temporal_attn = nn.ModuleList(Attention430(CLIPAttention(self.hf_config)) for _ in self.layers)
            self.temporal_norm = nn.ModuleList(
                nn.LayerNorm(width_, eps=vision.get("layer_norm_eps", 1e-5)) for _ in self.layers)
        if int(vision.get("lora_r", 0)) > 0:
            _add_peft_style_lora(self.layers, int(vision["lora_r"]), float(vision.get("lora_alpha", 16)))

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Official CLIPVisionEmbeddings.forward: conv patches, CLS, + position_embedding(position_ids)."""
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(pixels.shape[0], 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding(self.position_ids)

    def temporal(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Official video CLIPEncoderLayer temporal step (modeling_video.py: time embed, then time attn)."""
        bt, n, d = x.shape
        t = self.frames
        x = x.view(bt // t, t, n, d).permute(0, 2, 1, 3).reshape(-1, t, d)  # (b t) n d -> (b n) t d
        x = x + self.temporal_embedding[index][:, :t]
        x = x.view(bt // t, n, t, d).permute(0, 2, 1, 3).reshape(bt, n, d)  # back to (b t) n d
        residual = x
        x = x.view(bt // t, t, n, d).permute(0, 2, 1, 3).reshape(-1, t, d)
        x, _ = self.temporal_attn[index](self.temporal_norm[index](x), attention_mask=None)
        return residual + x.view(bt // t, n, t, d).permute(0, 2, 1, 3).reshape(bt, n, d)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if pixels.dim() == 5:  # b c t h w -> (b t) c h w, a copy as einops makes
            b, c, t, h, w = pixels.shape
            pixels = pixels.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        else:
            b, t = pixels.shape[0], 1
        x = self.pre_layrnorm(self.embed(pixels))
        for index, layer in enumerate(self.layers):
            if self.frames > 1:
                x = self.temporal(index, x)
            x = layer(x, attention_mask=None)
        pooled = self.post_layernorm(x[:, 0]).reshape(b, t, -1).mean(1)
        return self.projection(pooled)


class OfficialStyleText(nn.Module):
    """HF ``CLIPTextModelWithProjection`` (eager): the official text tower."""

    def __init__(self, official: dict[str, Any]) -> None:
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection

        text = dict(official["text_config"])
        keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "max_position_embeddings", "hidden_act", "layer_norm_eps", "bos_token_id", "eos_token_id",
                "pad_token_id")
        cfg = CLIPTextConfig(**{k: text[k] for k in keys if k in text}, projection_dim=official["projection_dim"],
                             attn_implementation="eager")
        self.model = CLIPTextModelWithProjection(cfg).eval()
        text_model = getattr(self.model, "text_model", self.model)
        _use_430_attention(text_model.encoder.layers)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).text_embeds


class Attention430(nn.Module):
    """transformers 4.30.2 ``CLIPAttention.forward`` on an HF attention module's weights (q scaled before
    ``bmm``; masks added to the scores; no dropout at inference). Returns ``(output, None)`` like HF."""

    def __init__(self, hf_attention: nn.Module) -> None:
        super().__init__()
        self.q_proj, self.k_proj = hf_attention.q_proj, hf_attention.k_proj
        self.v_proj, self.out_proj = hf_attention.v_proj, hf_attention.out_proj
        self.heads = hf_attention.num_heads
        self.head_dim = hf_attention.head_dim
        self.scale = self.head_dim ** -0.5

    def _shape(self, x: torch.Tensor, length: int, batch: int) -> torch.Tensor:
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                causal_attention_mask: torch.Tensor | None = None, **_: Any) -> tuple[torch.Tensor, None]:
        batch, length, width = hidden_states.shape
        shape = (batch * self.heads, -1, self.head_dim)
        q = self._shape(self.q_proj(hidden_states) * self.scale, length, batch).view(*shape)
        k = self._shape(self.k_proj(hidden_states), length, batch).view(*shape)
        v = self._shape(self.v_proj(hidden_states), length, batch).view(*shape)
        weights = torch.bmm(q, k.transpose(1, 2))
        for mask in (causal_attention_mask, attention_mask):
            if mask is not None:
                weights = (weights.view(batch, self.heads, length, length) + mask).view(batch * self.heads,
                                                                                     length, length)
        out = torch.bmm(nn.functional.softmax(weights, dim=-1), v)
        out = out.view(batch, self.heads, length, self.head_dim).transpose(1, 2).reshape(batch, length, width)
        return self.out_proj(out), None


def _use_430_attention(layers: nn.ModuleList) -> None:
    for layer in layers:
        layer.self_attn = Attention430(layer.self_attn)


def _input_size(vision: dict[str, Any]) -> tuple[int, int]:
    if float(vision.get("num_mel_bins") or 0) > 0:
        return int(vision["num_mel_bins"]), int(vision["target_length"])
    return int(vision["image_size"]), int(vision["image_size"])


def _add_peft_style_lora(layers: nn.ModuleList, r: int, alpha: float) -> None:
    """peft 0.4 LoRA on q/k/v/out_proj: ``y += (x A^T) B^T * alpha / r`` (kept unmerged, as released)."""
    for layer in layers:
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            linear = getattr(layer.self_attn, name)
            linear.lora_A = nn.Parameter(torch.randn(r, linear.in_features) * 0.01)
            linear.lora_B = nn.Parameter(torch.randn(linear.out_features, r) * 0.01)
            linear.register_forward_hook(_lora_hook(alpha / r))


def _lora_hook(scaling: float) -> Any:
    def hook(module: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        return output + (inputs[0] @ module.lora_A.T) @ module.lora_B.T * scaling

    return hook
