"""`languagebind index build|add|info`: vector indexes over embedded collections (``languagebind.index``).

```
languagebind index build --embeddings photos.emb sounds.emb --out search.index [--max-memory 8G]
languagebind index build photos/ --checkpoint image=CKPT --out search.index      # embeds first (resumable)
languagebind index add --embeddings more.emb --out search.index
languagebind index build --embeddings photos.emb --backend qdrant --url http://localhost:6333 --collection photos
languagebind index info search.index
```
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from languagebind.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    for name, text in (("build", "build an index (one per modality) from embedded collections or media folders"),
                       ("add", "add new items to an index (keeps its type; ids of indexed items do not change)")):
        action = sub.add_parser(name, help=text, description=text)
        _add_build_arguments(action)
        action.set_defaults(index_action=name)
    info = sub.add_parser("info", help="what an index holds", description="what an index holds")
    info.add_argument("index", help="index directory (or Qdrant location with --backend qdrant)")
    info.add_argument("--backend", choices=("faiss", "qdrant"), default="faiss")
    info.add_argument("--collection", default="languagebind", help="Qdrant collection")
    info.set_defaults(index_action="info")


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", nargs="+", action="extend", default=[], type=Path, metavar="OUT_DIR",
                        help="output directories of `languagebind embed DIR --out OUT_DIR` (any modalities)")
    parser.add_argument("paths", nargs="*", type=Path, metavar="MEDIA_DIR",
                        help="folders of media files to embed first with the --checkpoint towers (each loaded "
                             "modality takes the files with its extensions); resumable, kept in --embed-dir")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="[MODALITY=]DIR",
                        help="towers for MEDIA_DIR folders (repeat per modality)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--embed-dir", type=Path, help="where MEDIA_DIR embeddings go (default OUT/embeddings)")
    parser.add_argument("--metadata", type=Path, help="JSON lines {\"path\": ..., fields...}: extra fields by path "
                                                      "(e.g. captions), stored and filterable")
    parser.add_argument("--out", type=Path, help="index directory (faiss backend)")
    parser.add_argument("--backend", choices=("faiss", "qdrant"), default="faiss")
    parser.add_argument("--url", help="Qdrant: http(s)://host:port, a local directory, or :memory:")
    parser.add_argument("--collection", default="languagebind", help="Qdrant collection (default languagebind)")
    parser.add_argument("--max-memory", default="8G", help="memory budget for each modality's index (default 8G)")
    parser.add_argument("--index-type", default="auto", choices=("auto", "flat", "hnsw", "ivfpq"))
    parser.add_argument("--exact-limit", type=int, default=1_000_000,
                        help="exact (flat) search up to this many vectors when it fits (default 1000000)")
    parser.add_argument("--target-recall", type=float, default=0.95, help="recall@10 the search tuning aims at")
    parser.add_argument("--threads", type=int, help="faiss threads for this process (default: faiss's)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)


def run(args: argparse.Namespace) -> int:
    if args.index_action == "info":
        return _info(args)
    from languagebind.index import (
        BuildSettings,
        CollectionSource,
        add_to_index,
        build_index,
        parse_bytes,
        read_extra_metadata,
    )

    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)  # a program's choice, made here and not in the library
    if args.backend == "faiss" and args.out is None:
        raise InputError("--out", "the faiss backend needs --out INDEX_DIR")
    if args.backend == "qdrant" and not args.url:
        raise InputError("--url", "the qdrant backend needs --url (http://host:6333, a directory or :memory:)")
    extra, digest = read_extra_metadata(args.metadata) if args.metadata else ({}, "")
    directories = list(args.embeddings) + _embed_media(args)
    if not directories:
        raise InputError("index " + args.index_action, "nothing to index: give --embeddings OUT_DIR... or MEDIA_DIR "
                                                       "folders with --checkpoint")
    sources = [CollectionSource(d, extra, digest) for d in directories]
    log = (lambda line: print(line, file=sys.stderr)) if args.progress is not False else None
    if args.backend == "qdrant":
        from languagebind.index.qdrant_store import upload

        manifest = upload(args.url, sources, args.collection, add=args.index_action == "add", log=log)
        for m, entry in manifest["modalities"].items():
            print(f"{m}: {entry['count']} items in Qdrant collection {args.collection} at {args.url}")
        return 0
    settings = BuildSettings(max_memory=parse_bytes(args.max_memory), exact_limit=args.exact_limit,
                             index_type=args.index_type, target_recall=args.target_recall)
    action = build_index if args.index_action == "build" else add_to_index
    report = action(args.out, sources, settings, log=log)
    print(report.table())
    print(f"{args.out}: version {report.version} in {report.seconds:.1f} s" + (" (resumed)" if report.resumed else ""))
    return 0


def _embed_media(args: argparse.Namespace) -> list[Path]:
    """Embed each MEDIA_DIR with each loaded tower into a resumable collection; their output directories."""
    if not args.paths:
        return []
    if not args.checkpoint:
        raise InputError(str(args.paths[0]), "media folders need --checkpoint MODALITY=DIR towers to embed them")
    from languagebind.cli.common import extensions, load_model
    from languagebind.collection.embed import CollectionSettings, embed_collection, iter_files

    base = args.embed_dir or (args.out / "embeddings" if args.out else None)
    if base is None:
        raise InputError("--embed-dir", "media folders with the qdrant backend need --embed-dir for the embeddings")
    model = load_model(args)
    out = []
    for folder in args.paths:
        if not folder.is_dir():
            raise InputError(folder, "not a directory")
        key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
        for modality in model.modalities:
            if modality == "text":
                continue
            if next(iter_files(folder, extensions(modality)), None) is None:
                continue
            target = base / f"{folder.name}-{key}-{modality}"
            settings = CollectionSettings(modality, extensions(modality), batch_size=args.batch_size)
            summary = embed_collection(model, folder, target, settings, rank=0, world=1, progress=args.progress)
            print(f"embedded {summary.rows} {modality} files of {folder} ({summary.failures} skipped) -> {target}",
                  file=sys.stderr)
            out.append(target)
    if not out:
        raise InputError(str(args.paths[0]), f"no files of the loaded modalities ({', '.join(model.modalities)})")
    return out


def _info(args: argparse.Namespace) -> int:
    from languagebind.index import open_index

    options = {"collection": args.collection} if args.backend == "qdrant" else {}
    with open_index(args.index, backend=args.backend, **options) as store:
        print(json.dumps({"backend": store.backend, "dim": store.dim, "modalities": store.describe(),
                          "fields": {m: store.fields(m) for m in store.modalities}}, indent=2))
    return 0
