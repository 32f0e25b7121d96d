"""LanguageBind: bind video, infrared, depth, audio and images to one frozen language encoder."""

from languagebind.errors import CheckpointError, ConfigError, InputError, LanguageBindError

__all__ = ["CheckpointError", "ConfigError", "InputError", "LanguageBindError"]
__version__ = "0.1.0"
