"""The Hugging Face Hub: checkpoints named by id (in), and the files a published checkpoint carries (out).

In: ``LanguageBind/LanguageBind_Video_FT`` -> a local directory.

One resolution for every entry point (``LanguageBind.from_pretrained``, every ``--checkpoint``, training's
``init``, ``eval``, ``demo``, ``import-official --config``): ``resolve_checkpoint(spec)``.

* A path that exists on disk always wins, even when it is spelled like an id.
* ``ORG/NAME`` (optionally ``ORG/NAME@REVISION``) goes through ``huggingface_hub``: only the files a tower needs
  are fetched, one by one (``config.json``; ``model.safetensors``, else ``pytorch_model.bin``; the CLIP tokenizer
  files), into the standard cache (``cache_dir=``, else ``HF_HUB_CACHE``, else ``HF_HOME/hub``), at
  ``revision`` (default ``main``), with ``token`` (default: ``HF_TOKEN`` or the stored login).
* Offline (``local_files_only=True``, or ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1`` in the environment at
  call time) only the cache is read. Missing there: a ``CheckpointError`` naming the id, the cache looked in, and
  the command that fetches it.

Environment variables are read when a checkpoint is resolved (``huggingface_hub`` reads some only once, when it
is first imported); nothing here changes them.

Out: ``write_hub_files`` puts ``preprocessor_config.json`` and a model card (``README.md`` with ``model-index``
metadata and the numbers we have) beside a saved checkpoint.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from languagebind.errors import CheckpointError, InputError
from languagebind.model.checkpoint import TOKENIZER_FILES, WEIGHT_FILES
from languagebind.model.config import CheckpointConfig
from languagebind.processing import ProcessorConfig
from languagebind.registry import get_modality
from languagebind.utils.io import write_json_atomic, write_text_atomic

CONFIG_FILE = "config.json"
# The CLIP BPE tokenizer reads vocab.json + merges.txt; the two small JSON files keep a directory loadable by
# transformers' CLIPTokenizer. tokenizer.json (the fast tokenizer, 2 MB) is not needed.
HUB_TOKENIZER_FILES = tuple(name for name in TOKENIZER_FILES if name != "tokenizer.json")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubOptions:
    """How ids are resolved: ``cache_dir`` (default ``HF_HUB_CACHE`` / ``HF_HOME/hub``), ``revision`` (branch, tag
    or commit; default ``main``), ``token`` (default: ``HF_TOKEN`` or the stored login), ``local_files_only``
    (default: ``HF_HUB_OFFLINE``)."""

    cache_dir: str | Path | None = None
    revision: str | None = None
    token: str | bool | None = None
    local_files_only: bool | None = None


def is_hub_id(spec: str | Path) -> bool:
    """``ORG/NAME`` or ``ORG/NAME@REVISION`` as the Hub spells repository ids."""
    repo_id, _ = split_revision(str(spec))
    return bool(_ID.match(repo_id)) and ".." not in repo_id and not repo_id.endswith((".git", "."))


def split_revision(spec: str) -> tuple[str, str | None]:
    """``"ORG/NAME@REV"`` -> ``("ORG/NAME", "REV")``; without ``@``: ``(spec, None)``."""
    repo_id, sep, revision = spec.partition("@")
    return (repo_id, revision) if sep and revision else (spec, None)


def offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` as set now (or as ``huggingface_hub`` read them at import)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").upper() in _TRUE:
            return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return False
    return bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The Hub cache used: ``cache_dir``, else ``HF_HUB_CACHE`` (or the legacy ``HUGGINGFACE_HUB_CACHE``), else
    ``HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub`` (default ``~/.cache/huggingface/hub``)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.path.expandvars(os.environ[name])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def resolve_checkpoint(spec: str | Path, options: HubOptions | None = None) -> Path:
    """A checkpoint directory for ``spec``: the path itself when it exists, else the Hub id's cached snapshot
    (downloaded when online). Anything else is returned as a path (the loader then names what is missing)."""
    path = Path(spec).expanduser() if isinstance(spec, (str, Path)) else None
    if path is None:
        raise InputError(spec, "a checkpoint is a directory or a Hub id (ORG/NAME), given as a string or a Path")
    if path.exists() or not is_hub_id(spec):
        return path
    options = options or HubOptions()
    repo_id, pinned = split_revision(str(spec))
    if pinned and options.revision and pinned != options.revision:
        raise InputError(spec, f"names revision {pinned!r} but revision={options.revision!r} was given")
    return download_checkpoint(repo_id, HubOptions(options.cache_dir, pinned or options.revision, options.token,
                                                   options.local_files_only))


def resolve_checkpoints(checkpoints: str | Path | Mapping[str, str | Path],
                        options: HubOptions | None = None) -> str | Path | dict[str, str | Path]:
    """``resolve_checkpoint`` on one spec or on every value of ``{modality: spec}``."""
    if isinstance(checkpoints, Mapping):
        return {m: resolve_checkpoint(spec, options) for m, spec in checkpoints.items()}
    return resolve_checkpoint(checkpoints, options)


def download_checkpoint(repo_id: str, options: HubOptions) -> Path:
    """The snapshot directory of ``repo_id`` holding config, weights (safetensors preferred) and tokenizer files."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = options.local_files_only if options.local_files_only is not None else offline_mode()
    cache = hub_cache_dir(options.cache_dir)
    revision = options.revision

    def fetch(filename: str, at: str | None) -> Path:
        return Path(hf_hub_download(repo_id, filename, revision=at, cache_dir=cache, token=options.token,
                                    local_files_only=offline))

    try:
        try:
            config = fetch(CONFIG_FILE, revision)
        except LocalEntryNotFoundError as err:
            raise CheckpointError(repo_id, _not_cached(repo_id, cache, revision, offline)) from err
        except EntryNotFoundError as err:
            raise CheckpointError(repo_id, f"the Hub repository has no {CONFIG_FILE}"
                                           f"{_at(revision)}: not a model checkpoint") from err
        commit = config.parent.name  # every other file from the same commit, even if the branch moves meanwhile
        weights = None
        for name in WEIGHT_FILES:
            try:
                weights = fetch(name, commit)
                break
            except EntryNotFoundError:
                continue
        if weights is None:
            reason = (f"no weights in the cache ({' or '.join(WEIGHT_FILES)}); " + _fetch_hint(repo_id, cache, revision)
                      if offline else f"the Hub repository has no weights ({' or '.join(WEIGHT_FILES)})")
            raise CheckpointError(repo_id, reason)
        for name in HUB_TOKENIZER_FILES:
            try:
                fetch(name, commit)
            except EntryNotFoundError:
                continue  # optional: the bundled CLIP vocabulary is used without them
    except GatedRepoError as err:
        raise CheckpointError(repo_id, "a gated Hub repository: accept its terms on huggingface.co and pass a token "
                                       "(token= or HF_TOKEN)") from err
    except RepositoryNotFoundError as err:
        raise CheckpointError(repo_id, "no local directory of that name, and no such Hub repository (or it is "
                                       "private: pass a token, token= or HF_TOKEN)") from err
    except RevisionNotFoundError as err:
        raise CheckpointError(repo_id, f"the Hub repository has no revision {revision!r}") from err
    except HfHubHTTPError as err:
        raise CheckpointError(repo_id, f"Hub request failed: {_one_line(err)}") from err
    except OfflineModeIsEnabled as err:  # huggingface_hub was imported with HF_HUB_OFFLINE=1
        raise CheckpointError(repo_id, _not_cached(repo_id, cache, revision, True)) from err
    except OSError as err:
        raise CheckpointError(repo_id, f"cannot use the Hugging Face cache {cache}: {_one_line(err)}") from err
    return config.parent


