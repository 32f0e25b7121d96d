"""Kaldi filter banks and band-limited resampling in plain torch (no torchaudio).

``kaldi_fbank`` reproduces ``torchaudio.compliance.kaldi.fbank`` with the options the official audio processor
passes (``htk_compat=True, use_energy=False, window_type='hanning', dither=0, frame_length=25, frame_shift=10``)
and Kaldi's defaults for the rest: channel 0, symmetric Hann window, DC-offset removal, pre-emphasis 0.97,
FFT size rounded up to a power of two, ``snip_edges`` framing, power spectrum, Kaldi mel banks from 20 Hz to
Nyquist, ``log(max(energy, float32 eps))``. It takes one waveform (N,) or a batch (..., N) of equal length.

``resample`` reproduces ``torchaudio.functional.resample`` defaults (``sinc_interp_hann``,
``lowpass_filter_width=6``, ``rolloff=0.99``, frequencies reduced by their gcd).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

PREEMPHASIS = 0.97
LOW_FREQ_HZ = 20.0
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0


def frame_geometry(sample_rate: int) -> tuple[int, int, int]:
    """(window size, window shift, FFT size) in samples, computed as torchaudio does."""
    window_shift = int(sample_rate * FRAME_SHIFT_MS * 0.001)
    window_size = int(sample_rate * FRAME_LENGTH_MS * 0.001)
    return window_size, window_shift, 1 << (window_size - 1).bit_length()


def num_frames(num_samples: int, sample_rate: int) -> int:
    """Frames Kaldi makes from ``num_samples`` with ``snip_edges``: ``1 + (N - window) // shift`` (0 if too short)."""
    window_size, window_shift, _ = frame_geometry(sample_rate)
    return 0 if num_samples < window_size else 1 + (num_samples - window_size) // window_shift


def mel_scale(freq: torch.Tensor | float) -> torch.Tensor | float:
    """Kaldi's mel scale ``1127 ln(1 + f / 700)``."""
    if isinstance(freq, torch.Tensor):
        return 1127.0 * (1.0 + freq / 700.0).log()
    return 1127.0 * math.log(1.0 + freq / 700.0)


@lru_cache(maxsize=16)
def mel_banks(num_bins: int, fft_size: int, sample_rate: float, low_freq: float = LOW_FREQ_HZ,
              high_freq: float = 0.0) -> torch.Tensor:
    """(num_bins, fft_size // 2 + 1) float32 triangular filters in the mel domain (torchaudio's ``get_mel_banks``)."""
    nyquist = 0.5 * sample_rate
    if high_freq <= 0.0:
        high_freq += nyquist
    fft_bin_width = sample_rate / fft_size
    mel_low, mel_high = mel_scale(low_freq), mel_scale(high_freq)
    mel_delta = (mel_high - mel_low) / (num_bins + 1)
    bin_index = torch.arange(num_bins).unsqueeze(1)
    left = mel_low + bin_index * mel_delta
    center = mel_low + (bin_index + 1.0) * mel_delta
    right = mel_low + (bin_index + 2.0) * mel_delta
    mel = mel_scale(fft_bin_width * torch.arange(fft_size / 2)).unsqueeze(0)
    up_slope = (mel - left) / (center - left)
    down_slope = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up_slope, down_slope))
    return F.pad(banks, (0, 1), mode="constant", value=0.0)  # the Nyquist bin gets no weight


def kaldi_fbank(waveform: torch.Tensor, sample_rate: int, num_mel_bins: int) -> torch.Tensor:
    """(..., N) float waveform(s) in [-1, 1] -> (..., frames, num_mel_bins) log mel filter-bank energies."""
    window_size, window_shift, fft_size = frame_geometry(sample_rate)
    if waveform.shape[-1] < window_size:
        raise ValueError(f"waveform of {waveform.shape[-1]} samples is shorter than one {window_size}-sample frame")
    dtype = waveform.dtype
    frames = waveform.unfold(-1, window_size, window_shift)  # (..., F, window)
    frames = frames - frames.mean(dim=-1, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # replicate-padded shift by one
    frames = frames - PREEMPHASIS * previous
    frames = frames * torch.hann_window(window_size, periodic=False, dtype=dtype)
    frames = F.pad(frames, (0, fft_size - window_size))
    power = torch.fft.rfft(frames).abs().pow(2.0)
    energies = torch.matmul(power, mel_banks(num_mel_bins, fft_size, float(sample_rate)).to(dtype).T)
    return torch.max(energies, torch.tensor(torch.finfo(torch.float).eps, dtype=dtype)).log()


@lru_cache(maxsize=16)
def _sinc_kernel(orig: int, new: int, lowpass_filter_width: int, rolloff: float) -> tuple[torch.Tensor, int]:
    """(new, 1, taps) float32 Hann-windowed sinc kernels and their half width, for gcd-reduced rates."""
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    idx = torch.arange(-width, width + orig, dtype=torch.float32)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float32)[:, None, None] / new + idx
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    scale = base_freq / orig
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale
    return kernels, width


def resample(waveform: torch.Tensor, orig_freq: int, new_freq: int, lowpass_filter_width: int = 6,
             rolloff: float = 0.99) -> torch.Tensor:
    """(..., N) float32 -> (..., ceil(N * new / orig)), band-limited sinc interpolation (torchaudio's defaults)."""
    if orig_freq == new_freq:
        return waveform
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    kernel, width = _sinc_kernel(orig, new, lowpass_filter_width, rolloff)
    shape = waveform.shape
    flat = waveform.reshape(-1, shape[-1])
    padded = F.pad(flat, (width, width + orig))
    out = F.conv1d(padded[:, None], kernel.to(waveform.dtype), stride=orig)
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)
    target_length = math.ceil(new * shape[-1] / orig)
    return out[..., :target_length].reshape(*shape[:-1], -1)
