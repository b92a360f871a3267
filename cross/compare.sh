#!/usr/bin/env bash
# Runs `rolemirror embed --json` with the ARM build under qemu and with the host build on the
# same photos, and checks that every embedding agrees (cosine >= 0.999) and the landmarks are
# within 1 px: tract's ARM kernels must give the same answers, not just compile.
#   cross/compare.sh aarch64|armv7 PHOTO...
# The ARM build is looked for in CROSS_TARGET_DIR (default target), as cross/build.sh puts it.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  aarch64) triple=aarch64-unknown-linux-gnu; run="qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
  armv7) triple=armv7-unknown-linux-gnueabihf; run="qemu-arm -L /usr/arm-linux-gnueabihf" ;;
  *) echo "usage: cross/compare.sh aarch64|armv7 PHOTO..." >&2; exit 2 ;;
esac
shift
arm_out=$(mktemp); host_out=$(mktemp)
trap 'rm -f "$arm_out" "$host_out"' EXIT
start=$(date +%s)
$run "${CROSS_TARGET_DIR:-target}/$triple/release/rolemirror" --models models embed --json "$@" > "$arm_out"
echo "compare: $triple under qemu took $(( $(date +%s) - start )) s for $# photos"
target/release/rolemirror --models models embed --json "$@" > "$host_out"
python3 - "$host_out" "$arm_out" <<'PY'
import json, math, sys
host = [json.loads(l) for l in open(sys.argv[1])]
arm = [json.loads(l) for l in open(sys.argv[2])]
assert len(host) == len(arm) and host, "different number of results"
worst_cos, worst_px = 1.0, 0.0
for h, a in zip(host, arm):
    assert len(h["faces"]) == len(a["faces"]) > 0, f'{h["image"]}: {len(h["faces"])} vs {len(a["faces"])} faces'
    for fh, fa in zip(h["faces"], a["faces"]):
        dot = sum(x * y for x, y in zip(fh["embedding"], fa["embedding"]))
        n = math.sqrt(sum(x * x for x in fh["embedding"])) * math.sqrt(sum(x * x for x in fa["embedding"]))
        worst_cos = min(worst_cos, dot / n)
        worst_px = max(worst_px, max(math.dist(p, q) for p, q in zip(fh["landmarks"], fa["landmarks"])))
print(f"compare: {len(host)} photos, worst embedding cosine {worst_cos:.6f}, worst landmark distance {worst_px:.3f} px")
assert worst_cos >= 0.999, "embeddings differ"
assert worst_px <= 1.0, "landmarks differ"
PY