def _at(revision: str | None) -> str:
    return f" at revision {revision}" if revision else ""


def _not_cached(repo_id: str, cache: Path, revision: str | None, offline: bool) -> str:
    why = ("offline (HF_HUB_OFFLINE=1 or local_files_only=True)" if offline
           else "the Hub could not be reached")
    return (f"no local directory of that name, and not in the Hugging Face cache {cache}{_at(revision)}; {why}. "
            + _fetch_hint(repo_id, cache, revision))


def _fetch_hint(repo_id: str, cache: Path, revision: str | None) -> str:
    command = f"hf download {repo_id}"
    if revision:
        command += f" --revision {revision}"
    if cache != hub_cache_dir(None):
        command += f" --cache-dir {cache}"
    command += "".join(f" --include {pattern}" for pattern in ("'*.json'", "merges.txt", *WEIGHT_FILES))
    return (f"Load it once online (without HF_HUB_OFFLINE), or fetch it with `{command}` (huggingface_hub < 1.0: "
            f"`huggingface-cli download` with the same options), or give a local checkpoint directory")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]


# -- publishing: what the Hub and transformers users expect beside the weights ----------------------------
CARD_MARKER = "<!-- written by languagebind: save_pretrained rewrites this card; delete this line to keep edits -->"
CARD_TASKS = {"classification": "zero-shot-classification", "multilabel": "zero-shot-classification",
              "retrieval": "retrieval"}


