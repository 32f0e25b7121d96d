"""No closed list of modalities: outside each modality's own module, no file under src/languagebind/ names a
registered modality literally (a string constant in its syntax tree equal to a registered name).

What differs between modalities lives in their specs (``languagebind/modalities/<name>.py``) and everything else
asks the registry. The exceptions below are files that describe one fixed data set or a foreign format, each
with the names it may use and why; an exception that is no longer needed fails too, so the list stays tight.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from languagebind.registry import modality_names

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "languagebind"
BUILTIN = ("image", "video", "audio", "depth", "thermal")
VIDAL_MINI = (*BUILTIN, "point", "imu")  # what VIDAL-mini renders per clip (and the nmodal demo trains)

# path under src/languagebind -> (names it may use, why)
EXCEPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # official checkpoint / data tables
    "data/vidal_json.py": (("video", "audio", "depth", "thermal"),
                           "the official VIDAL layouts: annotation-JSON folders and shard member prefixes"),
    # the demo's presets and data (VIDAL-mini renders exactly these modalities)
    "demo/presets.py": (VIDAL_MINI, "the demo's presets: which towers the demo trains"),
    "demo/targets.py": (("point", "imu"), "the demo's acceptance targets of the point-cloud and IMU towers"),
    "demo/data.py": (("video", "depth", "thermal", "image"), "the demo's data: which VIDAL-mini items have keyframes"),
    "data/synthetic/captions.py": (VIDAL_MINI, "VIDAL-mini: what each rendered modality's captions may say"),
    "data/synthetic/generate.py": (VIDAL_MINI, "VIDAL-mini: the files it renders per clip"),
    "data/synthetic/vocab.py": (VIDAL_MINI, "VIDAL-mini: which attributes each rendered modality perceives"),
    "data/synthetic/writer.py": (("video", "audio", "depth", "thermal"), "VIDAL-mini: its manifest fields"),
    "data/synthetic/options.py": (("point", "imu"), "VIDAL-mini: the sensors it renders only when asked"),
    "data/synthetic/item.py": (("point", "imu"), "VIDAL-mini: rendering each clip's optional sensors"),
    # one fixed public data set each
    "evaluation/benchmarks.py": ((*BUILTIN, "point"), "the table of public benchmarks, each of one modality"),
    "evaluation/paired.py": (BUILTIN, "the table of paired public benchmarks (paper Tables 6-7): each pair's towers"),
    "evaluation/readers_paired.py": (BUILTIN, "the paired public layouts: their folder names and each pair's roles"),
    "evaluation/readers_audio.py": (("audio",), "ESC-50's folder named 'audio'"),
    "evaluation/readers_video.py": (("video",), "DiDeMo's JSON field 'video'"),
    # the VIDAL builder: the stages that make one VIDAL modality each (the pack stage asks them for their files)
    "vidal/operators.py": (("audio", "depth", "thermal"), "the builder's stage names"),
    "vidal/stages_media.py": (("audio",), "the audio-track stage"),
    "vidal/depth.py": (("depth",), "the depth-estimation stage"),
    "vidal/thermal.py": (("thermal",), "the infrared-translation stage"),
    # the search service: clip back's API names its `modality` field "image"
    "serve/app.py": (("image",), "clip-retrieval's API: `modality` \"image\" and its default image tower"),
    # foreign formats
    "processing/imu.py": (("imu",), "a conventional array name inside IMU .npz files"),
    "vidal/captions.py": (("image", "video"), "Hugging Face chat-template content types"),
    "vidal/inputs.py": (("video",), "the builder's input manifest column 'video'"),
}


def modality_literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names)


def own_name(relative: str) -> str | None:
    """The modality a module under ``modalities/`` is the spec of (its file name)."""
    parts = relative.split("/")
    return parts[1][:-3] if parts[0] == "modalities" and len(parts) == 2 else None


FILES = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("relative", FILES)
def test_no_file_names_a_modality(relative: str) -> None:
    names = set(modality_names())
    allowed = set(EXCEPTIONS.get(relative, ((), ""))[0])
    own = own_name(relative)
    if own is not None:
        allowed.add(own)
    found = modality_literals(PACKAGE / relative, names)
    bad = [f"line {line}: {name!r}" for line, name in found if name not in allowed]
    assert not bad, (f"{relative} names modalities literally ({', '.join(bad)}); ask languagebind.registry "
                     f"(get_modality / modality_names) or put it in the modality's spec")


def test_exceptions_are_still_needed() -> None:
    names = set(modality_names())
    for relative, (allowed, why) in EXCEPTIONS.items():
        used = {name for _, name in modality_literals(PACKAGE / relative, names)}
        assert set(allowed) <= used, f"{relative} no longer names {sorted(set(allowed) - used)}: narrow EXCEPTIONS"
        assert why


def test_every_builtin_spec_module_registers_its_own_name() -> None:
    from languagebind.registry import get_modality

    for path in sorted((PACKAGE / "modalities").glob("[!_]*.py")):
        assert get_modality(path.stem).source == "built-in", path
