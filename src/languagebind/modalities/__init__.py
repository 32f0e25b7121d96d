"""The built-in modalities: one module each, registering its ``ModalitySpec`` (see ``languagebind.registry``).

The registry imports this package on its first lookup; a module here imports only the registry (and leaves), and
names the functions that implement it as ``"module:attribute"`` strings that each layer resolves itself.
"""

from languagebind.modalities import audio, depth, image, thermal, video  # registration order = listing order

__all__ = ["audio", "depth", "image", "thermal", "video"]
