"""Zero-shot evaluation: public benchmark layouts, prompts as data files, pure metrics, an embedding cache.

```python
from languagebind.evaluation import evaluate, get_benchmark
result = evaluate(get_benchmark("msrvtt"), "data/msrvtt", model, cache_dir="cache")
result.to_json()["metrics"]["t2v_R@1"]
```
"""

from languagebind.evaluation.benchmarks import BENCHMARKS, Benchmark, get_benchmark, paper_results
from languagebind.evaluation.runner import Encoder, EvalResult, evaluate

__all__ = ["BENCHMARKS", "Benchmark", "Encoder", "EvalResult", "evaluate", "get_benchmark", "paper_results"]
