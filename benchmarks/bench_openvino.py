"""OpenVINO on the exported graphs, beside torch and ONNX Runtime (one 256x256 tile, ``--threads``
threads, median of 3 after a warm-up), at fp32 and at OpenVINO's default precision, with the largest
difference to ONNX Runtime. Needs ``pip install openvino`` (not a dependency of hdrfuse); the graphs are
exported into the user cache if missing.

    python benchmarks/bench_openvino.py [--threads 1]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from _common import median_time, print_table


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        import openvino as ov
    except ImportError:
        print("openvino is not installed (pip install openvino); skipped")
        return 0
    import onnxruntime as ort

    from hdrfuse.inference.onnx import HdrGraph, TwoPhaseGraph, cache_dir, load_network, session_for

    torch.set_num_threads(args.threads)
    rows = []
    for method in ("ahdrnet", "twophase"):
        session_for(method)  # the cached graph exists after this
        path = str(next(cache_dir().glob(f"{method}-*.onnx")))
        if method == "ahdrnet":
            inputs = (torch.rand(1, 3, 3, 256, 256), torch.tensor([[-2.0, 0.0, 2.0]]))
            names, part, graph = ["ldr", "ev"], 0, HdrGraph(load_network(method), method).eval()
        else:
            dummy, frame = torch.zeros(1, 3, 8, 8), torch.rand(1, 3, 256, 256)
            inputs = (dummy, dummy, frame, frame, frame)
            names, part = ["unet_under", "unet_over", "under", "inter", "over"], 1
            graph = TwoPhaseGraph(load_network(method)).eval()
        feeds = {k: v.numpy() for k, v in zip(names, inputs)}
        with torch.no_grad():
            t_torch = median_time(lambda: graph(*inputs), 3)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        t_ort = median_time(lambda: session.run(None, feeds), 3)
        reference = session.run(None, feeds)[part]
        row = [method, f"{t_torch:.2f}", f"{t_ort:.2f}"]
        for hint in ("f32", None):
            config = {"INFERENCE_NUM_THREADS": args.threads, **({"INFERENCE_PRECISION_HINT": hint} if hint else {})}
            request = ov.Core().compile_model(path, "CPU", config).create_infer_request()
            t_ov = median_time(lambda: request.infer(feeds), 3)
            diff = float(np.abs(list(request.infer(feeds).values())[part] - reference).max())
            row += [f"{t_ov:.2f}", f"{diff:.1e}"]
        rows.append(row)
    print(f"one 256x256 tile, {args.threads} thread(s), median of 3; OpenVINO {ov.__version__}")
    print_table(["graph", "torch s", "ONNX Runtime s", "OpenVINO fp32 s", "fp32 diff", "OpenVINO default s",
                 "default diff"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
