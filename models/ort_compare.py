#!/usr/bin/env python3
"""Side by side, in one run: rolemirror (tract) against ONNX Runtime doing the same job on the
same model files, one thread each, interleaved in rounds, medians.

What is compared (per detector input size, on the photo as a 640x480 camera frame, as the booth
sees it):

  embed        aligned 112x112 crop -> identity embedding + appearance vector (preprocess,
               network, normalise): tract `median_ms.embed` against ORT + numpy
  embed.net    the embedder network alone: tract `stages_ms.embed.network` against session.run
  detect.net   the detector network alone at the booth's input: tract
               `efficiency.detector.network_ms` against session.run on the same blob
  full         a full-frame detection frame: resize/letterbox, YuNet, decode, NMS, align the
               largest face: tract `booth.frames_ms.full` against ORT + numpy + OpenCV
  full+embed   full-frame detect + align + embed on every frame, the naive pipeline:
               tract `booth.frames_ms.full_embedding` against the same in ORT
  booth        the booth's frame while a visitor is tracked and embedded: tract's tracker on the
               region around the face (192x192) + align + embed (`booth.frames_ms.embedding`),
               against ORT's naive full-frame detect+align+embed at the same detector size
  steady       the booth's vision worker over a whole 150-frame visit (`booth.steady.mean_ms`:
               the daemon's FrameAnalyser and state machine, full-frame detection every 5th
               frame, the tracker between, embeddings until the match is decided), mean ms per
               frame, against ORT's naive full-frame detect+align+embed on every frame

Compute efficiency: each network's multiply-accumulates (counted by rolemirror from the graph,
`efficiency.{detector,embedder}.macs`) per second of its network time, as a share of one core's
fp32 FMA peak, measured by `rolemirror bench`'s microbenchmark in the same rounds
(`efficiency.peak_gfma`), for tract and for ONNX Runtime at its best level.

ONNX Runtime runs every model at each graph-optimisation level (DISABLE, BASIC, EXTENDED, ALL),
and each model's fastest level counts (the project's rule: compare with ORT at its best). Its
detector is the same YuNet file tract loads (yunet_n_320_320.onnx) with only the stored shape
annotations changed to the input size (ONNX Runtime enforces declared shapes; the network is
fully convolutional). Each round runs `rolemirror bench --json` once per size and the ORT
pipelines the same number of times, alternating which goes first; the figures are medians over
all rounds' samples.

Clock: `--clock cpu` (default) times each side's own thread CPU time (tract: CLOCK_THREAD_CPUTIME_ID
via ROLEMIRROR_BENCH_CLOCK=cpu; ORT: time.thread_time(), ORT with one intra-op thread runs on
the calling thread, which the script checks), so other processes on a shared machine do not
count; `--clock wall` uses wall time on both sides.

Needs (not project dependencies): pip install onnxruntime onnx opencv-python-headless numpy.
Not part of CI (timings are measurements, not tests).

usage: models/ort_compare.py [--image FILE] [--rounds 7] [--runs 15] [--sizes 640x480,384x288]
                             [--embedder faceplugin-mfn512-int8] [--clock cpu|wall] [--json]
                             [--binary target/release/rolemirror] [--threads N (with --clock wall)]
"""
import argparse, json, os, statistics, subprocess, sys, time

import cv2
import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ARC = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float64)
LEVELS = {
    "DISABLE": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "BASIC": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "EXTENDED": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "ALL": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
EMBEDDERS = {  # manifest id -> (file, preprocess: colour order, mean, std, appearance tensor)
    "faceplugin-mfn512-int8": ("faceplugin/fr_feature.int8.onnx", "bgr", 127.5, 128.0, "503"),
    "faceplugin-mfn512": ("faceplugin/fr_feature.onnx", "bgr", 127.5, 128.0, "503"),
}


THREADS = 1  # --threads: intra-op threads for ORT, `--threads` for rolemirror bench


def session(model, level):
    o = ort.SessionOptions()
    o.intra_op_num_threads = THREADS
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = LEVELS[level]
    return ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])


def yunet_at(path, w, h):
    """The YuNet file with its declared input shape set to 1x3xhxw and stored shapes dropped."""
    m = onnx.load(path)
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim, [1, 3, h, w]):
        d.ClearField("dim_param")
        d.dim_value = v
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    return m.SerializeToString()


