"""The Video-LLaVA-style example of docs/huggingface.md runs as written."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_the_video_llava_style_example_runs():
    text = (REPO / "docs" / "huggingface.md").read_text()
    section = text.split("### Inside a Video-LLaVA-style model", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {"__name__": "docs_example"}
    exec(compile(code, "docs/huggingface.md", "exec"), namespace)
    assert namespace["inputs"].shape == (2, 16 + 136 + 12, 96)
    assert namespace["projector"].net[0].weight.grad is not None
    assert all(p.grad is None for p in namespace["video_tower"].parameters())  # the towers stay frozen
