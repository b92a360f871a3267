#!/usr/bin/env python3
"""Multiply-accumulates per inference of the model files: an architecture-independent measure
of each stage's work, to carry speed figures from one CPU to another (README, "Performance on
the Pi"). Counts Conv (per group), Gemm/MatMul; other ops are small next to them.

usage: models/macs.py [--models DIR]     (needs: pip install onnx)
"""
import argparse, os
import onnx
from onnx import shape_inference, numpy_helper

def macs(path, input_shape):
    m = onnx.load(path)
    inp = m.graph.input[0]
    for d, v in zip(inp.type.tensor_type.shape.dim, input_shape):
        d.ClearField("dim_param"); d.dim_value = v
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    m = shape_inference.infer_shapes(m)
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input)}
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    total = 0
    for n in m.graph.node:
        if n.op_type == "Conv":
            w = inits.get(n.input[1])
            out = shapes.get(n.output[0])
            if not w or not out or 0 in out:
                continue
            per_out = 1
            for d in w[1:]:
                per_out *= d
            elems = 1
            for d in out:
                elems *= d
            total += elems * per_out
        elif n.op_type in ("Gemm", "MatMul"):
            w = inits.get(n.input[1])
            out = shapes.get(n.output[0])
            if w and out:
                elems = 1
                for d in out:
                    elems *= d
                total += elems * w[0 if n.op_type == "MatMul" else -1]
    return total

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    rows = [("YuNet 320x320", "yunet/yunet_n_320_320.onnx", [1, 3, 320, 320]),
            ("YuNet 384x288", "yunet/yunet_n_320_320.onnx", [1, 3, 288, 384]),
            ("YuNet 640x480", "yunet/yunet_n_320_320.onnx", [1, 3, 480, 640]),
            ("YuNet 640x640", "yunet/yunet_n_320_320.onnx", [1, 3, 640, 640]),
            ("faceplugin MobileFaceNet 112x112", "faceplugin/fr_feature.onnx", [1, 3, 112, 112]),
            ("foamliu MobileFaceNet 112x112", "foamliu/MobileFaceNet.onnx", [1, 3, 112, 112])]
    for name, f, shape in rows:
        print(f"{name:<34} {macs(os.path.join(a.models, f), shape) / 1e6:8.1f} M MACs")
