#!/usr/bin/env python3
"""Side-by-side speed: rolemirror (tract) against ONNX Runtime on the same model files, one thread.

Runs `rolemirror bench --json` and then the same stages in ONNX Runtime (the same YuNet network at
the same letterboxed input size -- the fixed 320x320 file at 320, the dynamic export of the same
network at other sizes, since ONNX Runtime enforces the declared input shape -- alignment with
OpenCV's warpAffine, embedder on the aligned crop), in one run on one machine, and prints both
with their ratio. ORT's detect column is the network alone; ours includes decoding and NMS. Needs: pip install onnxruntime
opencv-python-headless numpy. Not part of CI (timings are measurements, not tests).

usage: models/ort_compare.py [--image FILE] [--runs N] [--binary target/release/rolemirror]
"""
import argparse, json, os, statistics, subprocess, sys, time
import numpy as np, cv2, onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ARC = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])

def session(path):
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])

def median_ms(f, runs):
    for _ in range(2): f()
    t = []
    for _ in range(runs):
        s = time.perf_counter(); f(); t.append((time.perf_counter() - s) * 1000)
    return statistics.median(t)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default="demo/visitors/img2.jpg")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--binary", default="target/release/rolemirror")
    ap.add_argument("--models", default=os.path.join(HERE))
    ap.add_argument("--detector-input", default="640x640")
    ap.add_argument("--mirror", default="../shared/models", help="where yunet_n_dynamic.onnx is (not in our manifest)")
    a = ap.parse_args()
    rows = {}
    for emb, ort_file in [("faceplugin-mfn512-int8", "faceplugin/fr_feature.int8.onnx"), ("faceplugin-mfn512", "faceplugin/fr_feature.onnx"),
                          ("foamliu-mfn128", "foamliu/MobileFaceNet.onnx")]:
        out = subprocess.run([a.binary, "--models", a.models, "--embedder", emb, "--detector-input", a.detector_input, "bench", "--json", "--runs", str(a.runs), "--image", a.image],
                             check=True, capture_output=True, text=True).stdout
        rows[emb] = (json.loads(out)["median_ms"], ort_file)
    img = cv2.imread(a.image)
    h, w = img.shape[:2]
    dw, dh = (int(v) for v in a.detector_input.split("x")); s = min(1.0, dw / w, dh / h)
    det_file = "yunet/yunet_n_320_320.onnx" if (dw, dh) == (320, 320) else "yunet/yunet_n_dynamic.onnx"
    det = session(os.path.join(a.models if det_file.endswith("320.onnx") else a.mirror, det_file))
    def detect():
        im = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((dh, dw, 3), np.float32); canvas[:im.shape[0], :im.shape[1]] = im
        return det.run(None, {"input": canvas.transpose(2, 0, 1)[None]})
    det_ms = median_ms(detect, a.runs)
    # landmarks for alignment timing: any plausible face geometry in the image centre
    lm = ARC * (min(h, w) / 200) + np.array([w / 2 - 56 * min(h, w) / 200, h / 2 - 56 * min(h, w) / 200])
    M = cv2.estimateAffinePartial2D(lm, ARC)[0]
    align_ms = median_ms(lambda: cv2.warpAffine(img, M, (112, 112), flags=cv2.INTER_LINEAR), a.runs)
    crop = cv2.warpAffine(img, M, (112, 112)).astype(np.float32)
    print(f"{'embedder':<24} {'stage':<8} {'tract ms':>9} {'ORT ms':>8} {'ratio':>6}")
    for emb, (t, f) in rows.items():
        es = session(os.path.join(a.models, f))
        x = ((crop - 127.5) / 128).transpose(2, 0, 1)[None].astype(np.float32)
        name = es.get_inputs()[0].name
        emb_ms = median_ms(lambda: es.run(None, {name: x}), a.runs)
        ours = t["detect"] + t["align"] + t["embed"]; theirs = det_ms + align_ms + emb_ms
        for stage, o, r in [("detect", t["detect"], det_ms), ("align", t["align"], align_ms), ("embed", t["embed"], emb_ms), ("d+a+e", ours, theirs)]:
            print(f"{emb:<24} {stage:<8} {o:>9.2f} {r:>8.2f} {o / r:>6.2f}")
    print(f"detector input {a.detector_input}; ORT detector file {det_file}", file=sys.stderr)

if __name__ == "__main__":
    main()
