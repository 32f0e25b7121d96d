"""Synthesise a clip's audio track: every object is one voice that makes its category's sound each time it
travels ``EVENT_STEP`` of the frame, so the rhythm follows the motion (fast objects sound more often) and the
count is the number of voices (each a musical interval above the previous: 1, 5/4, 3/2 of the pitch)."""

from __future__ import annotations

import numpy as np

from languagebind.data.synthetic.scene import Scene
from languagebind.data.synthetic.vocab import CATEGORY_BY_NAME, Sound

SAMPLE_RATE = 16000
EVENT_STEP = 0.05  # fraction of the frame side travelled between two sound events
VOICE_RATIOS = (1.0, 1.25, 1.5)
SWEEP_TIME = 0.03  # seconds for a sweep to glide down to the base pitch
ATTACK = 0.002  # seconds
HIT_LENGTH = 1.0  # seconds at most per hit (4 decay times, then a 10 ms fade-out)
FADE = 0.01  # seconds
NOISE_FLOOR = 0.003
PEAK = 0.5


def event_times(scene: Scene, duration: float) -> list[np.ndarray]:
    """Per object, the times (s) at which it crosses a multiple of ``EVENT_STEP`` along its motion."""
    velocity = scene.velocity
    axis = int(np.argmax(np.abs(velocity)))
    travel = float(abs(velocity[axis]))
    sign = float(np.sign(velocity[axis]))
    times = []
    for start in scene.starts[:, axis]:
        progress = start * sign  # position measured in the direction of motion
        first = np.floor(progress / EVENT_STEP + 1e-9) + 1
        crossings = (first + np.arange(int(travel / EVENT_STEP) + 2)) * EVENT_STEP
        crossings = crossings[crossings <= progress + travel]
        times.append((crossings - progress) / travel * duration)
    return times


def hit(sound: Sound, pitch: float, rng: np.random.Generator, limit: int) -> np.ndarray:
    """One sound event: decaying partials (with an optional downward pitch sweep), a noise burst, an echo."""
    length = min(int(min(sound.decay * 4, HIT_LENGTH) * SAMPLE_RATE), limit)
    t = np.arange(length, dtype=np.float64) / SAMPLE_RATE
    phase = 2 * np.pi * pitch * (t + sound.sweep * SWEEP_TIME * (1.0 - np.exp(-t / SWEEP_TIME)))
    amplitudes = np.array([a for _, a in sound.partials])
    tone = sum(a * np.sin(r * phase) for r, a in sound.partials) / amplitudes.sum()
    signal = (1.0 - sound.noise) * tone + sound.noise * rng.uniform(-1.0, 1.0, size=length)
    signal *= np.exp(-t / sound.decay) * (1.0 - np.exp(-t / ATTACK)) * np.clip((t[-1] - t) / FADE, 0.0, 1.0)
    if sound.echo is not None:
        delay, gain = int(sound.echo[0] * SAMPLE_RATE), sound.echo[1]
        if delay < length:
            signal[delay:] += gain * signal[: length - delay]
    return signal


def synthesise(scene: Scene, duration: float, rng: np.random.Generator) -> np.ndarray:
    """The mono track ``(round(duration * SAMPLE_RATE),)`` float32 in [-PEAK, PEAK]."""
    n = round(duration * SAMPLE_RATE)
    sound = CATEGORY_BY_NAME[scene.attributes["category"]].sound
    pitch = sound.f0 * rng.uniform(0.97, 1.03)
    track = NOISE_FLOOR * rng.standard_normal(n)
    for voice, times in enumerate(event_times(scene, duration)):
        template = hit(sound, pitch * VOICE_RATIOS[voice], rng, n) * rng.uniform(0.8, 1.0)
        for onset in np.rint(times * SAMPLE_RATE).astype(int):
            if onset < n:
                span = min(len(template), n - onset)
                track[onset:onset + span] += template[:span]
    track *= PEAK / max(float(np.abs(track).max()), 1e-9)
    return track.astype(np.float32)
