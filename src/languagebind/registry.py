"""The modality registry: one declared ``ModalitySpec`` per modality, looked up by name.

Everything that differs between modalities lives in its spec; every other module asks the registry
(``get_modality(name)``, ``modality_names()``) instead of naming a modality. The registry is a leaf: it imports
nothing of ``languagebind`` but ``errors``. Built-in modalities are one module each under
``languagebind/modalities/`` (imported on the first lookup); third-party ones come from plug-ins.

Registering a modality (a built-in module, or a plug-in package)::

    from languagebind.registry import ModalitySpec, register_modality

    register_modality(ModalitySpec(
        name="sonar",
        extensions=(".npy",),
        loader=load_sonar,                  # (item, ProcessorConfig) -> float32 tensor of item_shape(config)
        item_shape=sonar_shape,             # ProcessorConfig -> shape of one preprocessed item
        tokens=PingPatches,                 # nn.Module class built as cls(VisionConfig); see below
        token_geometry="1-D patches of 16 samples",
        start="scratch",
        tiny={"patch_size": 16, "options": {"length": 256}},  # VisionConfig fields of random:tiny
        templates=("a sonar echo of a {}.",),
        letter="s",
    ))

A plug-in package makes the call at import and is found in one of three ways: an entry point in the
``languagebind.modalities`` group (``[project.entry-points."languagebind.modalities"] sonar = "my_pkg.sonar"``;
the target may be a module that registers on import, a ``ModalitySpec``, a list of them, or a callable returning
either), the ``languagebind --plugin my_pkg.sonar`` option of the command line, or an explicit
``import my_pkg.sonar`` before use. ``docs/adding-a-modality.md`` is the whole recipe.

Hooks (``loader``, ``item_shape``, ``tokens``, ``augment``, ``processor_fields``, ``preview``) are either the
object itself or a ``"package.module:attribute"`` string resolved on first use (``resolve``): built-in specs use
strings, so this leaf never imports the layers that implement them and each layer resolves only its own hooks.

The token module (``tokens``): ``cls(vision_config)`` is an ``nn.Module`` whose ``forward(batch)`` returns
``(tokens, frames)``: tokens ``(B * frames, N + 1, D)`` including a CLS token first and the position embeddings
already added, ``frames`` the number of frames per item (1 for still items) the temporal layers and the pooling
see. The default is ``PATCHES`` (``languagebind.model.vision.PatchEmbed``: 2-D patches per frame, or 3-D tubes
when the tower's ``tube_size`` >= 1), whose geometry ``VisionConfig`` checks; another token module checks its own.
At random initialisation, convolutions and linear layers get CLIP-style weights and parameters named
``class_embedding`` / ``position_embedding`` those of ``PatchEmbed``; a token module may define
``init_weights(generator)`` to fill its own parameters after that.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import metadata
from types import MappingProxyType
from typing import Any

from languagebind.errors import ConfigError

ENTRY_POINT_GROUP = "languagebind.modalities"
BUILTIN_PACKAGE = "languagebind.modalities"
BUILTIN = "built-in"
PATCHES = "languagebind.model.vision:PatchEmbed"
STARTS = ("clip", "scratch")
IN_MEMORY = ("picture", "array")  # or "tower:<name>"
PREVIEWS = ("thumbnail", "frames", "spectrogram", "heatmap", "channel", "waveform", "points")
Ref = str | Callable[..., Any]


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class ModalitySpec:
    """Everything that differs between modalities (one frozen object per modality).

    Attributes:
        name: the modality's name (manifest field, ``--modality``, tower key); lower case, no ``=`` or ``,``.
        extensions: file endings (lower case, with the dot) of its files, looked for under directories.
        also_reads: further endings its loader decodes when handed such a file, not looked for under directories
            (the sound track of a movie); the search service accepts uploads of both.
        guess_for: endings for which this modality is the first guess when an item's modality is not named (the
            search service's and page's uploads): ``(".png",)``, or ``("*",)`` for all its ``extensions``. When
            several loaded towers read a file and none claims it, the caller must name the modality.
        loader: decode + preprocess one item (a path or an in-memory object): ``(item, ProcessorConfig) -> Tensor``.
        item_shape: ``ProcessorConfig -> tuple`` the shape of one preprocessed item (the tower's input minus B).
        tokens: the token module class (see the module docstring); default ``PATCHES``.
        token_geometry: how an item becomes tokens, in words (``languagebind modalities`` shows it).
        clip: items are clips of frames ``(C, T, ...)``: a list of files in a record is one item (its frames), the
            tower's temporal layers see them; otherwise a list of files is alternative frames, one drawn per sample.
        start: how a tower starts when training from a CLIP-like checkpoint: ``"clip"`` (from the CLIP image tower,
            the official recipe), ``"tower:NAME"`` (from a trained tower of modality NAME), or ``"scratch"``.
        model_type: the official ``config.json`` ``model_type`` (released checkpoints), or None.
        templates: zero-shot prompt templates, each with one ``{}`` for the class name.
        augment: training augmentation ``(item, ProcessorConfig, AugmentConfig, rng) -> Tensor``; None: the loader.
        flip: a preprocessed item may be flipped horizontally (last axis) as a training augmentation.
        in_memory: in-memory forms the loader accepts besides paths, so shard members need no temporary file:
            ``"picture"`` (a PIL image), ``"array"`` (a numpy array of a ``.npy`` member). Others get a temp file.
        letter: the letter in retrieval metric names (``t2v_R@1``); default the name's first letter.
        preview: how an item is previewed in reports and on the search page: one of ``PREVIEWS`` (``"thumbnail"``
            a picture, ``"frames"`` a movie's frames, ``"spectrogram"`` a sound, ``"heatmap"`` / ``"channel"`` a
            false-coloured map / grey channel, ``"waveform"`` channels over time, ``"points"`` a 3-D scatter), or
            ``(preprocessed item array) -> (H, W, 3) uint8 array``.
        tiny: ``VisionConfig`` fields of the tiny test tower (``random:tiny``) besides the shared defaults.
        released: ``VisionConfig`` geometry of the full-size towers (``random:vit_*``, released checkpoints).
        clip_fields: official ``vision_config`` fields for a tower made from a plain CLIP checkpoint.
        processor_fields: ``VisionConfig -> dict`` of ``ProcessorConfig`` fields the tower fixes; None: the
            image rule (``image_size`` = the tower's first side, plus frames, depth and audio constants, options).
        description: one line for listings.
        source: ``"built-in"`` or the plug-in that registered it (set by ``register_modality``).
    """

    name: str
    extensions: tuple[str, ...]
    loader: Ref
    item_shape: Ref
    tokens: Ref = PATCHES
    token_geometry: str = "2-D patches"
    clip: bool = False
    start: str = "clip"
    model_type: str | None = None
    templates: tuple[str, ...] = ("a photo of a {}.",)
    augment: Ref | None = None
    flip: bool = False
    in_memory: tuple[str, ...] = ()
    letter: str = ""
    preview: Ref = "thumbnail"
    also_reads: tuple[str, ...] = ()
    guess_for: tuple[str, ...] = ()
    tiny: Mapping[str, Any] = field(default_factory=dict)
    released: Mapping[str, Any] = field(default_factory=dict)
    clip_fields: Mapping[str, Any] = field(default_factory=dict)
    processor_fields: Ref | None = None
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier() or self.name != self.name.lower() or self.name == "text":
            raise ConfigError(f"modality name {self.name!r}: use a lower-case identifier other than 'text'")
        for name in ("extensions", "also_reads", "guess_for"):
            endings = tuple(e.lower() for e in getattr(self, name))
            object.__setattr__(self, name, endings)
            for ext in endings:
                if not ext.startswith(".") and not (name == "guess_for" and ext == "*"):
                    raise ConfigError(f"modality {self.name}: {name} {ext!r} must start with a dot")
        if self.preview_kind is not None and self.preview_kind not in PREVIEWS:
            raise ConfigError(f"modality {self.name}: preview {self.preview!r}; use one of {', '.join(PREVIEWS)} "
                              "or a function")
        if self.start not in STARTS and not self.start.startswith("tower:"):
            raise ConfigError(f"modality {self.name}: start {self.start!r}; use clip, scratch or tower:NAME")
        if not self.templates or any(t.count("{}") != 1 for t in self.templates):
            raise ConfigError(f"modality {self.name}: every template needs exactly one '{{}}'")
        object.__setattr__(self, "templates", tuple(self.templates))
        unknown = set(self.in_memory) - set(IN_MEMORY)
        if unknown:
            raise ConfigError(f"modality {self.name}: in_memory {sorted(unknown)}; known: {', '.join(IN_MEMORY)}")
        if not self.letter:
            object.__setattr__(self, "letter", self.name[0])
        for name in ("tiny", "released", "clip_fields"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled (worker processes) and deep-copied (``copy.deepcopy`` of a model) as its fields, the frozen
        mappings as plain dicts: ``MappingProxyType`` itself cannot be pickled."""
        return _rebuild_spec, (self.__class__, {f.name: dict(v) if isinstance(v, MappingProxyType) else v
                                                for f in fields(self) for v in [getattr(self, f.name)]})

    @property
    def preview_kind(self) -> str | None:
        """The named kind of ``preview`` (one of ``PREVIEWS``), or None when it is a function (or its
        ``"module:attribute"``)."""
        named = isinstance(self.preview, str) and ":" not in self.preview
        return self.preview if named else None  # type: ignore[return-value]

    def resolve(self, hook: str) -> Any:
        """The object behind a hook (``"loader"``, ``"tokens"``, ...), importing a ``"module:attribute"`` string."""
        value = getattr(self, hook)
        if not isinstance(value, str) or (hook == "preview" and self.preview_kind is not None):
            return value
        module, _, attribute = value.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"modality {self.name}: its {hook} {value!r} cannot be imported ({err})") from err


_SPECS: dict[str, ModalitySpec] = {}
_LOCK = threading.RLock()
# loaded: built-ins and entry points imported; loader: the thread importing them; loading: the plug-in being imported
_STATE: dict[str, Any] = {"loaded": False, "loader": None, "loading": ""}
_FAILED_PLUGINS: dict[str, str] = {}


def _rebuild_spec(cls: type[ModalitySpec], values: dict[str, Any]) -> ModalitySpec:
    return cls(**values)


def register_modality(spec: ModalitySpec, source: str | None = None, replace_existing: bool = False) -> ModalitySpec:
    """Register ``spec`` under its name; ``source`` says where it came from (default: the spec's own ``source``,
    else ``"plug-in <module of its loader>"``; the built-in modules pass ``BUILTIN``).

    Registering the same name twice is an error unless the spec is equal (module re-import) or
    ``replace_existing`` is set."""
    if not isinstance(spec, ModalitySpec):
        raise ConfigError(f"register_modality expects a ModalitySpec, got {type(spec).__name__}")
    if source is None and not spec.source:
        loader = spec.loader
        source = _STATE["loading"] or (f"plug-in {loader.__module__}" if callable(loader) else "plug-in")
    if source is not None:
        spec = replace(spec, source=source)
    with _LOCK:
        old = _SPECS.get(spec.name)
        if old is not None and replace(old, source=spec.source) == spec and not replace_existing:
            return old  # the same spec again (a module imported twice, or by entry point after --plugin)
        if old is not None and not replace_existing:
            raise ConfigError(f"modality {spec.name!r} is already registered (from {old.source})")
        _SPECS[spec.name] = spec
    return spec


def unregister_modality(name: str) -> None:
    """Forget a registered modality (tests of plug-ins clean up with it)."""
    with _LOCK:
        _SPECS.pop(name, None)


def _ensure_loaded() -> None:
    """Import the built-in modalities and the entry-point plug-ins once; other threads wait until it is done."""
    if _STATE["loaded"]:
        return
    with _LOCK:
        if _STATE["loaded"] or _STATE["loader"] == threading.get_ident():  # done, or re-entered while loading
            return
        _STATE["loader"] = threading.get_ident()
        try:
            importlib.import_module(BUILTIN_PACKAGE)
            for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
                load_entry_point(entry)
        finally:
            _STATE["loader"] = None
            _STATE["loaded"] = True


def load_entry_point(entry: metadata.EntryPoint) -> None:
    """Register the spec(s) an entry point names; a broken plug-in is remembered (``plugin_errors``), not fatal."""
    source = f"plug-in {entry.dist.name if entry.dist else entry.value}"
    _STATE["loading"] = source
    try:
        target = entry.load()
        _register_all(target() if callable(target) and not isinstance(target, type) else target, source)
    except Exception as err:  # a third party's bug must not break the built-in modalities
        _FAILED_PLUGINS[entry.value] = f"{type(err).__name__}: {err}"
    finally:
        _STATE["loading"] = ""


def _register_all(target: Any, source: str) -> None:
    if isinstance(target, ModalitySpec):
        register_modality(target, source)
    elif isinstance(target, Iterable) and not isinstance(target, (str, bytes)):
        for spec in target:
            register_modality(spec, source)
    # a module: it registered its specs when imported


def load_plugin(module: str) -> list[str]:
    """Import a plug-in module (``--plugin``); returns the modality names it added."""
    _ensure_loaded()
    before = set(_SPECS)
    try:
        imported = importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f"plug-in {module!r} cannot be imported ({err})") from err
    spec = getattr(imported, "SPEC", None)
    if isinstance(spec, ModalitySpec) and spec.name not in _SPECS:
        register_modality(spec, f"plug-in {module}")
    return sorted(set(_SPECS) - before)


