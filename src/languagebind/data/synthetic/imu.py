"""An IMU trace of a sensor riding a clip's main object (the first one): 6 channels, accelerometer x, y, z
(m/s², specific force, gravity included) and gyroscope x, y, z (rad/s), at ``RATE`` Hz.

Axes are the scene's: x to the right, y up, z towards the camera; the frame is a vertical wall, so gravity
reads +1 g on y. The object rests, speeds up smoothly over ``RAMP`` seconds to its velocity, crosses the frame
as in the clip (2 s), and brakes to rest; the trace spans ``LEAD`` seconds before the clip to ``LEAD`` after.
On the way it runs over a bump every ``EVENT_STEP`` of the frame travelled (the moments its sound is heard,
``sound.event_times``): a damped jolt towards the camera and a damped rock about the in-plane axis across its
motion. So the direction is in which axis and sign the start and stop pulses and the rocks take, and the speed in
the pulses' size and the bumps' rate; nothing in it depends on the object's colour, category or size.
"""

from __future__ import annotations

import numpy as np

from languagebind.data.synthetic.points import FRAME_METRES
from languagebind.data.synthetic.scene import Scene
from languagebind.data.synthetic.sound import event_times

RATE = 200.0  # Hz (ImageBind's IMU rate, and the IMU processor's default)
RAMP = 0.25  # seconds to speed up to (and brake from) the clip's velocity
LEAD = 0.28  # seconds recorded before the clip starts and after it ends
GRAVITY = 9.80665
BUMP_ACC, BUMP_HZ, BUMP_DECAY = 2.0, 18.0, 0.04  # m/s² jolt along z: size, frequency, decay time
ROCK_RATE, ROCK_HZ, ROCK_DECAY = 0.6, 6.0, 0.06  # rad/s rock about the across axis: size, frequency, decay
ACC_NOISE, GYRO_NOISE = 0.15, 0.02  # white noise per sample (m/s², rad/s)
ACC_BIAS, GYRO_BIAS = 0.05, 0.01  # per-clip constant offsets, at most (m/s², rad/s)


def trace_length(duration: float) -> int:
    """Samples of a trace for a clip of ``duration`` seconds (512 for 2 s)."""
    return round((duration + 2 * LEAD) * RATE)


def _ramp(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smooth 0 -> 1 over [0, RAMP] (raised cosine) and its time derivative."""
    phase = np.clip(t / RAMP, 0.0, 1.0)
    inside = (t > 0) & (t < RAMP)
    return 0.5 - 0.5 * np.cos(np.pi * phase), np.where(inside, 0.5 * np.pi / RAMP * np.sin(np.pi * phase), 0.0)


def _damped(t: np.ndarray, onsets: np.ndarray, hz: float, decay: float) -> np.ndarray:
    """Sum over ``onsets`` of ``exp(-tau / decay) sin(2 pi hz tau)`` for ``tau = t - onset >= 0``."""
    out = np.zeros_like(t)
    for onset in onsets:
        tau = t - onset
        live = (tau >= 0) & (tau < 8 * decay)
        out[live] += np.exp(-tau[live] / decay) * np.sin(2 * np.pi * hz * tau[live])
    return out


def synthesise_imu(scene: Scene, duration: float, rng: np.random.Generator) -> np.ndarray:
    """The trace ``(trace_length(duration), 6)`` float32: acc x, y, z (m/s²), gyro x, y, z (rad/s)."""
    t = np.arange(trace_length(duration)) / RATE - LEAD  # clip time in seconds, 0 at the first frame
    velocity = np.array([scene.velocity[0], -scene.velocity[1], 0.0]) * FRAME_METRES / duration  # m/s, y up
    speed = float(np.linalg.norm(velocity))
    along = velocity / speed
    across = np.cross(along, [0.0, 0.0, 1.0])  # in-plane axis across the motion (rocking axis)
    _, d_up = _ramp(t + RAMP)  # speeds up over [-RAMP, 0]
    _, d_down = _ramp(t - duration)  # brakes over [duration, duration + RAMP]
    acceleration = (d_up - d_down)[:, None] * velocity[None]  # d/dt of speed * (up - down)
    onsets = event_times(scene, duration)[0]
    jolts = BUMP_ACC * _damped(t, onsets, BUMP_HZ, BUMP_DECAY)
    rocks = ROCK_RATE * _damped(t, onsets, ROCK_HZ, ROCK_DECAY)
    acc = acceleration + np.array([0.0, GRAVITY, 0.0]) + jolts[:, None] * np.array([0.0, 0.0, 1.0])
    gyro = rocks[:, None] * across[None]
    acc += rng.uniform(-ACC_BIAS, ACC_BIAS, size=3) + rng.normal(0.0, ACC_NOISE, size=acc.shape)
    gyro += rng.uniform(-GYRO_BIAS, GYRO_BIAS, size=3) + rng.normal(0.0, GYRO_NOISE, size=gyro.shape)
    return np.concatenate([acc, gyro], axis=1).astype(np.float32)
