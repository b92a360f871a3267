//! One core's fp32 multiply-add peak, measured: the yardstick `rolemirror bench` divides the
//! networks' MACs per second by (their share of what the core could do at best).
//!
//! Twelve independent vector accumulators, each `acc = acc · a + b` (a fused multiply-add where
//! the CPU has one) in a loop, with the widest SIMD this CPU offers (picked at run time
//! as the fused 1x1 kernel does: AVX-512, AVX2 + FMA, NEON; scalar elsewhere). Twelve chains cover
//! the latency of the FMA units on the x86 cores here and on the Cortex-A72/A76 (4 cycles, two
//! pipes: eight in flight). Timed on [`super::profile::Stopwatch`], so with
//! `ROLEMIRROR_BENCH_CLOCK=cpu` on the thread's CPU time like the networks.

use super::ops::simd::{dispatch, Task, Vector};
use super::profile::Stopwatch;

/// Accumulator chains in flight.
const CHAINS: usize = 12;

/// A measured peak.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Peak {
    /// Giga fp32 multiply-adds per second (one lane's `a·b + c` is one).
    pub gfma: f64,
    /// The instruction set measured ("avx512", "avx2+fma", "neon", …).
    pub isa: &'static str,
}

/// The peak over a loop of `iterations` rounds (each `CHAINS` vector multiply-adds), timed once.
pub fn measure(iterations: usize) -> Peak {
    let t = Stopwatch::start();
    let (lanes, isa, sum) = dispatch(Chains { iterations });
    std::hint::black_box(sum);
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    Peak { gfma: (iterations * CHAINS * lanes) as f64 / secs / 1e9, isa }
}

/// Iterations for one measurement of about 10 ms on a core doing ~50 G FMA/s with 16 lanes.
pub const ITERATIONS: usize = 2_500_000;

struct Chains {
    iterations: usize,
}

impl Task for Chains {
    type Output = (usize, &'static str, f32);

    #[inline(always)]
    unsafe fn run<V: Vector>(self) -> Self::Output {
        let a = V::splat(std::hint::black_box(0.999_999_9));
        let b = V::splat(std::hint::black_box(1e-7));
        let mut acc = [V::splat(std::hint::black_box(1.0)); CHAINS];
        for _ in 0..self.iterations {
            for v in acc.iter_mut() {
                *v = v.mul_add(a, b);
            }
        }
        let mut total = V::splat(0.0);
        for v in acc {
            total = total.add(v);
        }
        let mut lanes = vec![0f32; V::LANES];
        total.store(&mut lanes);
        (V::LANES, V::NAME, lanes.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lanes_and_names_the_instruction_set() {
        let p = measure(20_000);
        assert!(p.gfma > 0.0 && p.gfma.is_finite(), "{p:?}");
        assert!(!p.isa.is_empty());
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            assert_eq!(p.isa, "avx512");
        }
        #[cfg(target_arch = "aarch64")]
        assert_eq!(p.isa, "neon");
    }
}
