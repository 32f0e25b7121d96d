"""The HTTP search service: ``languagebind serve --index INDEX --checkpoint modality=DIR ...``.

``ServeConfig`` holds every limit; ``Service`` embeds queries (micro-batched, ``batcher``) and searches an
``IndexStore``; ``create_app`` puts our API, clip-retrieval's ``clip back`` API, the web page (``static/``),
health and Prometheus metrics in front of it (see docs/search.md, "Service").
"""

from languagebind.serve.app import create_app
from languagebind.serve.config import TOKEN_ENV, ServeConfig
from languagebind.serve.service import Service

__all__ = ["TOKEN_ENV", "ServeConfig", "Service", "create_app"]
