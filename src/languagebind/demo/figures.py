"""Self-contained figures for the demo report: inline SVG line charts and base64 PNG heat maps / thumbnails.

Nothing here reads files or imports plotting libraries: charts are SVG text, pictures are PNGs (Pillow) embedded
as ``data:`` URIs, so the report is one HTML file that opens anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

from languagebind.processing.pointcloud import preview_points
from languagebind.registry import get_modality

# One colour per series (colour-blind friendly "Tableau 10" subset).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")

# Viridis anchor colours, interpolated linearly (enough for a heat map).
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> uint8 RGB (shape + (3,)) on a viridis-like ramp."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    low = np.floor(v).astype(int).clip(0, len(_VIRIDIS) - 2)
    frac = (v - low)[..., None]
    return (_VIRIDIS[low] * (1 - frac) + _VIRIDIS[low + 1] * frac).round().astype(np.uint8)


def png_data_uri(pixels: np.ndarray, scale: int = 1) -> str:
    """An (H, W) or (H, W, 3) uint8 array -> ``data:image/png;base64,...`` (nearest-neighbour upscaled)."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def to_display(array: np.ndarray) -> np.ndarray:
    """A float picture (H, W) or (C, H, W) with any range -> uint8 (H, W) or (H, W, 3), min-max stretched."""
    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)
    low, high = float(a.min()), float(a.max())
    return ((a - low) / (high - low + 1e-8) * 255).round().astype(np.uint8)


def thumbnail(modality: str, pixels: np.ndarray, size: int = 64) -> str:
    """A preprocessed item tensor -> a small PNG data URI, drawn as the modality's spec says (``preview``)."""
    picture = preview(modality, pixels, size)
    return png_data_uri(picture, scale=max(1, size // max(1, picture.shape[0])))


def preview(modality: str, pixels: np.ndarray, size: int = 64) -> np.ndarray:
    """A preprocessed item -> an (H, W[, 3]) uint8 picture (a waveform ``size`` pixels high) by its spec's ``preview``:
    ``frames`` side by side, a colour-mapped ``spectrogram`` (low frequencies at the bottom) or ``heatmap``,
    the first ``channel`` in grey, an RGB ``thumbnail``, a ``waveform`` per channel, ``points`` seen from the front,
    or the spec's own function."""
    kind = get_modality(modality).resolve("preview")
    a = np.asarray(pixels, dtype=np.float32)
    if callable(kind):
        picture = np.asarray(kind(a))
    elif kind == "frames":  # (C, T, H, W) -> frames left to right
        picture = np.concatenate([to_display(a[:, t]) for t in range(a.shape[1])], axis=1)
    elif kind in ("spectrogram", "heatmap"):
        stretched = to_display(a[0] if a.ndim == 3 else a).astype(np.float32) / 255.0
        picture = colormap(stretched[::-1] if kind == "spectrogram" else stretched)
    elif kind == "waveform":
        picture = waveform(a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a[None], size)
    elif kind == "points":
        picture = preview_points(a.reshape(-1, a.shape[-1]))
    else:
        picture = to_display(a[:1] if kind == "channel" else a)
    return picture


def waveform(channels: np.ndarray, height: int = 64) -> np.ndarray:
    """(C, T) signals -> a white (height, min(T, 512), 3) picture with one coloured trace per channel."""
    width = min(channels.shape[1], 512)
    picture = np.full((height, width, 3), 255, dtype=np.uint8)
    columns = np.linspace(0, channels.shape[1] - 1, width).round().astype(int)
    for c, signal in enumerate(channels):
        values = signal[columns]
        span = float(values.max() - values.min()) or 1.0
        rows = ((values.max() - values) / span * (height - 1)).round().astype(int)
        colour = PALETTE[c % len(PALETTE)]
        picture[rows, np.arange(width)] = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return picture


def heatmap(matrix: np.ndarray, cell: int = 3) -> str:
    """A similarity matrix -> PNG data URI (min-max stretched, ``cell`` pixels per entry)."""
    m = np.asarray(matrix, dtype=np.float32)
    stretched = (m - m.min()) / (m.max() - m.min() + 1e-8)
    return png_data_uri(colormap(stretched), scale=cell)


def line_chart(series: Mapping[str, Sequence[float]], width: int = 640, height: int = 280, title: str = "",
               x_label: str = "step", y_label: str = "loss") -> str:
    """Several curves on shared axes -> an inline ``<svg>`` string with a legend."""
    left, right, top, bottom = 52, 120, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [np.asarray(v, dtype=np.float64) for v in series.values() if len(v)]
    y_max = max((float(np.nanmax(v)) for v in values), default=1.0)
    y_min = min((float(np.nanmin(v)) for v in values), default=0.0)
    y_min, y_max = (y_min, y_max) if y_max > y_min else (y_min - 0.5, y_max + 0.5)
    x_max = max((len(v) - 1 for v in values), default=1) or 1

    def x_of(i: float) -> float:
        return left + plot_w * i / x_max

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - y_min) / (y_max - y_min))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
             f'<text x="{left}" y="{top - 10}" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for k in range(5):  # horizontal grid + y ticks
        v = y_min + (y_max - y_min) * k / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y_of(v):.1f}" y2="{y_of(v):.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 6}" y="{y_of(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for k in range(5):  # x ticks
        i = x_max * k / 4
        parts.append(f'<text x="{x_of(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle">{round(i)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">{html.escape(x_label)}</text>'
                 f'<text x="12" y="{top + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + plot_h / 2})">{html.escape(y_label)}</text>')
    for n, (name, curve) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in _decimate(curve, plot_w))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{points}"/>'
                     f'<rect x="{left + plot_w + 12}" y="{top + 6 + 16 * n}" width="12" height="3" fill="{color}"/>'
                     f'<text x="{left + plot_w + 28}" y="{top + 10 + 16 * n}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _decimate(curve: Sequence[float], points: int) -> list[tuple[float, float]]:
    """At most ``points`` (index, value) pairs of a curve, each the mean of its window (smooths noisy losses)."""
    values = np.asarray(curve, dtype=np.float64)
    if len(values) <= points:
        return list(enumerate(values.tolist()))
    edges = np.linspace(0, len(values), points + 1).astype(int)
    return [((lo + hi - 1) / 2, float(values[lo:hi].mean())) for lo, hi in itertools.pairwise(edges)]


def bar_chart(rows: Mapping[str, tuple[float, float]], width: int = 640, title: str = "") -> str:
    """Horizontal bars (score, chance) per row -> inline ``<svg>``; chance drawn as a dark tick on each bar."""
    left, bar_h, gap, top = 150, 14, 6, 24
    plot_w = width - left - 60
    height = top + len(rows) * (bar_h + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for n, (name, (score, chance)) in enumerate(rows.items()):
        y = top + n * (bar_h + gap)
        parts.append(f'<text x="{left - 6}" y="{y + bar_h - 3}" text-anchor="end">{html.escape(name)}</text>'
                     f'<rect x="{left}" y="{y}" width="{plot_w}" height="{bar_h}" fill="#eee"/>'
                     f'<rect x="{left}" y="{y}" width="{plot_w * min(max(score, 0), 1):.1f}" height="{bar_h}" '
                     f'fill="{PALETTE[0]}"/>'
                     f'<rect x="{left + plot_w * min(max(chance, 0), 1) - 1:.1f}" y="{y - 2}" width="2" '
                     f'height="{bar_h + 4}" fill="#222"/>'
                     f'<text x="{left + plot_w + 6}" y="{y + bar_h - 3}">{score:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)
