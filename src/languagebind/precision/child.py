"""Running one precision job in a child Python process: the ONNX export (``ort``) and ``auto``'s timing probes.

A job that loads libraries or builds throw-away models (the exporter's copies of the weights, the probe blocks,
their ONNX graphs and ONNX Runtime sessions) runs there, so none of its memory ever reaches the caller's process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[2])  # the directory holding the languagebind package
NOTICE_PREFIX = "languagebind: "  # the child's one-line notices are passed on to the caller's stderr


class ChildError(RuntimeError):
    """The child process failed; the message is its last line of stderr."""


def run_child(module: str, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """``python -m module <spec as JSON>`` with this languagebind importable; raises ``ChildError`` when it fails.
    The child's notices (lines starting with ``languagebind: ``) are printed to this process's stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", module, json.dumps(spec)], capture_output=True, text=True, env=env)
    for line in proc.stderr.splitlines():
        if line.startswith(NOTICE_PREFIX):
            print(line, file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise ChildError((proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1])
    return proc
