"""`languagebind serve`: search an index over HTTP (our API, clip-retrieval's API, a web page at ``/``).

Secure by default: binds 127.0.0.1, no CORS, no server-side URL fetch, a per-client rate limit and caps on
every input. ``--token`` (or ``LANGUAGEBIND_TOKEN``) makes every request but the page and ``/healthz`` carry
``Authorization: Bearer <token>``; set one before binding another address.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from languagebind.cli.common import add_model_arguments, load_model
from languagebind.errors import InputError

if TYPE_CHECKING:
    from languagebind.serve import ServeConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=None, help="index directory (languagebind index build)")
    parser.add_argument("--backend", default="faiss", choices=("faiss", "qdrant"), help="index backend (default faiss)")
    parser.add_argument("--url", default=None,
                        help="Qdrant: http(s)://host:port, a local directory or :memory: (as for index build)")
    parser.add_argument("--collection", default=None, help="Qdrant collection (default: languagebind)")
    add_model_arguments(parser)
    parser.set_defaults(batch_size=16)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--token", default=None,
                        help="bearer token required on every request (default: $LANGUAGEBIND_TOKEN, else none)")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="allow browser calls from this origin (repeat; default: CORS off)")
    parser.add_argument("--allow-url-host", action="append", default=[], metavar="HOST",
                        help="host (or host:port) that image_url / url queries may fetch from (repeat; "
                             "default: no server-side URL fetch)")
    parser.add_argument("--media-root", action="append", default=[], metavar="DIR",
                        help="folder the index's item paths are relative to (the collection's root; repeat): "
                             "previews on the page and search-by-result read files only under it")
    parser.add_argument("--max-wait-ms", type=float, default=5.0,
                        help="micro-batching: wait this long for more requests (default 5; --batch-size is the "
                             "largest batch, 1 turns batching off)")
    parser.add_argument("--queue-size", type=int, default=64, help="requests waiting per tower before 503")
    parser.add_argument("--rate-limit", type=float, default=50.0,
                        help="requests per second per client on average (default 50; 0: no limit)")
    parser.add_argument("--rate-burst", type=int, default=200, help="burst size of the rate limit (default 200)")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per request before 504")
    parser.add_argument("--max-request-mb", type=float, default=25.0, help="largest request body in MiB")
    parser.add_argument("--max-k", type=int, default=1000, help="most results per target modality")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_config(args: argparse.Namespace) -> ServeConfig:
    from languagebind.serve import TOKEN_ENV, ServeConfig

    return ServeConfig(
        host=args.host, port=args.port, token=args.token or os.environ.get(TOKEN_ENV) or None,
        cors_origins=tuple(args.cors_origin), allow_url_hosts=tuple(args.allow_url_host),
        media_roots=tuple(str(Path(d).resolve()) for d in args.media_root),
        max_request_bytes=int(args.max_request_mb * 1024 * 1024), max_k=args.max_k,
        request_timeout=args.request_timeout, rate_limit=args.rate_limit, rate_burst=args.rate_burst,
        max_batch=args.batch_size, max_wait_ms=args.max_wait_ms, queue_size=args.queue_size)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from languagebind.index import open_index
    from languagebind.serve import Service, create_app

    config = build_config(args)
    if not _loopback(config.host) and config.token is None:
        print(f"languagebind serve: warning: binding {config.host} without --token: anyone who can reach this "
              "address can query the index", file=sys.stderr)
    if args.backend == "qdrant":
        location = args.url or args.index
        options = {"collection": args.collection} if args.collection else {}
    else:
        location, options = args.index, {}
    if not location:
        raise InputError("--index", "name the index: --index DIR (faiss) or --backend qdrant --url URL")
    store = open_index(location, backend=args.backend, **options)
    model = load_model(args)
    service = Service(model, store, config)
    app = create_app(service)
    counts = ", ".join(f"{m} {store.count(m)}" for m in store.modalities)
    print(f"languagebind serve: {counts}; towers: {', '.join(service.towers)}; "
          f"http://{config.host}:{config.port}/", file=sys.stderr)
    try:
        uvicorn.run(app, host=config.host, port=config.port, log_level=args.log_level, proxy_headers=False,
                    server_header=False, timeout_graceful_shutdown=int(config.request_timeout),
                    limit_concurrency=max(64, 4 * config.queue_size))
    finally:
        store.close()
    return 0
