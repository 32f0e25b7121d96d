"""Constants shared by the model (config defaults) and the processors, which may not import each other."""

from __future__ import annotations

# Fbank normalisation of the released audio checkpoints: ``(x - AUDIO_MEAN) / (2 * AUDIO_STD)``.
AUDIO_MEAN = -4.2677393
AUDIO_STD = 4.5689974
