"""IMU: every input form gives the same tensor; resampling, crop / pad and normalisation by hand; bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from languagebind.errors import ConfigError, InputError
from languagebind.processing.imu import (
    STANDARD_GRAVITY,
    ImuConfig,
    Recording,
    load_imu,
    read_imu,
    resample,
)

SMALL = ImuConfig(sample_rate=100.0, num_steps=64)


def signal(steps: int, seed: int = 0) -> np.ndarray:
    """(steps, 6): multiples of 1/256, exact in text and in float32."""
    return np.random.default_rng(seed).integers(-2048, 2048, size=(steps, 6)) / 256.0


def write_csv(path: Path, header: list[str], rows: np.ndarray, delimiter: str = ",") -> Path:
    lines = [delimiter.join(header)] + [delimiter.join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_input_form_gives_the_same_tensor(tmp_path: Path) -> None:
    data = signal(80)
    expected = load_imu(data, SMALL)
    assert expected.shape == (6, 64) and expected.dtype == torch.float32
    np.save(tmp_path / "rows.npy", data)
    np.save(tmp_path / "channels.npy", data.T.copy())
    np.savez(tmp_path / "only.npz", anything=data)
    np.savez(tmp_path / "named.npz", imu=data, sample_rate=np.array(100.0))
    np.savez(tmp_path / "split.npz", acc=data[:, :3], gyro=data[:, 3:].T.copy(), fs=100)
    times = np.arange(80) / 100.0
    np.savez(tmp_path / "times.npz", data=data, timestamps=times)
    items = [torch.from_numpy(data), data.T, Recording(data, rate=100.0), tmp_path / "rows.npy",
             tmp_path / "channels.npy", tmp_path / "only.npz", tmp_path / "named.npz", tmp_path / "split.npz",
             tmp_path / "times.npz"]
    spellings = [["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"],
                 ["ax", "ay", "az", "gx", "gy", "gz"],
                 ["accel_x", "accel_y", "accel_z", "gyr_x", "gyr_y", "gyr_z"],
                 ["AccX", "AccY", "AccZ", "GyroX", "GyroY", "GyroZ"],
                 ["Accelerometer X (m/s^2)", "Accelerometer Y (m/s^2)", "Accelerometer Z (m/s^2)",
                  "Gyroscope X [rad/s]", "Gyroscope Y [rad/s]", "Gyroscope Z [rad/s]"]]
    for n, header in enumerate(spellings):
        items.append(write_csv(tmp_path / f"spelling{n}.csv", header, data))
    # columns in another order, an unrelated column, and a timestamp column in ms
    shuffled = [4, 0, 5, 1, 3, 2]
    header = ["timestamp_ms", "label"] + [spellings[0][c] for c in shuffled]
    table = np.concatenate([times[:, None] * 1000, np.zeros((80, 1)), data[:, shuffled]], axis=1)
    items.append(write_csv(tmp_path / "times.csv", header, table))
    items.append(write_csv(tmp_path / "semicolon.csv", spellings[1], data, ";"))
    items.append(write_csv(tmp_path / "tabs.tsv", spellings[1], data, "\t"))
    for item in items:
        assert torch.equal(load_imu(item, SMALL), expected), item


def test_fixed_normalisation_centre_crop_and_pad() -> None:
    data = signal(100)
    out = load_imu(data, SMALL).double().numpy()
    window = data[18:82]  # (100 - 64) // 2 = 18
    assert np.allclose(out[:3], window[:, :3].T / STANDARD_GRAVITY, atol=1e-6)
    assert np.allclose(out[3:], window[:, 3:].T, atol=1e-6)
    short = load_imu(data[:50], SMALL).numpy()
    assert (short[:, :7] == 0).all() and (short[:, 57:] == 0).all()  # 14 missing: 7 before, 7 after
    assert np.allclose(short[3:, 7:57], data[:50, 3:].T, atol=1e-6)


def test_item_normalisation() -> None:
    out = load_imu(signal(64) * 5 + 3, ImuConfig(sample_rate=100.0, num_steps=64, normalize="item")).double()
    assert out.mean(1).abs().max().item() < 1e-6
    assert torch.allclose(out.std(1, unbiased=False), torch.ones(6, dtype=torch.float64), atol=1e-5)


def test_resampling_by_hand() -> None:
    ramp = np.stack([np.arange(11.0) * (c + 1) for c in range(6)], axis=1)  # 11 samples at 10 Hz
    up = resample(ramp, np.arange(11) / 10.0, 20.0)
    assert up.shape == (21, 6) and np.allclose(up[:, 1], np.arange(21) * 1.0)  # channel 1: 2 per step -> 1
    down = resample(np.ones((40, 6)), np.arange(40) / 40.0, 10.0)  # 4x: box filter keeps a constant
    assert down.shape == (10, 6) and np.allclose(down, 1.0)
    # a 20 Hz oscillation sampled at 40 Hz (+1, -1, ...) is averaged away at 10 Hz, not aliased into a constant
    alternating = np.tile(np.array([[1.0], [-1.0]]), (20, 6))
    assert np.abs(resample(alternating, np.arange(40) / 40.0, 10.0)[1:-1]).max() < 1e-9
    uneven = resample(ramp, np.array([0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1.0]) * 2, 10.0)
    assert uneven.shape == (21, 6) and np.allclose(uneven[:, 0], np.arange(21) / 2)


def test_rate_from_file_and_from_config(tmp_path: Path) -> None:
    data = signal(200)
    np.savez(tmp_path / "at200.npz", imu=data, hz=200)
    from_file = load_imu(tmp_path / "at200.npz", SMALL)
    np.save(tmp_path / "plain.npy", data)
    assert torch.equal(load_imu(tmp_path / "plain.npy", ImuConfig(sample_rate=100.0, num_steps=64,
                                                                  source_rate=200.0)), from_file)
    assert not torch.equal(load_imu(tmp_path / "plain.npy", SMALL), from_file)  # taken to be at 100 Hz already
    assert torch.equal(load_imu(tmp_path / "at200.npz", SMALL), from_file)  # deterministic


def test_bad_inputs_name_the_file_and_the_reason(tmp_path: Path) -> None:
    data = signal(80)
    (tmp_path / "empty.csv").write_bytes(b"")
    nan = data.copy()
    nan[5, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    inf = data.copy()
    inf[7, 4] = -np.inf
    write_csv(tmp_path / "inf.csv", ["ax", "ay", "az", "gx", "gy", "gz"], inf)
    np.save(tmp_path / "five.npy", data[:, :5])
    np.save(tmp_path / "few.npy", data[:3])
    np.save(tmp_path / "zero.npy", np.zeros((0, 6)))
    write_csv(tmp_path / "no_gyro.csv", ["ax", "ay", "az", "temperature"], data[:, :4])
    write_csv(tmp_path / "header_only.csv", ["ax", "ay", "az", "gx", "gy", "gz"], data[:0])
    (tmp_path / "words.csv").write_text("ax,ay,az,gx,gy,gz\n1,2,3,4,5,six\n")
    (tmp_path / "short_row.csv").write_text("ax,ay,az,gx,gy,gz\n1,2,3,4,5\n")
    back = np.concatenate([np.array([[0.0], [0.01], [0.005]]), data[:3]], axis=1)
    write_csv(tmp_path / "back.csv", ["t", "ax", "ay", "az", "gx", "gy", "gz"], back)
    np.savez(tmp_path / "rate.npz", imu=data, sample_rate=np.array([1.0, 2.0]))
    np.savez(tmp_path / "negative_rate.npz", imu=data, fs=-5.0)
    np.savez(tmp_path / "two.npz", a=data, b=data)
    np.savez(tmp_path / "mismatch.npz", acc=data[:, :3], gyro=data[:40, 3:])
    np.savez(tmp_path / "times.npz", imu=data, t=np.arange(10.0))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "signal.wav").write_bytes(b"RIFF")
    cases = {
        "empty.csv": "empty file", "nan.npy": "NaN", "inf.csv": "NaN or infinite", "five.npy": "T x 6 or 6 x T",
        "few.npy": "too few steps: 3", "zero.npy": "no samples", "no_gyro.csv": "no gyro x column",
        "header_only.csv": "a header line only", "words.csv": "not a number", "short_row.csv": "fewer cells",
        "back.csv": "timestamps must increase: sample 2", "rate.npz": "must be one number",
        "negative_rate.npz": "bad sample rate", "two.npz": "no IMU array", "mismatch.npz": "40",
        "times.npz": "10 timestamps for 80 samples", "bad.npy": "cannot decode", "signal.wav": "unknown IMU file",
        "missing.npy": "not found",
    }
    for name, reason in cases.items():
        with pytest.raises(InputError, match=reason) as err:
            load_imu(tmp_path / name, SMALL)
        assert name in str(err.value)


def test_limits_and_config() -> None:
    with pytest.raises(InputError, match="too long"):
        load_imu(Recording(signal(80), rate=0.001), ImuConfig(max_seconds=3600))
    with pytest.raises(InputError, match="expected an IMU file path"):
        read_imu(3.5, SMALL)
    with pytest.raises(ConfigError):
        ImuConfig(normalize="global")
    with pytest.raises(ConfigError):
        ImuConfig(std=(1.0,) * 5)


def test_training_augmentation_crops_at_a_random_start() -> None:
    from languagebind.processing import ProcessorConfig
    from languagebind.processing.imu import augment_imu_item

    data = signal(100)
    cfg = ProcessorConfig(options={"sample_rate": 100.0, "num_steps": 64})
    crops = [augment_imu_item(data, cfg, None, np.random.default_rng(seed)) for seed in range(8)]
    fixed = np.asarray(SMALL.std)
    starts = set()
    for crop in crops:
        start = next(s for s in range(37) if np.allclose(crop.double().numpy().T, data[s:s + 64] / fixed, atol=1e-6))
        starts.add(start)
    assert len(starts) > 1
    assert torch.equal(crops[0], augment_imu_item(data, cfg, None, np.random.default_rng(0)))
    assert torch.equal(augment_imu_item(data[:50], cfg, None, np.random.default_rng(0)), load_imu(data[:50], SMALL))


def test_csv_quoted_cells_and_empty_cells(tmp_path: Path) -> None:
    data = signal(40)
    lines = ["ax,ay,az,gx,gy,gz"] + [",".join(f'"{v!r}"' for v in row) for row in data.tolist()]
    (tmp_path / "quoted.csv").write_text("\n".join(lines) + "\n")
    assert torch.equal(load_imu(tmp_path / "quoted.csv", SMALL), load_imu(data, SMALL))
    lines = ["ax,ay,az,gx,gy,gz"] + [",".join(map(repr, row)) for row in data.tolist()]
    lines[5] = lines[5].rsplit(",", 1)[0] + ","  # an empty cell
    (tmp_path / "gap.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="NaN"):
        load_imu(tmp_path / "gap.csv", SMALL)


def test_raw_accelerometer_is_preferred_to_linear_acceleration(tmp_path: Path) -> None:
    data = signal(40)
    header = ["linear_acceleration_x", "linear_acceleration_y", "linear_acceleration_z", "acc_x", "acc_y", "acc_z",
              "gyro_x", "gyro_y", "gyro_z"]
    write_csv(tmp_path / "both.csv", header, np.hstack([data[:, :3] * 0, data]))
    assert torch.equal(load_imu(tmp_path / "both.csv", SMALL), load_imu(data, SMALL))
