"""IMU: 6-axis accelerometer + gyroscope -> (6, num_steps) float32, deterministic.

Inputs: ``.npy`` (T x 6 or 6 x T), ``.npz`` (one array, or ``imu`` / ``data``, or ``acc`` + ``gyro`` of T x 3
each; the rate from ``sample_rate`` / ``fs`` / ``rate`` / ``hz``; ``timestamps`` / ``time`` / ``t`` in seconds),
``.csv`` / ``.tsv`` (a header naming the six axes, e.g. ``acc_x`` / ``ax`` / ``accel_x`` / ``AccX`` and
``gyro_x`` / ``gx`` / ``gyr_x``; an optional timestamp column ``time`` / ``timestamp`` / ``t``, unit from its
name: ``_s`` (default), ``_ms``, ``_us``, ``_ns``), or an array / tensor. Channels: acc x, y, z, gyro x, y, z.

Pipeline: resample to ``sample_rate`` on a uniform time grid (linear interpolation; a box filter first when
downsampling, against aliasing; timestamps give the source times, else the file's or the configured rate; an
array without any rate is taken to be at ``sample_rate`` already) -> normalise per channel (fixed
``(x - mean) / std``, by default acceleration in units of g and angular rate in rad/s, so magnitudes are kept;
or ``normalize="item"``: each window's own mean and std) -> centred crop or zero pad (after normalisation) to
``num_steps`` (ImageBind: 2,000 steps at 200 Hz = 10 s).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from languagebind.errors import ConfigError, InputError
from languagebind.processing.constants import ProcessorConfig
from languagebind.processing.inputs import decode_errors, existing_file

SUFFIXES = (".npy", ".npz", ".csv", ".tsv")
CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
STANDARD_GRAVITY = 9.80665
# column name prefixes, in order of preference (raw accelerometer before linear acceleration)
_ACC = ("acc", "accel", "accelerometer", "acceleration", "a", "linear_?acceleration", "lin_?acc")
_GYRO = ("gyro", "gyr", "gyroscope", "angular_?velocity", "ang_?vel", "rotation_?rate", "omega", "g", "w")
_TIME = re.compile(r"^(timestamp|time|t|ts|seconds|sec|elapsed|time_?stamp)(_(s|sec|seconds|ms|millis|"
                   r"milliseconds|us|micros|microseconds|ns|nanos|nanoseconds))?$")
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "millis": 1e-3, "milliseconds": 1e-3,
               "us": 1e-6, "micros": 1e-6, "microseconds": 1e-6, "ns": 1e-9, "nanos": 1e-9, "nanoseconds": 1e-9}
_NPZ_DATA_KEYS = ("imu", "data", "signal", "imu_data", "x")
_NPZ_ACC_KEYS = ("acc", "accel", "accelerometer", "acceleration")
_NPZ_GYRO_KEYS = ("gyro", "gyroscope", "gyr", "angular_velocity")
_NPZ_RATE_KEYS = ("sample_rate", "fs", "rate", "hz", "sampling_rate", "frequency")
_NPZ_TIME_KEYS = ("timestamps", "timestamp", "time", "times", "t")


@dataclass(frozen=True)
class ImuConfig:
    """IMU preprocessing constants and input limits.

    Attributes:
        sample_rate: Hz of the output (ImageBind: 200).
        num_steps: output length in steps (ImageBind: 2000); longer signals are centre-cropped, shorter padded.
        source_rate: Hz of inputs that state no rate nor timestamps (None: taken to be ``sample_rate``).
        normalize: ``"fixed"`` (``(x - mean) / std`` per channel) or ``"item"`` (each window's own statistics).
        mean, std: the fixed per-channel constants (acc x, y, z, gyro x, y, z).
        min_steps: fewer steps (after resampling) is an error.
        max_seconds: longer recordings are rejected; max_file_bytes: larger files are rejected before reading.
    """

    sample_rate: float = 200.0
    num_steps: int = 2000
    source_rate: float | None = None
    normalize: str = "fixed"
    mean: tuple[float, ...] = (0.0,) * 6
    std: tuple[float, ...] = (STANDARD_GRAVITY,) * 3 + (1.0,) * 3
    min_steps: int = 8
    max_seconds: float = 24 * 3600.0
    max_file_bytes: int = 1 << 30

    def __post_init__(self) -> None:
        for name in ("sample_rate", "num_steps", "min_steps", "max_seconds", "max_file_bytes"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"ImuConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.source_rate is not None and not self.source_rate > 0:
            raise ConfigError(f"ImuConfig.source_rate must be positive, got {self.source_rate!r}")
        if self.normalize not in ("fixed", "item"):
            raise ConfigError(f"ImuConfig.normalize must be 'fixed' or 'item', got {self.normalize!r}")
        if len(self.mean) != 6 or len(self.std) != 6 or min(self.std) <= 0:
            raise ConfigError("ImuConfig.mean and std need 6 values each (acc x y z, gyro x y z), std > 0")


@dataclass(frozen=True)
class Recording:
    """A decoded recording: (T, 6) samples and either a rate (Hz) or the (T,) timestamps in seconds."""

    samples: np.ndarray
    rate: float | None = None
    times: np.ndarray | None = None


def imu_config(cfg: ProcessorConfig) -> ImuConfig:
    """The ``ImuConfig`` in ``cfg.options`` (its field names; the tower fills ``num_steps``); an unknown option is a
    ``ConfigError``."""
    known = {f.name for f in fields(ImuConfig)}
    unknown = sorted(set(cfg.options) - known)
    if unknown:
        raise ConfigError(f"unknown IMU option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    options = dict(cfg.options)
    for name in ("mean", "std"):
        if name in options:
            options[name] = tuple(float(v) for v in options[name])
    return ImuConfig(**options)


def load_imu_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    """The IMU modality's loader: one item -> (6, num_steps) float32 (the spec names it)."""
    return load_imu(item, imu_config(cfg))


def augment_imu_item(item: object, cfg: ProcessorConfig, aug: object, rng: np.random.Generator) -> torch.Tensor:
    """Training augmentation (the spec names it): the window of a longer recording starts at a random step."""
    config = imu_config(cfg)
    return preprocess_imu(read_imu(item, config), config, item, rng)


def imu_shape(cfg: ProcessorConfig) -> tuple[int, ...]:
    """Shape of one preprocessed IMU window: (6, num_steps)."""
    return (len(CHANNELS), imu_config(cfg).num_steps)


def load_imu(item: object, config: ImuConfig | None = None) -> torch.Tensor:
    """An IMU item (path, (T, 6) / (6, T) array or tensor, or ``Recording``) -> (6, num_steps) float32."""
    config = config or ImuConfig()
    return preprocess_imu(read_imu(item, config), config, item)


def read_imu(item: object, config: ImuConfig) -> Recording:
    """Decode an IMU item without resampling (see the module docstring for the accepted inputs)."""
    if isinstance(item, Recording):
        return Recording(_six_axes(item.samples, item, "samples"), item.rate, item.times)
    if isinstance(item, np.ndarray) or hasattr(item, "detach"):
        array = item.detach().cpu().numpy() if hasattr(item, "detach") else item
        return Recording(_six_axes(array, item, "array"))
    if not isinstance(item, (str, Path)):
        raise InputError(item, f"expected an IMU file path or a (T, 6) array, got {type(item).__name__}")
    path = existing_file(item)
    size = path.stat().st_size
    if size > config.max_file_bytes:
        raise InputError(item, f"file too large: {size / 1e6:.1f} MB (limit {config.max_file_bytes / 1e6:g} MB)")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with decode_errors(item, "an IMU array (.npy)"):
            array = np.load(path, allow_pickle=False)
        return Recording(_six_axes(array, item, "array"))
    if suffix == ".npz":
        return _read_npz(item, path)
    if suffix in (".csv", ".tsv"):
        with decode_errors(item, "an IMU table"):
            text = path.read_bytes().decode("utf-8-sig")
        return read_csv(item, text)
    raise InputError(item, f"unknown IMU file kind {suffix or '(no suffix)'!r}; known: {', '.join(SUFFIXES)}")


def preprocess_imu(recording: Recording, config: ImuConfig, item: object = "<imu>",
                   rng: np.random.Generator | None = None) -> torch.Tensor:
    """A ``Recording`` -> (6, num_steps) float32: resample, normalise, centred crop / pad.

    ``rng`` (training augmentation): a longer recording is cropped at a random start instead of the centre."""
    samples = recording.samples
    if samples.shape[0] == 0:
        raise InputError(item, "no samples (empty recording)")
    if not np.isfinite(samples).all():
        raise InputError(item, "samples contain NaN or infinite values")
    if recording.times is not None:
        times = _checked_times(item, recording.times, samples.shape[0])
    else:
        rate = recording.rate or config.source_rate or config.sample_rate
        if not (np.isfinite(rate) and rate > 0):
            raise InputError(item, f"bad sample rate {rate!r}")
        times = np.arange(samples.shape[0]) / float(rate)
    duration = float(times[-1] - times[0])
    if duration > config.max_seconds:
        raise InputError(item, f"too long: {duration:.0f} s (limit {config.max_seconds:g} s, max_seconds)")
    resampled = resample(samples, times, config.sample_rate)
    if resampled.shape[0] < config.min_steps:
        raise InputError(item, f"too few steps: {resampled.shape[0]} at {config.sample_rate:g} Hz, at least "
                               f"{config.min_steps} needed (min_steps)")
    window = centre_crop(resampled, config.num_steps, rng)
    if config.normalize == "item":
        mean = window.mean(axis=0)
        std = np.maximum(window.std(axis=0), 1e-6)
    else:
        mean, std = np.asarray(config.mean), np.asarray(config.std)
    normalised = (window - mean) / std
    out = pad_centred(normalised, config.num_steps)
    return torch.from_numpy(np.ascontiguousarray(out.T, dtype=np.float32))


def resample(samples: np.ndarray, times: np.ndarray, rate: float) -> np.ndarray:
    """(T, C) samples at ``times`` (seconds, increasing) -> (T', C) on the grid ``times[0] + k / rate``.

    Linear interpolation; when the source is denser than ``rate`` by 2x or more, a centred box filter of that
    width first (so fast vibration does not alias into slow motion).
    """
    samples = samples.astype(np.float64, copy=False)
    if samples.shape[0] == 1:
        return samples.copy()
    step = float(np.median(np.diff(times)))
    uniform = np.allclose(np.diff(times), step, rtol=1e-6, atol=0)
    if uniform and abs(step * rate - 1.0) < 1e-9:
        return samples.copy()
    width = round(1.0 / (step * rate))
    if width >= 2:
        samples = _box_filter(samples, width)
    count = int(np.floor((times[-1] - times[0]) * rate + 1e-9)) + 1
    grid = times[0] + np.arange(count) / rate
    return np.stack([np.interp(grid, times, samples[:, c]) for c in range(samples.shape[1])], axis=1)


def centre_crop(x: np.ndarray, steps: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """The middle ``steps`` rows (start ``(T - steps) // 2``; with ``rng`` a uniform random start); shorter
    inputs unchanged."""
    if x.shape[0] <= steps:
        return x
    start = (x.shape[0] - steps) // 2 if rng is None else int(rng.integers(x.shape[0] - steps + 1))
    return x[start:start + steps]


def pad_centred(x: np.ndarray, steps: int) -> np.ndarray:
    """Zero rows before and after (``(steps - T) // 2`` before) up to ``steps`` rows."""
    missing = steps - x.shape[0]
    if missing <= 0:
        return x
    before = missing // 2
    return np.pad(x, ((before, missing - before), (0, 0)))


def read_csv(item: object, text: str) -> Recording:
    """A delimited table whose header names the six axes (and optionally a timestamp column)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(item, "no samples (the table is empty)")
    delimiter = next((d for d in (",", ";", "\t") if d in lines[0]), None)
    header = [cell.strip() for cell in (lines[0].split(delimiter) if delimiter else lines[0].split())]
    axes, time_column, time_scale = _header_columns(item, header)
    rows = lines[1:]
    if not rows:
        raise InputError(item, "no samples (a header line only)")
    columns = [*axes, time_column] if time_column is not None else axes
    body = "\n".join(rows)
    try:  # the common case in one vectorised pass
        table = np.loadtxt(io.StringIO(body), dtype=np.float64, delimiter=delimiter, usecols=columns, ndmin=2,
                           quotechar='"')
    except ValueError:  # empty cells (NaN), short rows or words: row by row, to say which
        table = _table_by_rows(item, body, delimiter, columns, len(header))
    if time_column is None:
        return Recording(table)
    return Recording(table[:, :6], times=table[:, 6] * time_scale)


def _table_by_rows(item: object, body: str, delimiter: str | None, columns: list[int], width: int) -> np.ndarray:
    with decode_errors(item, "an IMU table"):
        reader = csv.reader(io.StringIO(body), delimiter=delimiter) if delimiter else \
            (row.split() for row in body.splitlines())
        try:
            return np.array([[float(row[c]) if row[c].strip() else np.nan for c in columns] for row in reader],
                            dtype=np.float64)
        except IndexError as err:
            raise InputError(item, f"a row has fewer cells than the header ({width})") from err
        except ValueError as err:
            raise InputError(item, f"not a number: {err}") from err


def _header_columns(item: object, header: list[str]) -> tuple[list[int], int | None, float]:
    names = [_canonical(cell) for cell in header]
    axes: list[int] = []
    for kind, prefixes in (("acc", _ACC), ("gyro", _GYRO)):
        for axis in "xyz":
            found = [i for prefix in prefixes for i, name in enumerate(names) if re.match(f"^{prefix}_?{axis}$", name)]
            if not found:
                raise InputError(item, f"the header names no {kind} {axis} column (accepted e.g. {kind}_{axis}, "
                                       f"{kind[0]}{axis}); header: {', '.join(header)}")
            axes.append(found[0])
    time_column, scale = None, 1.0
    for i, name in enumerate(names):
        match = _TIME.match(name)
        if match:
            time_column, scale = i, _TIME_UNITS[match.group(3)] if match.group(3) else 1.0
            break
    return axes, time_column, scale


def _canonical(name: str) -> str:
    """``"Acc X (m/s^2)"`` -> ``"acc_x"``: units in brackets dropped, camel case split, separators unified."""
    name = re.sub(r"[\(\[\{].*?[\)\]\}]", "", name).strip()
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def _read_npz(item: object, path: Path) -> Recording:
    with decode_errors(item, "an IMU archive (.npz)"), np.load(path, allow_pickle=False) as archive:
        arrays = {name: np.asarray(archive[name]) for name in archive.files}
    rate_key = next((k for k in _NPZ_RATE_KEYS if k in arrays), None)
    time_key = next((k for k in _NPZ_TIME_KEYS if k in arrays), None)
    rate = None
    if rate_key is not None:
        value = arrays[rate_key]
        if value.size != 1 or value.dtype.kind not in "fiu":
            raise InputError(item, f"{rate_key!r} must be one number (Hz), got shape {value.shape}")
        rate = float(value.reshape(()))
        if not (np.isfinite(rate) and rate > 0):
            raise InputError(item, f"bad sample rate {rate!r} in {rate_key!r}")
    acc = next((k for k in _NPZ_ACC_KEYS if k in arrays), None)
    gyro = next((k for k in _NPZ_GYRO_KEYS if k in arrays), None)
    if acc is not None and gyro is not None:
        parts = [_three_axes(arrays[acc], item, acc), _three_axes(arrays[gyro], item, gyro)]
        if parts[0].shape[0] != parts[1].shape[0]:
            raise InputError(item, f"{acc!r} has {parts[0].shape[0]} steps but {gyro!r} has {parts[1].shape[0]}")
        samples = np.concatenate(parts, axis=1)
    else:
        data_keys = [k for k in arrays if k not in (rate_key, time_key)]
        key = next((k for k in _NPZ_DATA_KEYS if k in arrays), data_keys[0] if len(data_keys) == 1 else None)
        if key is None:
            raise InputError(item, f"no IMU array: name it 'imu', or 'acc' + 'gyro', or keep one array "
                                   f"(found {', '.join(arrays)})")
        samples = _six_axes(arrays[key], item, f"array {key!r}")
    times = arrays[time_key].astype(np.float64).reshape(-1) if time_key is not None else None
    return Recording(samples, rate, times)


def _six_axes(array: object, item: object, what: str) -> np.ndarray:
    """(T, 6) or (6, T) numeric -> (T, 6) float64."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiub":
        raise InputError(item, f"IMU {what} must be numeric, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or 6 not in array.shape:
        raise InputError(item, f"IMU {what} must be T x 6 or 6 x T (acc x y z, gyro x y z), got shape "
                               f"{tuple(array.shape)}")
    if array.shape[1] != 6:
        array = array.T
    return array.astype(np.float64)


def _three_axes(array: np.ndarray, item: object, what: str) -> np.ndarray:
    if array.ndim != 2 or 3 not in array.shape:
        raise InputError(item, f"{what!r} must be T x 3 or 3 x T, got shape {tuple(array.shape)}")
    return (array if array.shape[1] == 3 else array.T).astype(np.float64)


def _checked_times(item: object, times: np.ndarray, count: int) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    if times.shape[0] != count:
        raise InputError(item, f"{times.shape[0]} timestamps for {count} samples")
    if not np.isfinite(times).all():
        raise InputError(item, "timestamps contain NaN or infinite values")
    steps = np.diff(times)
    if count > 1 and (steps <= 0).any():
        row = int(np.argmax(steps <= 0)) + 1
        raise InputError(item, f"timestamps must increase: sample {row} is at {times[row]!r}, after "
                               f"{times[row - 1]!r}")
    return times


def _box_filter(samples: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of ``width`` rows along axis 0 (the ends average what exists)."""
    padded = np.concatenate([np.zeros((1, samples.shape[1])), np.cumsum(samples, axis=0)])
    index = np.arange(samples.shape[0])
    low = np.clip(index - width // 2, 0, samples.shape[0])
    high = np.clip(index - width // 2 + width, 0, samples.shape[0])
    return (padded[high] - padded[low]) / (high - low)[:, None]
