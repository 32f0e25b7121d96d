"""Checkpoints named by Hugging Face Hub id: ``LanguageBind/LanguageBind_Video_FT`` -> a local directory.

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from languagebind.errors import CheckpointError, InputError
from languagebind.model.checkpoint import TOKENIZER_FILES, WEIGHT_FILES

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
    except OSError as err:
        raise CheckpointError(repo_id, f"cannot write the Hugging Face cache {cache}: {_one_line(err)}") from err
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
