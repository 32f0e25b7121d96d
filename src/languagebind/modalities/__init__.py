"""The built-in modalities: one module each, registering its ``ModalitySpec`` (see ``languagebind.registry``).

The registry imports this package on its first lookup, and the package imports every module in it (in name
order), so adding a built-in modality is adding one file here. A module imports only the registry (and leaves),
and names the functions that implement it as ``"module:attribute"`` strings that each layer resolves itself.
"""

import importlib
import pkgutil

MODULES = tuple(sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")))
for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
