"""Audio: decoding, torchaudio-equal resampling, Kaldi fbank (vs kaldi_native_fbank and numpy), fixed chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.processing.audio import fit_frames, read_audio, waveform_to_melspec
from languagebind.processing.fbank import kaldi_fbank, num_frames, resample

from .helpers import write_audio_only_mp4, write_video

knf = pytest.importorskip("kaldi_native_fbank")


def sample_waveform(assets: Path, centred: bool = True) -> torch.Tensor:
    data, rate = soundfile.read(assets / "audio" / "0.wav", dtype="float32", always_2d=True)
    assert rate == 16000 and data.shape == (163872, 1)
    wav = torch.from_numpy(data.T.copy())
    return (wav - wav.mean())[0] if centred else wav[0]


def numpy_fbank(x: np.ndarray, rate: int = 16000, bins: int = 112) -> np.ndarray:
    """The Kaldi formulas written out directly in float64 numpy."""
    x = x.astype(np.float64)
    win, shift, nfft = 400, 160, 512
    frames = np.stack([x[i * shift : i * shift + win] for i in range(1 + (len(x) - win) // shift)])
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames - 0.97 * np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / (win - 1)))
    power = np.abs(np.fft.rfft(frames, nfft)) ** 2

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    low, high = mel(20.0), mel(rate / 2)
    delta = (high - low) / (bins + 1)
    left = low + np.arange(bins)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    m = mel(np.arange(nfft // 2 + 1) * rate / nfft)[None]
    weights = np.maximum(0.0, np.minimum((m - left) / (centre - left), (right - m) / (right - centre)))
    weights[:, -1] = 0.0
    return np.log(np.maximum(power @ weights.T, np.finfo(np.float32).eps))


def test_frame_count_of_the_samples(assets: Path) -> None:
    wav = sample_waveform(assets)
    assert num_frames(len(wav), 16000) == 1022 == kaldi_fbank(wav, 16000, 112).shape[0]


def test_fbank_matches_kaldi_native_fbank(assets: Path) -> None:
    wav = sample_waveform(assets)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hanning"
    opts.frame_opts.samp_freq = 16000
    opts.mel_opts.num_bins = 112
    opts.use_energy = False
    opts.htk_compat = True
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, wav.tolist())
    fbank.input_finished()
    expected = torch.tensor(np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)]))
    diff = (kaldi_fbank(wav, 16000, 112) - expected).abs()
    # float32 noise, amplified by the log only in the quietest bins (measured: max 7.3e-4, mean 8.4e-6)
    assert expected.shape == (1022, 112) and diff.max() < 2e-3 and diff.mean() < 2e-5


def test_fbank_matches_numpy_formulas(assets: Path) -> None:
    wav = sample_waveform(assets)
    diff = np.abs(kaldi_fbank(wav, 16000, 112).double().numpy() - numpy_fbank(wav.numpy()))
    assert diff.max() < 2e-3 and diff.mean() < 2e-5  # measured: max 4.6e-4 (float32 vs float64)


def test_fbank_batch_equals_single(assets: Path) -> None:
    wav = sample_waveform(assets)[:32000]
    other = torch.flip(wav, [0]).contiguous()
    batch = kaldi_fbank(torch.stack([wav, other]), 16000, 112)
    assert torch.equal(batch[0], kaldi_fbank(wav, 16000, 112))
    assert torch.equal(batch[1], kaldi_fbank(other, 16000, 112))


def test_resample_length_and_accuracy() -> None:
    rate_in, seconds = 44100, 12
    t = np.arange(rate_in * seconds) / rate_in
    stereo = torch.from_numpy(np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 300 * t)]).astype(np.float32))
    out = resample(stereo, rate_in, 16000)
    assert stereo.shape == (2, 529200) and out.shape == (2, 192000)
    t16 = np.arange(192000) / 16000
    middle = slice(1000, -1000)
    assert np.abs(out[0].numpy()[middle] - np.sin(2 * np.pi * 1000 * t16)[middle]).max() < 2e-3
    assert resample(stereo, 16000, 16000) is stereo


def test_resample_pinned_values() -> None:
    # values computed by torchaudio 2.0.2's resample code (bit-identical to ours when checked)
    x = torch.sin(torch.arange(441, dtype=torch.float32) * 0.05)[None]
    out = resample(x, 44100, 16000)[0]
    assert out.shape == (160,)
    assert out[[0, 1, 80, 159]].tolist() == pytest.approx([0.012965, 0.135629, -0.999872, 0.072974], abs=1e-6)


def test_fit_frames_fixed_chunks_tiling_and_copies() -> None:
    mel = torch.arange(1198.0)[:, None].expand(1198, 4)
    long = fit_frames(mel, 1036)
    assert long.shape == (3, 1036, 4) and long[:, 0, 0].tolist() == [0, 81, 162]
    short = fit_frames(torch.arange(1022.0)[:, None], 1036)
    assert short[0, :, 0].tolist() == list(range(1022)) + list(range(14)) and torch.equal(short[0], short[2])
    exact = fit_frames(torch.arange(1036.0)[:, None], 1036)
    assert torch.equal(exact[0], exact[1])


def test_assets_shape_range_and_determinism(assets: Path) -> None:
    items = sorted((assets / "audio").glob("*.wav"))
    processor = build_processor("audio")
    out = processor(items)
    assert out.shape == (2, 3, 112, 1036) and out.dtype == torch.float32 and torch.equal(out, processor(items))
    assert torch.equal(out[0, 0], out[0, 1])  # shorter than 1036 frames: three identical channels
    assert torch.equal(out[0, 0, :, 1022:], out[0, 0, :, :14])  # tiled from the start
    mel = waveform_to_melspec(sample_waveform(assets, centred=False)[None], 16000, 112, 1036, -4.2677393, 4.5689974)
    assert torch.equal(mel, out[0])


def test_resampled_stereo_file_takes_three_fixed_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = (0.1 * rng.standard_normal((529200, 2))).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", data, 44100, subtype="PCM_16")
    out = build_processor("audio").load(tmp_path / "s.wav")
    assert out.shape == (3, 112, 1036) and not torch.equal(out[0], out[1])
    wav, rate = read_audio(tmp_path / "s.wav", 600)
    assert rate == 44100 and wav.shape == (2, 529200)
    fb = kaldi_fbank(resample(wav, 44100, 16000)[0] - resample(wav, 44100, 16000).mean(), 16000, 112)
    assert fb.shape[0] == 1198
    assert torch.allclose(out[2], ((fb[162:] + 4.2677393) / (2 * 4.5689974)).T, atol=1e-5)


def test_in_memory_pairs_equal_the_file(assets: Path) -> None:
    path = assets / "audio" / "1.wav"
    processor = build_processor("audio")
    expected = processor.load(path)
    floats, rate = soundfile.read(path, dtype="float32")
    ints, _ = soundfile.read(path, dtype="int16")
    for item in ((floats, rate), (floats[None], rate), (torch.from_numpy(floats), rate), (ints, rate)):
        assert torch.equal(processor.load(item), expected)


def test_pyav_fallback_reads_aac(tmp_path: Path) -> None:
    out = build_processor("audio").load(write_audio_only_mp4(tmp_path / "tone.m4a"))
    assert out.shape == (3, 112, 1036) and torch.isfinite(out).all()


def test_bad_audio(assets: Path, tmp_path: Path) -> None:
    data = (assets / "audio" / "0.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:200000])
    (tmp_path / "header.wav").write_bytes(data[:40])
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("no audio here")
    silent_video = write_video(tmp_path / "v.mp4", np.zeros((3, 16, 16, 3), np.uint8))
    processor = build_processor("audio")
    cases = {tmp_path / "cut.wav": "truncated", tmp_path / "header.wav": "cannot decode",
             tmp_path / "empty.wav": "empty", tmp_path / "text.wav": "cannot decode",
             assets / "image" / "0.jpg": "no audio stream", silent_video: "no audio stream",
             tmp_path / "nope.wav": "not found"}
    for item, reason in cases.items():
        with pytest.raises(InputError, match=reason) as err:
            processor.load(item)
        assert err.value.item == item
    with pytest.raises(InputError, match="too long"):
        build_processor("audio", ProcessorConfig(max_audio_seconds=5)).load(assets / "audio" / "0.wav")
    zeros = np.zeros(800, np.float32)
    bad_pairs = [((np.zeros(100, np.float32), 16000), "too short"), ((np.full(800, np.nan, np.float32), 16000), "NaN"),
                 ((zeros, 16000.5), "sample rate"), ((zeros[None, None], 16000), "shape"), ((zeros,), "tuple"),
                 ((zeros, 16000, 1), "tuple"), (("abc", 16000), "numpy"), ((zeros.astype(np.uint32), 16000), "dtype"),
                 ((np.zeros(601_000, np.float32), 1000), "too long")]
    for item, reason in bad_pairs:
        with pytest.raises(InputError, match=reason):
            processor.load(item)
    with pytest.raises(InputError, match="expected"):
        processor.load(np.zeros(800, np.float32))
