"""LanguageBind: bind video, infrared, depth, audio, images and any registered modality to one frozen language
encoder (``register_modality``: see docs/adding-a-modality.md)."""

from __future__ import annotations

from typing import Any

from languagebind.errors import CheckpointError, ConfigError, InputError, LanguageBindError
from languagebind.registry import ModalitySpec, get_modality, modality_names, register_modality

__all__ = ["CheckpointError", "ConfigError", "InputError", "LanguageBind", "LanguageBindError", "ModalitySpec",
           "get_modality", "modality_names", "register_modality"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import languagebind.errors` (and `languagebind --help`) stay light.
    if name == "LanguageBind":
        from languagebind.api import LanguageBind

        return LanguageBind
    raise AttributeError(f"module 'languagebind' has no attribute {name!r}")
