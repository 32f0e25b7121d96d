"""Audio: decode -> resample to 16 kHz -> remove the mean -> Kaldi fbank (channel 0) -> fit to 1036 frames -> normalise.

Official (audio/processing_audio.py): ``torchaudio.load`` (soundfile backend: float32, int16 / 32768) ->
``resample`` if the rate differs -> ``wav -= wav.mean()`` (all channels) -> ``kaldi.fbank`` (channel 0) ->
longer than ``target_length``: three RANDOM chunks; shorter: tiled from the start; equal: 3 copies ->
``transpose(1, 2)`` -> ``(x - audio_mean) / (audio_std * 2)``. We take three FIXED chunks (front, middle, back).
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import soundfile
import torch

from languagebind.errors import InputError
from languagebind.processing.fbank import frame_geometry, kaldi_fbank, resample
from languagebind.processing.inputs import check_complete, decode_errors, existing_file

INT16_SCALE = 32768.0


def read_audio(item: object, max_seconds: float) -> tuple[torch.Tensor, int]:
    """A file path or a ``(waveform, sample_rate)`` pair -> ((C, N) float32 waveform, sample rate)."""
    if isinstance(item, tuple):
        return _from_pair(item, max_seconds)
    if not isinstance(item, (str, Path)):
        raise InputError(item, f"expected an audio file path or a (waveform, sample_rate) tuple, "
                               f"got {type(item).__name__}")
    path = existing_file(item)
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, TypeError, ValueError):  # not a libsndfile format (mp3 with old libsndfile, m4a, mp4, ...)
        return _read_with_pyav(item, path, max_seconds)
    _check_duration(item, info.frames, info.samplerate, max_seconds)
    if info.format == "WAV":
        _check_wav_complete(item, path)
    with decode_errors(item, "an audio file"):
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return _checked(item, torch.from_numpy(np.ascontiguousarray(data.T)), rate)


def fit_frames(mel: torch.Tensor, target_length: int) -> torch.Tensor:
    """(frames, mel) -> (3, target_length, mel): 3 fixed chunks (front, middle, back), or tiled, or 3 copies."""
    frames = mel.shape[0]
    if frames > target_length:
        starts = (0, (frames - target_length) // 2, frames - target_length)
        return torch.stack([mel[s : s + target_length] for s in starts])
    if frames < target_length:
        mel = mel.repeat(int(target_length / frames) + 1, 1)[:target_length]
    return torch.stack([mel, mel, mel])


def waveform_to_melspec(waveform: torch.Tensor, sample_rate: int, num_mel_bins: int, target_length: int,
                        audio_mean: float, audio_std: float) -> torch.Tensor:
    """(C, N) float32 at ``sample_rate`` -> (3, num_mel_bins, target_length) normalised log-mel "image"."""
    waveform = waveform - waveform.mean()
    mel = kaldi_fbank(waveform[0], sample_rate, num_mel_bins)
    fused = fit_frames(mel, target_length).transpose(1, 2)
    return (fused - audio_mean) / (audio_std * 2)


def load_audio(item: object, sample_rate: int, num_mel_bins: int, target_length: int, audio_mean: float,
               audio_std: float, max_seconds: float) -> torch.Tensor:
    """An audio item -> (3, num_mel_bins, target_length) float32, the official audio preprocessing."""
    waveform, rate = read_audio(item, max_seconds)
    if rate != sample_rate:
        waveform = resample(waveform, rate, sample_rate)
    window_size = frame_geometry(sample_rate)[0]
    if waveform.shape[-1] < window_size:
        raise InputError(item, f"audio too short: {waveform.shape[-1]} samples at {sample_rate} Hz, "
                               f"at least {window_size} needed (one 25 ms frame)")
    return waveform_to_melspec(waveform, sample_rate, num_mel_bins, target_length, audio_mean, audio_std)


def _from_pair(item: tuple, max_seconds: float) -> tuple[torch.Tensor, int]:
    if len(item) != 2:
        raise InputError(item, "an in-memory audio item is a (waveform, sample_rate) tuple")
    waveform, rate = item
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
        raise InputError(item, f"sample rate must be an int, got {type(rate).__name__}")
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().cpu().numpy()
    if not isinstance(waveform, np.ndarray):
        raise InputError(item, f"waveform must be a numpy array or torch tensor, got {type(waveform).__name__}")
    if waveform.ndim == 1:
        waveform = waveform[None]
    if waveform.ndim != 2:
        raise InputError(item, f"waveform must be (channels, samples) or (samples,), got shape {waveform.shape}")
    if waveform.dtype == np.int16:
        waveform = waveform.astype(np.float32) / INT16_SCALE
    elif not np.issubdtype(waveform.dtype, np.floating):
        raise InputError(item, f"waveform dtype must be float or int16, got {waveform.dtype}")
    _check_duration(item, waveform.shape[1], int(rate), max_seconds)
    return _checked(item, torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32)), int(rate))


def _read_with_pyav(item: object, path: Path, max_seconds: float) -> tuple[torch.Tensor, int]:
    """Containers libsndfile does not read (mp3, m4a, aac, a video's audio track): decode to float planar."""
    with decode_errors(item, "an audio file"), av.open(str(path)) as container:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams})
            raise InputError(item, f"no audio stream (streams: {', '.join(kinds) or 'none'}; "
                                   f"container {container.format.name})")
        stream = container.streams.audio[0]
        if container.duration is not None and container.duration / av.time_base > max_seconds:
            _check_duration(item, int(container.duration / av.time_base * stream.rate), stream.rate, max_seconds)
        converter = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        samples, rate = 0, stream.rate
        for frame in container.decode(stream):
            for converted in converter.resample(frame):
                chunks.append(converted.to_ndarray())
                samples += chunks[-1].shape[1]
                rate = converted.sample_rate
            _check_duration(item, samples, rate, max_seconds)
        for converted in converter.resample(None):
            chunks.append(converted.to_ndarray())
            samples += chunks[-1].shape[1]
        if stream.duration is not None and stream.time_base is not None:
            check_complete(item, samples / rate, float(stream.duration * stream.time_base))
    if not chunks:
        raise InputError(item, "the audio stream has no samples")
    return _checked(item, torch.from_numpy(np.concatenate(chunks, axis=1).astype(np.float32)), rate)


def _check_wav_complete(item: object, path: Path) -> None:
    """libsndfile silently reads a cut-off WAV: compare the ``data`` chunk's declared size with the bytes present."""
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        while chunk := handle.read(8):
            if len(chunk) < 8:
                return
            size = struct.unpack("<I", chunk[4:])[0]
            if chunk[:4] == b"data":
                available = path.stat().st_size - handle.tell()
                if size != 0xFFFFFFFF and size > available:
                    raise InputError(item, f"truncated WAV: the header declares {size} bytes of samples, "
                                           f"the file holds {available}")
                return
            handle.seek(size + (size & 1), 1)


def _check_duration(item: object, samples: int, rate: int, max_seconds: float) -> None:
    if rate <= 0:
        raise InputError(item, f"invalid sample rate {rate}")
    if samples / rate > max_seconds:
        raise InputError(item, f"audio too long: {samples / rate:.1f} s (limit {max_seconds:g} s, "
                               "ProcessorConfig.max_audio_seconds)")


def _checked(item: object, waveform: torch.Tensor, rate: int) -> tuple[torch.Tensor, int]:
    if waveform.shape[0] == 0 or waveform.shape[1] == 0:
        raise InputError(item, "the audio has no samples")
    if not torch.isfinite(waveform).all():
        raise InputError(item, "the waveform contains NaN or infinite values")
    return waveform, int(rate)
