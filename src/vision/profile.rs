//! Per-node timing of a tract plan: where a model's time goes.
//!
//! The plan is run `runs` times through tract's own evaluation loop with a [`Stopwatch`] around
//! each node (so the thread's CPU time with `ROLEMIRROR_BENCH_CLOCK=cpu`) (tract's `run_plan_with_eval`, as its command-line profiler does); each node's time is
//! the median over the runs. Grouped by operator kind, the result says which lowering is worth
//! replacing. Used by `rolemirror bench` (its `profile` section); timings, not a test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;

/// A stopwatch on the clock measurements use: wall time by default, or this thread's CPU time
/// when `ROLEMIRROR_BENCH_CLOCK=cpu` (read once). On a machine shared with other work the wall
/// clock also counts the time other processes had the core; the thread's CPU time does not,
/// which keeps side-by-side ratios meaningful under load (the networks run on the calling
/// thread with one tract thread, as ONNX Runtime does with one intra-op thread).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Duration);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(now())
    }

    pub fn elapsed(&self) -> Duration {
        now().saturating_sub(self.0)
    }
}

/// Which clock [`Stopwatch`] reads: "wall" or "cpu".
pub fn clock_name() -> &'static str {
    if cpu_clock() {
        "cpu"
    } else {
        "wall"
    }
}

fn cpu_clock() -> bool {
    static CPU: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CPU.get_or_init(|| std::env::var("ROLEMIRROR_BENCH_CLOCK").is_ok_and(|v| v == "cpu"))
}

fn now() -> Duration {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    if cpu_clock() {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32);
        }
    }
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// One node's median time per run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeTime {
    /// Node name in the optimised plan (ONNX names, with tract's suffixes).
    pub name: String,
    /// Operator kind (tract's op name, e.g. `OptMatMul`, `DepthWise`, `FusedPrelu`).
    pub op: String,
    /// Shape of its first output.
    pub shape: String,
    /// Median milliseconds per run.
    pub ms: f64,
}

/// Time per operator kind, largest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpTime {
    pub op: String,
    /// Number of nodes of this kind.
    pub nodes: usize,
    /// Sum of the nodes' medians, milliseconds per run.
    pub ms: f64,
    /// Share of the total (0..1).
    pub share: f64,
}

/// Per-node medians of `runs` profiled runs of `plan` on `input`.
pub fn profile_plan(plan: &std::sync::Arc<TypedRunnableModel>, input: &Tensor, runs: usize) -> anyhow::Result<Vec<NodeTime>> {
    let model = plan.model();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); model.nodes().len()];
    let mut state = plan.spawn()?;
    for _ in 0..runs.max(1) {
        let mut this_run = vec![0f64; model.nodes().len()];
        state.run_plan_with_eval(tvec!(input.clone().into()), |ctx, op_state, node, inputs| {
            let t = Stopwatch::start();
            let r = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
            this_run[node.id] += t.elapsed().as_secs_f64() * 1000.0;
            r
        })?;
        for (s, t) in samples.iter_mut().zip(this_run) {
            s.push(t);
        }
    }
    Ok(model
        .nodes()
        .iter()
        .zip(samples)
        .filter(|(n, _)| !n.op_is::<tract_onnx::tract_core::ops::konst::Const>())
        .map(|(n, s)| NodeTime {
            name: n.name.clone(),
            op: n.op().name().to_string(),
            shape: n.outputs.first().map(|o| format!("{:?}", o.fact.shape)).unwrap_or_default(),
            ms: median(&s),
        })
        .collect())
}

/// Multiply-accumulates per run of a typed model: tract's own count (`Cost::FMA`) summed over
/// its nodes: for a convolution output points x output channels x input channels per group x
/// kernel size, for a matrix product output size x reduced size. Counted on the decluttered
/// model before any fusion, it is the network's arithmetic as the ONNX graph states it (the
/// same as `models/macs.py`'s count).
pub fn macs(model: &TypedModel) -> u64 {
    let mut total = 0u64;
    for node in model.nodes() {
        let Ok(inputs) = model.node_input_facts(node.id) else { continue };
        let Ok(costs) = node.op.cost(&inputs) else { continue };
        for (cost, n) in costs {
            if let (tract_onnx::tract_core::internal::Cost::FMA(_), Ok(n)) = (cost, n.to_i64()) {
                total += n.max(0) as u64;
            }
        }
    }
    total
}

/// Sums node times by operator kind, largest first, with each kind's share of the total.
pub fn by_op(nodes: &[NodeTime]) -> Vec<OpTime> {
    let mut sums: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for n in nodes {
        let e = sums.entry(&n.op).or_default();
        e.0 += 1;
        e.1 += n.ms;
    }
    let total: f64 = sums.values().map(|v| v.1).sum();
    let mut ops: Vec<OpTime> = sums
        .into_iter()
        .map(|(op, (nodes, ms))| OpTime { op: op.to_string(), nodes, ms, share: if total > 0.0 { ms / total } else { 0.0 } })
        .collect();
    ops.sort_by(|a, b| b.ms.total_cmp(&a.ms).then_with(|| a.op.cmp(&b.op)));
    ops
}

fn median(s: &[f64]) -> f64 {
    let mut s = s.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_op_largest_first_with_shares() {
        let n = |name: &str, op: &str, ms: f64| NodeTime { name: name.into(), op: op.into(), shape: String::new(), ms };
        let ops = by_op(&[n("a", "Conv", 1.0), n("b", "Add", 2.0), n("c", "Conv", 5.0)]);
        assert_eq!(ops.len(), 2);
        assert_eq!((ops[0].op.as_str(), ops[0].nodes, ops[0].ms), ("Conv", 2, 6.0));
        assert!((ops[0].share - 0.75).abs() < 1e-9 && (ops[1].share - 0.25).abs() < 1e-9);
        assert!(by_op(&[]).is_empty());
    }

    #[test]
    fn stopwatch_moves_forward() {
        let t = Stopwatch::start();
        let mut x = 0u64;
        for i in 0..200_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(t.elapsed() > Duration::ZERO);
    }

    #[test]
    fn reads_this_process_memory() {
        let m = memory().expect("/proc/self/status");
        assert!(m.rss_kib > 0 && m.peak_rss_kib >= m.rss_kib, "{m:?}");
    }
}

/// This process's memory, from `/proc/self/status` (Linux): resident now and at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

/// The process's resident and peak resident memory; None where `/proc` is not there.
pub fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok())
    };
    Some(Memory { rss_kib: field("VmRSS:")?, peak_rss_kib: field("VmHWM:")? })
}