def plugin_errors() -> dict[str, str]:
    """Entry points that failed to load: ``{entry point: reason}``."""
    _ensure_loaded()
    return dict(_FAILED_PLUGINS)


def get_modality(name: str) -> ModalitySpec:
    """The spec of a registered modality; ``ConfigError`` naming the known ones otherwise."""
    _ensure_loaded()
    spec = _SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown modality {name!r}; known: {', '.join(modality_names())} (a plug-in's modality "
                          f"needs its package installed, or `languagebind --plugin MODULE`)")
    return spec


def is_modality(name: object) -> bool:
    _ensure_loaded()
    return isinstance(name, str) and name in _SPECS


def modality_names() -> tuple[str, ...]:
    """Registered modality names, built-in first (in their order), then plug-ins by name."""
    _ensure_loaded()
    specs = list(_SPECS.values())
    return tuple([s.name for s in specs if s.source == BUILTIN] +
                 sorted(s.name for s in specs if s.source != BUILTIN))


def modalities() -> tuple[ModalitySpec, ...]:
    return tuple(get_modality(n) for n in modality_names())


def by_model_type(model_type: object) -> ModalitySpec | None:
    """The modality whose official checkpoints have ``model_type``, or None."""
    return next((s for s in modalities() if s.model_type is not None and s.model_type == model_type), None)


def with_extension(suffix: str) -> tuple[str, ...]:
    """Modalities whose files may end with ``suffix``."""
    suffix = suffix.lower()
    return tuple(s.name for s in modalities() if suffix in s.extensions)


def guess_modality(suffix: str, among: Iterable[str]) -> tuple[str | None, tuple[str, ...]]:
    """Which of the modalities ``among`` reads a file ending with ``suffix``: ``(guess, readers)``.

    ``readers`` are those whose ``extensions`` or ``also_reads`` have the ending; ``guess`` is the only reader, or
    the only reader whose ``guess_for`` claims the ending, else ``None`` (nobody reads it, or the caller must say)."""
    suffix = suffix.lower()
    specs = [get_modality(name) for name in among]
    readers = tuple(s.name for s in specs if suffix in s.extensions or suffix in s.also_reads)
    if len(readers) == 1:
        return readers[0], readers
    claims = [s.name for s in specs if s.name in readers
              and (suffix in s.guess_for or ("*" in s.guess_for and suffix in s.extensions))]
    return (claims[0] if len(claims) == 1 else None), readers
