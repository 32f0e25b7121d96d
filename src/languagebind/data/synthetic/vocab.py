"""The VIDAL-mini world as data: object categories, attribute values, what each modality perceives, and which
attribute-category combinations are held out of training.

Every category differs in every modality: its silhouette and surface texture (video, image), its relief (depth),
its temperature and heat pattern (thermal) and its sound (audio). Attributes are per clip (all objects of a clip
share them): ``category``, ``colour``, ``size``, ``count``, ``direction``, ``speed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from languagebind.errors import ConfigError


@dataclass(frozen=True)
class Sound:
    """A category's synthesised hit, repeated at every sound event of each object.

    ``f0`` Hz; ``partials`` (frequency ratio, amplitude) pairs; ``decay`` s (exponential envelope); ``sweep``: the
    start pitch is ``1 + sweep`` times ``f0``, gliding down in 30 ms; ``noise``: share of filtered-noise burst;
    ``echo``: (delay s, gain) of a second hit (a heartbeat's "lub-dub"), or None. Every partial of the highest
    voice (x1.5, +3 % jitter) stays below the 8 kHz Nyquist frequency.
    """

    f0: float
    partials: tuple[tuple[float, float], ...]
    decay: float
    sweep: float = 0.0
    noise: float = 0.0
    echo: tuple[float, float] | None = None


@dataclass(frozen=True)
class Category:
    """One object category and how it looks, feels and sounds in every modality.

    ``texture``: surface pattern in the video (``shaded``, ``bevel``, ``stripes``, ``checker``, ``dots``,
    ``rings``, ``flat``); ``relief``: depth profile (``dome``, ``block``, ``cone``); ``distance``: mm from the
    camera, its own band 400 mm from the next category's (depth is separable even where a small silhouette is
    only a few pixels); ``temperature``: °C of its surface, 5 °C from the next category's; ``heat``: where it is
    hottest (``core``, ``rim``, ``even``); ``verb``: what it sounds like doing.
    """

    name: str
    plural: str
    texture: str
    relief: str
    distance: float
    temperature: float
    heat: str
    verb: str
    sound: Sound


CATEGORIES: tuple[Category, ...] = (
    Category("ball", "balls", "shaded", "dome", 1200.0, 42.0, "core", "bouncing",
             Sound(110.0, ((1.0, 1.0), (2.0, 0.3)), 0.09, sweep=0.8, noise=0.1)),
    Category("cube", "cubes", "bevel", "block", 1600.0, 27.0, "even", "knocking",
             Sound(420.0, ((1.0, 0.6), (1.6, 0.4)), 0.035, noise=0.6)),
    Category("star", "stars", "flat", "cone", 2000.0, 57.0, "core", "chiming",
             Sound(1568.0, ((1.0, 1.0), (2.0, 0.5), (3.0, 0.25)), 0.25)),
    Category("ring", "rings", "rings", "dome", 2400.0, 32.0, "even", "ringing",
             Sound(880.0, ((1.0, 1.0), (2.76, 0.5), (5.40, 0.25)), 0.4)),
    Category("triangle", "triangles", "stripes", "cone", 2800.0, 62.0, "rim", "tinkling",
             Sound(3136.0, ((1.0, 1.0), (1.5, 0.4)), 0.12)),
    Category("cross", "crosses", "checker", "block", 3200.0, 22.0, "core", "buzzing",
             Sound(220.0, tuple((float(k), 1.0 / k) for k in range(1, 8)), 0.14)),
    Category("heart", "hearts", "shaded", "dome", 3600.0, 47.0, "rim", "beating",
             Sound(65.0, ((1.0, 1.0), (2.0, 0.4)), 0.07, sweep=0.3, echo=(0.12, 0.7))),
    Category("diamond", "diamonds", "dots", "cone", 4000.0, 0.0, "even", "sparkling",
             Sound(2400.0, ((1.0, 1.0), (1.41, 0.6), (1.73, 0.4)), 0.05, noise=0.3)),
    Category("moon", "moons", "flat", "dome", 4400.0, 37.0, "rim", "humming",
             Sound(330.0, ((1.0, 1.0), (2.0, 0.2)), 0.5)),
    Category("bar", "bars", "bevel", "block", 4800.0, 52.0, "core", "clicking",
             Sound(660.0, tuple((float(k), 1.0 / k) for k in (1, 3, 5, 7)), 0.03)),
)
CATEGORY_BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}

# Colour name -> RGB of the object's paint.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 170, 55),
    "blue": (40, 80, 225),
    "yellow": (240, 215, 35),
    "purple": (145, 55, 200),
    "orange": (245, 135, 25),
}
SIZES: tuple[str, ...] = ("small", "large")
COUNTS: tuple[int, ...] = (1, 2, 3)
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")
SPEEDS: tuple[str, ...] = ("slow", "fast")
ATTRIBUTES: tuple[str, ...] = ("category", "colour", "size", "count", "direction", "speed")
MODALITIES: tuple[str, ...] = ("video", "image", "audio", "depth", "thermal", "point", "imu")

# What each modality can perceive; its captions name these attributes and no others.
PERCEIVES: dict[str, tuple[str, ...]] = {
    "video": ("category", "colour", "size", "count", "direction", "speed"),
    "image": ("category", "colour", "size", "count"),
    "audio": ("category", "count", "speed"),
    "depth": ("category", "size", "count"),
    "thermal": ("category", "size", "count"),
    # a point cloud is centred and scaled to the unit sphere: its shape shows, its size does not
    "point": ("category", "count"),
    # a sensor riding the main object feels how it moves, not what it is or how many ride along
    "imu": ("direction", "speed"),
}

# Attributes whose pairing with the category is held out of train/val/test and only appears in the
# compositional split. ``count`` is perceived by every modality that sees the category, so every compositional
# item is compositional for each of them; colour and direction add held-out pairs for the modalities that see
# them. IMU perceives no category, so no (category, value) pair is new to it.
HELD_OUT_ATTRIBUTES: tuple[str, ...] = ("count", "colour", "direction")


@dataclass(frozen=True)
class Vocabulary:
    """The categories and attribute values one dataset uses (a subset of the built-in ones, in order)."""

    categories: tuple[str, ...]
    colours: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_subset("categories", self.categories, CATEGORY_BY_NAME, minimum=2)
        _check_subset("colours", self.colours, COLOURS, minimum=2)

    def values(self, attribute: str) -> tuple[object, ...]:
        """Every value ``attribute`` can take."""
        table: dict[str, tuple[object, ...]] = {
            "category": self.categories, "colour": self.colours, "size": SIZES, "count": COUNTS,
            "direction": DIRECTIONS, "speed": SPEEDS}
        if attribute not in table:
            raise ConfigError(f"unknown attribute {attribute!r}; known: {', '.join(ATTRIBUTES)}")
        return table[attribute]

    def held_out(self) -> dict[str, dict[str, object]]:
        """``{attribute: {category: held-out value}}``, a fixed rotation (independent of the seed).

        Category ``i`` holds out count ``COUNTS[i % 3]``, colour ``colours[(i + 1) % n]`` and direction
        ``DIRECTIONS[(i + 2) % 4]``: every value is held out for some category and kept for the others.
        """
        table: dict[str, dict[str, object]] = {}
        for attribute, shift in zip(HELD_OUT_ATTRIBUTES, (0, 1, 2), strict=True):
            values = self.values(attribute)
            table[attribute] = {c: values[(i + shift) % len(values)] for i, c in enumerate(self.categories)}
        return table

    def to_dict(self) -> dict[str, list[object]]:
        """The attribute vocabulary as JSON-ready lists."""
        return {a: list(self.values(a)) for a in ATTRIBUTES}


def _check_subset(what: str, chosen: Sequence[str], known: dict[str, object], minimum: int) -> None:
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; known: {', '.join(known)}")
    if len(set(chosen)) != len(chosen) or len(chosen) < minimum:
        raise ConfigError(f"{what} must be at least {minimum} distinct names, got {list(chosen)}")