@dataclass
class CardInfo:
    """What the model card says beyond the config: ``results`` (``{"task", "dataset", "dataset_type", "metrics":
    {name: value}, "source"}`` each; ``card_results`` reads ``languagebind eval`` files), the ``base_model`` id, a
    ``name`` (default: the directory's) and free ``notes`` (one line each)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    base_model: str | None = None
    name: str | None = None
    notes: list[str] = field(default_factory=list)


def card_results(items: Sequence[str | Path | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``languagebind eval`` results (a ``results.json`` path or its dict) or ready result dicts -> card results."""
    out = []
    for item in items:
        data = item if isinstance(item, Mapping) else _read_json(Path(item))
        if "benchmark" in data:  # a languagebind eval results.json
            metrics = {k: float(v) for k, v in data.get("metrics", {}).items() if isinstance(v, (int, float))}
            limited = f" (limit {data['limit']} of {data.get('n_total')})" if data.get("limit") else ""
            data = {"task": CARD_TASKS.get(str(data.get("task")), str(data.get("task"))),
                    "dataset": f"{data.get('title', data['benchmark'])}{limited}", "dataset_type": data["benchmark"],
                    "metrics": metrics, "source": f"languagebind eval {data['benchmark']}, n={data.get('n')}"}
        if not isinstance(data.get("metrics"), Mapping) or not data.get("dataset"):
            raise InputError(item if isinstance(item, (str, Path)) else "results",
                             "a result needs 'dataset' and 'metrics' (or is a languagebind eval results.json)")
        out.append(dict(data))
    return out


def run_results(run_dir: str | Path) -> list[dict[str, Any]]:
    """The held-out check of a training run (its last ``val_r1_*`` line in ``metrics.jsonl``) as card results."""
    path = Path(run_dir) / "metrics.jsonl"
    last = None
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "val_r1_text_to_item" in row:
                last = row
    if last is None:
        return []
    metrics = {k: float(last[k]) for k in ("val_r1_text_to_item", "val_r1_item_to_text") if k in last}
    return [{"task": "retrieval", "dataset": "held-out pairs of the training data", "dataset_type": "held-out",
             "metrics": metrics, "source": f"training run {Path(run_dir).name}, step {last.get('step')}, "
                                           f"{last.get('val_items')} items"}]


def hub_id_of(directory: str | Path | None) -> str | None:
    """``ORG/NAME`` when ``directory`` is a snapshot in a Hub cache (``models--ORG--NAME/snapshots/<commit>``)."""
    if directory is None:
        return None
    parts = Path(directory).parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--"):].replace("--", "/", 1)
    return None


