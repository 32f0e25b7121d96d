"""Building ONNX graphs for the ONNX Runtime engine (``ort.py`` runs and caches them).

* ``export_child``: a tower exported from its memory-mapped ``weights.pt`` (and quantised for int8), with the fp32
  output of a fixed probe input; run as ``python -m languagebind.precision.onnx_export`` by ``ort.ensure_export``,
  so the exporter's copies of the weights never reach the caller's process.
* ``quantise``: dynamic int8 for every MatMul with a constant weight except the output projection.
* ``block_runner`` and ``gemm_session``: the small graphs ``auto``'s timing and the benchmark's GEMM rates run.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from languagebind.precision.ort import OPSET, OrtRunner, head_sha256, int8_weight_type, probe_input, versions
from languagebind.utils.io import write_json_atomic


def export_child(spec: dict[str, Any]) -> None:
    """Build the tower from ``weights.pt`` (memory-mapped), export it to ONNX, quantise for int8, and write
    ``meta.json`` with the fp32 probe reference. Runs in its own process (see ``ensure_export``)."""
    from languagebind.model.config import CheckpointConfig
    from languagebind.model.lora import merge_lora
    from languagebind.model.vision import VisionTower

    torch.set_num_threads(int(spec["threads"]))
    out, precision = Path(spec["out"]), spec["precision"]
    config = CheckpointConfig.from_dict(spec["config"])
    with torch.device("meta"):
        tower = VisionTower(config.vision)
    tower.load_state_dict(torch.load(spec["weights"], mmap=True, weights_only=True), assign=True)
    merge_lora(tower)
    tower.eval()
    seed = 0
    probe = probe_input(spec["config"], seed)
    start = time.perf_counter()
    with torch.inference_mode():
        reference = tower(probe)
    fp32_path = out / "export.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(tower, (probe[:1],), str(fp32_path), input_names=["pixels"], output_names=["features"],
                          dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    export_s = time.perf_counter() - start
    del tower
    meta: dict[str, Any] = {"versions": versions(), "precision": precision, "export_s": export_s,
                            "probe": {"pixels_seed": seed, "reference": reference.tolist()}}
    if precision == "int8":
        start = time.perf_counter()
        quantise(fp32_path, out / "int8.onnx", spec["weight_type"])
        fp32_path.unlink()
        fp32_path = out / "int8.onnx"
        meta["quantise_s"], meta["weight_type"] = time.perf_counter() - start, spec["weight_type"]
    external_data(fp32_path, out / "model.onnx")
    meta["files"] = {"model.onnx": {"size": (out / "model.onnx").stat().st_size,
                                    "head_sha256": head_sha256(out / "model.onnx")},
                     "model.onnx.data": {"size": (out / "model.onnx.data").stat().st_size}}
    write_json_atomic(out / "meta.json", meta)


def external_data(source: Path, target: Path) -> None:
    """Re-save ``source`` as ``target`` (the graph) + ``target.data`` (the weights), then remove ``source``: ONNX
    Runtime then reads the weights into its own buffers once (an embedded model is parsed and copied: 1.8 GB
    of session for a 1.2 GB ViT-L, against 1.25 GB)."""
    import onnx

    model = onnx.load(str(source))
    onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=target.name + ".data", size_threshold=1024)
    source.unlink()


def quantise(source: Path, target: Path, weight_type: str) -> None:
    """Dynamic int8 for every MatMul with a constant weight except the output projection (per channel)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    keep = [node.name for node in graph.node if node.op_type == "MatMul" and "projection" in node.name]
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantiser's advice to pre-process, logged on the root logger
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(source), str(target), weight_type=getattr(QuantType, weight_type),
                             per_channel=True, op_types_to_quantize=["MatMul"], nodes_to_exclude=keep)
    finally:
        logging.disable(previous)


def gemm_session(weights: list[np.ndarray], precision: str, workdir: Path, threads: int) -> Any:
    """An ONNX Runtime session of ``y<i> = x<i> @ w<i>`` for each of ``weights`` (all ``(K, N)``) in ``fp32`` or
    ``int8``: what the benchmark's GEMM-rate measurement runs. Distinct weights, so each product reads its weights
    from memory as a forward pass does (not from the cache the previous call left them in), and distinct inputs,
    so int8 quantises each product's activations as the tower does."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k, n = weights[0].shape
    graph = helper.make_graph([helper.make_node("MatMul", [f"x{i}", f"w{i}"], [f"y{i}"], name=f"gemm{i}/MatMul")
                               for i in range(len(weights))], "gemm",
                              [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, ["m", k])
                               for i in range(len(weights))],
                              [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["m", n])
                               for i in range(len(weights))],
                              [numpy_helper.from_array(w.astype(np.float32), f"w{i}") for i, w in enumerate(weights)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    path = workdir / f"gemm-{k}x{n}x{len(weights)}-{precision}.onnx"
    onnx.save(model, str(path))
    if precision == "int8":
        quantise(path, path.with_suffix(".int8.onnx"), int8_weight_type())
        path = path.with_suffix(".int8.onnx")
    return OrtRunner(path, threads).session


def block_runner(block: nn.Module, x: torch.Tensor, precision: str, workdir: Path, weight_type: str | None = None
                 ) -> OrtRunner:
    """One transformer block exported to ``workdir`` and run on ONNX Runtime in ``precision`` (``auto``'s
    timing probe, in its timing process; int8 with ``weight_type``, default the CPU's)."""
    path = workdir / f"block-{precision}.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(block.eval(), (x,), str(path), input_names=["x"], output_names=["y"],
                          opset_version=OPSET, dynamo=False)
    if precision == "int8":
        quantise(path, path.with_suffix(".int8.onnx"), weight_type or int8_weight_type())
        path = path.with_suffix(".int8.onnx")
    return OrtRunner(path)


if __name__ == "__main__":
    export_child(json.loads(sys.argv[1]))