def with_output(path, extra):
    """The model with an intermediate tensor also exposed as an output (tract does the same)."""
    m = onnx.load(path)
    if extra and extra not in [o.name for o in m.graph.output]:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(extra))
    return m.SerializeToString()


def umeyama(src, dst):
    """Least-squares similarity transform src -> dst (2x3), as rolemirror's align."""
    ms, md = src.mean(0), dst.mean(0)
    p, q = src - ms, dst - md
    norm = (p * p).sum()
    a = (p * q).sum() / norm
    b = (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum() / norm
    return np.array([[a, -b, md[0] - (a * ms[0] - b * ms[1])], [b, a, md[1] - (b * ms[0] + a * ms[1])]])


class OrtPipeline:
    def __init__(self, models, embedder, size, det_level, emb_level):
        self.w, self.h = size
        self.det = session(yunet_at(os.path.join(models, "yunet/yunet_n_320_320.onnx"), self.w, self.h), det_level)
        f, self.color, self.mean, self.std, self.app = EMBEDDERS[embedder]
        self.emb = session(with_output(os.path.join(models, f), self.app), emb_level)
        self.emb_in = self.emb.get_inputs()[0].name
        self.emb_out = [self.emb.get_outputs()[0].name] + ([self.app] if self.app else [])

    def blob(self, frame):
        """The detector input for a frame (letterboxed BGR planes) and the scale applied."""
        fh, fw = frame.shape[:2]
        s = min(self.w / fw, self.h / fh, 1.0)
        sw, sh = round(fw * s), round(fh * s)
        im = frame if (sw, sh) == (fw, fh) else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        blob = np.zeros((1, 3, self.h, self.w), np.float32)
        blob[0, :, :sh, :sw] = im.transpose(2, 0, 1)  # BGR, as OpenCV reads it
        return blob, s

    def det_net(self, blob):
        return self.det.run(None, {"input": blob})

    def detect(self, frame):
        blob, s = self.blob(frame)
        out = dict(zip([o.name for o in self.det.get_outputs()], self.det_net(blob)))
        boxes, scores, kps = [], [], []
        for st in (8, 16, 32):
            cols, rows = self.w // st, self.h // st
            cls = out[f"cls_{st}"].reshape(-1)
            obj = out[f"obj_{st}"].reshape(-1)
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            idx = np.nonzero(score >= 0.6)[0]
            if len(idx) == 0:
                continue
            b = out[f"bbox_{st}"].reshape(-1, 4)[idx]
            k = out[f"kps_{st}"].reshape(-1, 10)[idx]
            c, r = (idx % cols).astype(np.float32), (idx // cols).astype(np.float32)
            cx, cy = (c + b[:, 0]) * st, (r + b[:, 1]) * st
            bw, bh = np.exp(b[:, 2]) * st, np.exp(b[:, 3]) * st
            boxes.append(np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1))
            kk = k.reshape(-1, 5, 2)
            kps.append(np.stack([(kk[:, :, 0] + c[:, None]) * st, (kk[:, :, 1] + r[:, None]) * st], 2))
            scores.append(score[idx])
        if not boxes:
            return None
        boxes, scores, kps = np.concatenate(boxes), np.concatenate(scores), np.concatenate(kps)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.6, 0.3, top_k=50)
        keep = np.array(keep).reshape(-1)
        best = keep[np.argmax(boxes[keep, 2] * boxes[keep, 3])]
        return kps[best] / s

    def align(self, frame, lm):
        return cv2.warpAffine(frame, umeyama(lm.astype(np.float64), ARC), (112, 112), flags=cv2.INTER_LINEAR)

    def prep(self, crop_bgr):
        x = crop_bgr if self.color == "bgr" else crop_bgr[:, :, ::-1]
        return ((x.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1)[None]

    def embed_net(self, x):
        return self.emb.run(self.emb_out, {self.emb_in: x})

    def embed(self, crop_bgr):
        outs = self.embed_net(self.prep(crop_bgr))
        e = outs[0].reshape(-1)
        e = e / np.linalg.norm(e)
        if len(outs) > 1:
            a = outs[1].reshape(outs[1].shape[1], -1).mean(1)
            a = a / np.linalg.norm(a)
            return e, a
        return e, None

    def full(self, frame):
        lm = self.detect(frame)
        return self.align(frame, lm)

    def full_embed(self, frame):
        return self.embed(self.full(frame))


def timed(f, clock):
    now = time.thread_time if clock == "cpu" else time.perf_counter
    s = now()
    f()
    return (now() - s) * 1000


def tract_round(a, size):
    env = dict(os.environ, ROLEMIRROR_BENCH_CLOCK=a.clock)
    cmd = [a.binary, "--models", a.models, "--embedder", a.embedder, "--detector-input", f"{size[0]}x{size[1]}",
           "bench", "--json", "--runs", str(a.runs), "--image", a.image, "--threads", str(a.threads)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default="demo/visitors/img2.jpg")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--sizes", default="640x480,384x288")
    ap.add_argument("--embedder", default="faceplugin-mfn512-int8", choices=sorted(EMBEDDERS))
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"])
    ap.add_argument("--binary", default="target/release/rolemirror")
    ap.add_argument("--models", default=HERE)
    ap.add_argument("--json", action="store_true", help="print the result as one JSON object")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads on both sides (ORT intra-op, tract's executor); more than 1 needs --clock wall")
    a = ap.parse_args()
    global THREADS
    THREADS = a.threads
    if a.threads > 1 and a.clock == "cpu":
        sys.exit("ort_compare: --threads above 1 needs --clock wall (a thread's CPU clock does not count its helpers)")
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]

    photo = cv2.imread(a.image)
    h, w = photo.shape[:2]
    s = min(640 / w, 480 / h, 1.0)
    frame = cv2.resize(photo, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    pipes = {(size, lvl): OrtPipeline(a.models, a.embedder, size, lvl, lvl) for size in sizes for lvl in LEVELS}
    # Sanity: the pipeline finds the face, and ORT's one thread is the calling thread.
    p0 = pipes[(sizes[0], "ALL")]
    crop = p0.full(frame)
    t0, c0 = time.process_time(), time.thread_time()
    for _ in range(20):
        p0.embed(crop)
    proc, thr = time.process_time() - t0, time.thread_time() - c0
    if a.threads == 1 and (thr <= 0 or proc / thr > 1.2):
        print(f"warning: ORT used {proc / max(thr, 1e-9):.2f}x the calling thread's CPU time (other threads?)", file=sys.stderr)

    tract = {size: [] for size in sizes}
    ortt = {}  # (size, level, what) -> samples

    def ort_round():
        for (size, lvl), p in pipes.items():
            x = p.prep(crop)
            blob, _ = p.blob(frame)
            for _ in range(2):
                p.full_embed(frame)
            for _ in range(a.runs):
                ortt.setdefault((size, lvl, "detect.net"), []).append(timed(lambda: p.det_net(blob), a.clock))
                ortt.setdefault((size, lvl, "embed"), []).append(timed(lambda: p.embed(crop), a.clock))
                ortt.setdefault((size, lvl, "embed.net"), []).append(timed(lambda: p.embed_net(x), a.clock))
                ortt.setdefault((size, lvl, "full"), []).append(timed(lambda: p.full(frame), a.clock))
                ortt.setdefault((size, lvl, "full+embed"), []).append(timed(lambda: p.full_embed(frame), a.clock))

    for r in range(a.rounds):
        order = [0, 1] if r % 2 == 0 else [1, 0]
        for o in order:
            if o == 0:
                for size in sizes:
                    tract[size].append(tract_round(a, size))
            else:
                ort_round()
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    med = statistics.median
    result = {"clock": a.clock, "threads": a.threads, "rounds": a.rounds, "runs": a.runs, "embedder": a.embedder, "image": a.image,
              "ort_version": ort.__version__, "sizes": {}}
    rows = []
    for size in sizes:
        # tract: the median over rounds of each round's median (each bench call reports medians)
        tm = lambda f: med([f(j) for j in tract[size]])
        tr = {
            "embed": tm(lambda j: j["median_ms"]["embed"]),
            "embed.net": tm(lambda j: j["stages_ms"]["embed"]["network"]),
            "full": tm(lambda j: j["booth"]["frames_ms"]["full"]),
            "full+embed": tm(lambda j: j["booth"]["frames_ms"]["full_embedding"]),
            "booth": tm(lambda j: j["booth"]["frames_ms"]["embedding"]),
            "tracked": tm(lambda j: j["booth"]["frames_ms"]["tracked"]),
            # the booth's vision worker over a whole visit (FrameAnalyser + state machine): mean ms per frame
            "steady": tm(lambda j: j["booth"]["steady"]["mean_ms"]),
            # (a build without the efficiency section: the command's detector network, same input size)
            "detect.net": tm(lambda j: j["efficiency"]["detector"]["network_ms"] if "efficiency" in j else j["stages_ms"]["detect"]["network"]),
        }
        by_level = {lvl: {k: med(ortt[(size, lvl, k)]) for k in ("embed", "embed.net", "full", "full+embed", "detect.net")} for lvl in LEVELS}
        # Each model at its own best level: the embedder's from embed.net, the detector's from
        # the full-frame detection (which has no embedder in it).
        emb_lvl = min(LEVELS, key=lambda l: by_level[l]["embed.net"])
        det_lvl = min(LEVELS, key=lambda l: by_level[l]["full"])
        best = {
            "embed": by_level[emb_lvl]["embed"],
            "embed.net": by_level[emb_lvl]["embed.net"],
            "full": by_level[det_lvl]["full"],
            "detect.net": by_level[det_lvl]["detect.net"],
            # detector at its best level + embedder at its best level
            "full+embed": by_level[det_lvl]["full"] + by_level[emb_lvl]["embed"],
        }
        best["booth"] = best["full+embed"]
        best["steady"] = best["full+embed"]
        key = f"{size[0]}x{size[1]}"
        # Share of one core's fp32 FMA peak: MACs (from rolemirror's count of the graph) per
        # second of network time over the peak measured in the same rounds.
        # (None for a build whose bench has no efficiency section)
        eff = tract[size][0].get("efficiency")
        peak = tm(lambda j: j["efficiency"]["peak_gfma"]) if eff else None
        macs = {"detect.net": eff["detector"]["macs"], "embed.net": eff["embedder"]["macs"]} if eff else None
        share = {side: {k: macs[k] / (ms[k] / 1000) / 1e9 / peak for k in macs} for side, ms in (("tract", tr), ("ort", best))} if eff else None
        result["sizes"][key] = {"tract_ms": tr, "ort_ms": best, "ort_level": {"detector": det_lvl, "embedder": emb_lvl},
                                "ort_ms_by_level": by_level,
                                "ratio": {k: tr[k] / best[k] for k in best},
                                "peak_gfma": peak, "isa": eff["isa"] if eff else None, "macs": macs, "share_of_peak": share}
        for k, label in [("embed", "embed (crop -> code)"), ("embed.net", "  embedder network"), ("detect.net", "detector network"),
                         ("full", "full-frame detection frame"),
                         ("full+embed", "full detect+align+embed"), ("booth", "booth: tracked+embed vs ORT full d+a+e"),
                         ("steady", "booth steady state (visit) vs ORT full d+a+e")]:
            rows.append((key, label, tr[k], best[k], tr[k] / best[k]))
    if a.json:
        print(json.dumps(result))
        return
    print(f"tract (rolemirror bench) vs ONNX Runtime {ort.__version__}, {a.threads} thread(s), {a.clock} clock, "
          f"{a.rounds} interleaved rounds x {a.runs} runs, medians; {a.embedder}; {a.image} as a 640x480 frame")
    print(f"{'detector':<9} {'what':<40} {'tract ms':>9} {'ORT ms':>8} {'ratio':>6}")
    for key, label, t, o, r in rows:
        print(f"{key:<9} {label:<40} {t:>9.2f} {o:>8.2f} {r:>6.2f}")
    for key, v in result["sizes"].items():
        sh = v["share_of_peak"]
        if sh is None:
            continue
        print(f"share of one core's fp32 FMA peak at {key} ({v['peak_gfma']:.1f} G FMA/s, {v['isa']}): "
              f"detector ({v['macs']['detect.net'] / 1e6:.1f} M MACs) tract {sh['tract']['detect.net']:.0%}, ORT {sh['ort']['detect.net']:.0%}; "
              f"embedder ({v['macs']['embed.net'] / 1e6:.1f} M MACs) tract {sh['tract']['embed.net']:.0%}, ORT {sh['ort']['embed.net']:.0%}")
    for key, v in result["sizes"].items():
        lv = v["ort_ms_by_level"]
        print(f"ORT at {key}, by level (full / embed.net ms): " + ", ".join(f"{l} {lv[l]['full']:.2f}/{lv[l]['embed.net']:.2f}" for l in LEVELS)
              + f"; best: detector {v['ort_level']['detector']}, embedder {v['ort_level']['embedder']}")


if __name__ == "__main__":
    main()