def preprocessor_config(config: CheckpointConfig) -> dict[str, Any]:
    """``preprocessor_config.json``: our processor's constants under ``"languagebind"``, and for towers of RGB-like
    frames (whose spec keeps the default processor fields: image, thermal, depth, video) the fields transformers'
    ``CLIPImageProcessor`` reads (its resize is PIL's, antialiased: close to, not equal to, the official tensor
    resize; ``preprocess`` is exact)."""
    fields = config.vision.processor_fields()
    processor = ProcessorConfig(**fields)
    data: dict[str, Any] = {"languagebind": {"modality": config.modality, **asdict(processor)}}
    if get_modality(config.modality).processor_fields is None:  # towers of RGB-like frames
        size = processor.image_size
        data.update({"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": size},
                     "resample": 3, "do_center_crop": True, "crop_size": {"height": size, "width": size},
                     "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                     "image_mean": list(processor.mean), "image_std": list(processor.std), "do_convert_rgb": True})
    return data


def write_hub_files(directory: str | Path, config: CheckpointConfig, info: CardInfo | None = None) -> None:
    """Beside a checkpoint's config and weights: ``preprocessor_config.json`` and the model card ``README.md`` (not
    over a README someone edited: without our marker line it is left alone)."""
    directory = Path(directory)
    write_json_atomic(directory / "preprocessor_config.json", preprocessor_config(config))
    card = directory / "README.md"
    if card.is_file() and CARD_MARKER not in card.read_text(errors="replace"):
        return
    write_text_atomic(card, model_card(config, info or CardInfo(), directory))


def model_card(config: CheckpointConfig, info: CardInfo, directory: Path) -> str:
    """The README.md: YAML metadata (``library_name``, tags, ``base_model``, ``model-index`` with the numbers we
    have) and a short text on the tower, its files, loading and publishing."""
    import yaml

    m, vis = config.modality, config.vision
    name = info.name or directory.resolve().name
    results = [{"task": {"type": r.get("task", "feature-extraction"), "name": r.get("task", "feature-extraction")},
                "dataset": {"name": r["dataset"], "type": r.get("dataset_type", r["dataset"])},
                "metrics": [{"type": k, "name": k, "value": round(float(v), 6)} for k, v in r["metrics"].items()]}
               for r in info.results]
    meta: dict[str, Any] = {"library_name": "languagebind",
                            "tags": ["languagebind", m, "multimodal", "feature-extraction", "zero-shot-classification"],
                            "pipeline_tag": "feature-extraction"}
    if info.base_model:
        meta["base_model"] = info.base_model
    meta["model-index"] = [{"name": name, "results": results}]
    t = vis.transformer
    geometry = (f"{vis.image_size[0]}x{vis.image_size[1]} input, patch {vis.patch_size}"
                + (f", {vis.num_frames} frames" + (" (temporal attention)" if vis.temporal else "")
                   if get_modality(m).clip else ""))
    lora = f"LoRA r={vis.lora.r}, alpha={vis.lora.alpha:g} (unmerged)" if vis.lora else "no LoRA adapters"
    lines = [
        "---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", CARD_MARKER, "", f"# {name}", "",
        f"A LanguageBind **{m}** tower bound to a frozen language tower: both embed into one {vis.projection_dim}-d "
        "space (cosine similarity, zero-shot classification, retrieval).", "",
        f"- {m} tower: {t.layers} layers, width {t.width}, {t.heads} heads, {geometry}; {lora}",
        f"- language tower: {_text_summary(config)}", *[f"- {note}" for note in info.notes], "",
        "## Use", "", "```python", "from languagebind import LanguageBind", "",
        f'model = LanguageBind.from_pretrained("ORG/{name}")  # or a local directory',
        f'items = model.encode("{m}", [...])  # (B, {vis.projection_dim}), L2-normalised',
        'text = model.encode("text", ["a dog barking"])',
        f'tokens = model.features("{m}", [...], layer=-2)  # patch tokens for an LLM projector', "```", "",
    ]
    if info.results:
        lines += ["## Results", "", "| dataset | metric | value | source |", "|---|---|---|---|"]
        lines += [f"| {r['dataset']} | {k} | {float(v):.4g} | {r.get('source', '')} |"
                  for r in info.results for k, v in r["metrics"].items()]
        lines.append("")
    lines += ["## Files", "",
              "`config.json`, the weights (`model.safetensors`, or `pytorch_model.bin` in the official format), the "
              "CLIP tokenizer files (`vocab.json`, `merges.txt`, `tokenizer_config.json`, `special_tokens_map.json`) "
              "and `preprocessor_config.json` (the preprocessing constants).", "",
              "Publish with `hf upload ORG/NAME DIR .` (huggingface_hub < 1.0: `huggingface-cli upload ORG/NAME DIR "
              ".`).", ""]
    return "\n".join(lines)


def _text_summary(config: CheckpointConfig) -> str:
    text = config.text
    if text.kind == "hf":
        return f"Hugging Face encoder {text.hf_path} (mean-pooled, {text.projection_dim}-d)"
    t = text.transformer
    return f"CLIP text transformer, {t.layers} layers, width {t.width}, context {text.context_length}"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(path, f"cannot read results JSON ({err})") from err
    if not isinstance(data, dict):
        raise InputError(path, "a results file holds one JSON object")
    return data
