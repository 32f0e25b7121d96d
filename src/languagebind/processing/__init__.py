"""Deterministic preprocessing: CLIP tokenizer and one processor per registered modality (official numerics).

```python
tok = CLIPTokenizer.from_dir(checkpoint_dir_or_None)
tok(["a dog"])                                    # {"input_ids": (B, 77), "attention_mask": (B, 77)} int64
build_processor("video", ProcessorConfig())(["a.mp4"])   # (B, 3, 8, 224, 224) float32
```
"""

from languagebind.processing.constants import OPENAI_MEAN, OPENAI_STD, ProcessorConfig
from languagebind.processing.processor import Processor, build_processor
from languagebind.processing.tokenizer import CLIPTokenizer

__all__ = ["OPENAI_MEAN", "OPENAI_STD", "CLIPTokenizer", "Processor", "ProcessorConfig",
           "build_processor"]
