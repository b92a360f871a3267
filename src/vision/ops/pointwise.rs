//! The 1x1 convolution of a channels-first tensor as a register-blocked matrix product that
//! reads the activation where it lies: `out[o][q] = act(b[o] + Σ_i w[o][i]·x[i][q])` over a
//! run of pixels `q` (contiguous in every NCHW plane: whole rows, or several).
//!
//! tract lowers a 1x1 convolution to its matrix product, which first packs the activation
//! (`OptMatMulPack`: a copy of the whole tensor) and then writes the result for a separate
//! pass to read. Here a tile of 8 output channels x 1–3 vectors of pixels stays in registers
//! while the input channels are summed into it (each pixel vector loaded once for 8 channels,
//! each weight broadcast once for the tile); tiles run pixel block by pixel block and, inside a
//! block, through every group of 8 output channels, so the block's input (input channels x
//! tile width) and the weights stay in L1. The activation after it (none, ReLU or a per-channel
//! PReLU) is applied in registers.
//!
//! Explicit SIMD through [`super::simd`] (AVX-512 or AVX2 + FMA chosen at run time on x86-64,
//! NEON on aarch64). On a target without a SIMD path there (armv7) [`super::simd::available`] is
//! false and the fusion pass leaves these layers to tract.

use super::simd::{dispatch, Task, Vector};

/// What follows the convolution, per output channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    Linear,
    Relu,
    /// `x < 0 ? s[c]·x : x`, one slope per channel.
    Prelu(Vec<f32>),
}

impl Act {
    /// `act(v)` for channel `c`, one value (rows edges and scalar paths).
    #[inline(always)]
    pub fn apply(&self, v: f32, c: usize) -> f32 {
        match self {
            Act::Linear => v,
            Act::Relu => v.max(0.0),
            Act::Prelu(s) => {
                if v < 0.0 {
                    s[c] * v
                } else {
                    v
                }
            }
        }
    }

    /// `act` over one row of channel `c`, in place.
    pub fn apply_row(&self, row: &mut [f32], c: usize) {
        match self {
            Act::Linear => {}
            Act::Relu => row.iter_mut().for_each(|v| *v = v.max(0.0)),
            Act::Prelu(s) => row.iter_mut().for_each(|v| *v = if *v < 0.0 { s[c] * *v } else { *v }),
        }
    }

    fn bits(&self) -> (u8, Vec<u32>) {
        match self {
            Act::Linear => (0, Vec::new()),
            Act::Relu => (1, Vec::new()),
            Act::Prelu(s) => (2, s.iter().map(|v| v.to_bits()).collect()),
        }
    }

    /// Equal bit for bit (for the ops' `PartialEq`).
    pub fn same(&self, other: &Act) -> bool {
        self.bits() == other.bits()
    }
}

/// Output channels per register tile.
pub const ROWS: usize = 8;

/// 1x1 weights and biases packed for the kernel: `w[g][i][r]` is the weight of output channel
/// `8g + r` for input channel `i` (zero for the channels past `cout`).
#[derive(Debug, Clone)]
pub struct Packed {
    pub cin: usize,
    pub cout: usize,
    w: Vec<f32>,
    bias: Vec<f32>,
}

impl Packed {
    /// From `cout x cin` weights (row-major) and `cout` biases; None when the sizes disagree.
    pub fn new(cin: usize, cout: usize, weights: &[f32], bias: &[f32]) -> Option<Packed> {
        if cin == 0 || cout == 0 || weights.len() != cin * cout || bias.len() != cout {
            return None;
        }
        let groups = cout.div_ceil(ROWS);
        let mut w = vec![0f32; groups * cin * ROWS];
        for o in 0..cout {
            for i in 0..cin {
                w[((o / ROWS) * cin + i) * ROWS + o % ROWS] = weights[o * cin + i];
            }
        }
        let mut b = vec![0f32; groups * ROWS];
        b[..cout].copy_from_slice(bias);
        Some(Packed { cin, cout, w, bias: b })
    }

    /// The biases as given.
    pub fn bias(&self) -> &[f32] {
        &self.bias[..self.cout]
    }

    fn groups(&self) -> usize {
        self.cout.div_ceil(ROWS)
    }
}

/// `out[o·ostride + q] = act(b[o] + Σ_i w[o][i]·x[i·istride + q])` for `q < len` and every
/// output channel `o`. Panics only on buffers shorter than that (callers size them).
pub fn pointwise(x: &[f32], istride: usize, len: usize, p: &Packed, act: &Act, out: &mut [f32], ostride: usize) {
    dispatch(Pointwise { x, istride, len, p, act, out, ostride })
}

struct Pointwise<'a> {
    x: &'a [f32],
    istride: usize,
    len: usize,
    p: &'a Packed,
    act: &'a Act,
    out: &'a mut [f32],
    ostride: usize,
}

impl Task for Pointwise<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<V: Vector>(self) {
        // Tiles of 8 channels x T vectors: 24 accumulators where there are 32 registers
        // (AVX-512, NEON), 8 where there are 16 (AVX2).
        if V::REGISTERS >= 32 {
            run::<V, 3>(self)
        } else {
            run::<V, 1>(self)
        }
    }
}

/// # Safety
/// As [`Task::run`].
#[inline(always)]
unsafe fn run<V: Vector, const T: usize>(k: Pointwise) {
    let Pointwise { x, istride, len, p, act, out, ostride } = k;
    // Group by group (8 output channels), each over the whole run: the input streams through
    // once per group, channel rows read sequentially (which the prefetchers follow; a callers'
    // run of a few rows stays in L2 for the groups after the first). Whole tiles, the last one
    // overlapping the one before (recomputing outputs, never accumulating twice); one-vector
    // tiles when the run is shorter; scalars below one vector.
    let mut done = 0;
    for g in 0..p.groups() {
        let mut q = 0;
        for (width, wide) in [(T * V::LANES, true), (V::LANES, false)] {
            if V::SCALAR || len - q < width {
                continue;
            }
            loop {
                if wide {
                    tile::<V, T>(x, istride, q, p, g, act, out, ostride);
                } else {
                    tile::<V, 1>(x, istride, q, p, g, act, out, ostride);
                }
                if q + width >= len {
                    q = len;
                    break;
                }
                q = (q + width).min(len - width);
            }
        }
        done = q;
    }
    let q = done;
    for q in q..len {
        for o in 0..p.cout {
            let (g, r) = (o / ROWS, o % ROWS);
            let mut acc = p.bias[o];
            for i in 0..p.cin {
                acc += p.w[(g * p.cin + i) * ROWS + r] * x[i * istride + q];
            }
            out[o * ostride + q] = act.apply(acc, o);
        }
    }
}

/// One tile: output channels `8g..8g+8` (those below `cout`) at pixels `q..q + T·LANES`.
///
/// # Safety
/// As [`Task::run`].
#[inline(always)]
// Index loops with constant bounds: the compiler keeps the tile in registers only when every
// index is a constant after unrolling (iterators over it left copies on the stack).
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile<V: Vector, const T: usize>(
    x: &[f32],
    istride: usize,
    q: usize,
    p: &Packed,
    g: usize,
    act: &Act,
    out: &mut [f32],
    ostride: usize,
) {
    let width = T * V::LANES;
    let zero = V::splat(0.0);
    let mut acc = [[zero; T]; ROWS];
    for r in 0..ROWS {
        let b = V::splat(p.bias[g * ROWS + r]);
        for t in 0..T {
            acc[r][t] = b;
        }
    }
    let w = &p.w[g * p.cin * ROWS..][..p.cin * ROWS];
    // One bounds check for the whole tile: the last input channel's run must be there.
    let x = &x[q..];
    assert!(x.len() >= (p.cin - 1) * istride + width, "pointwise: input too short");
    let mut xv = [zero; T];
    for i in 0..p.cin {
        // SAFETY: i·istride + width <= x.len() (asserted above for the largest i).
        let row = unsafe { x.get_unchecked(i * istride..i * istride + width) };
        for t in 0..T {
            xv[t] = V::load(&row[t * V::LANES..]);
        }
        // SAFETY: w holds cin x ROWS values.
        let wi = unsafe { w.get_unchecked(i * ROWS..i * ROWS + ROWS) };
        for r in 0..ROWS {
            let wv = V::splat(wi[r]);
            for t in 0..T {
                acc[r][t] = xv[t].mul_add(wv, acc[r][t]);
            }
        }
    }
    // Constant bounds (the tile stays in registers), the channels past `cout` skipped.
    for r in 0..ROWS {
        let o = g * ROWS + r;
        if o >= p.cout {
            continue;
        }
        let dst = &mut out[o * ostride + q..][..width];
        let slope = match act {
            Act::Prelu(s) => V::splat(s[o]),
            _ => zero,
        };
        for t in 0..T {
            let v = acc[r][t];
            let v = match act {
                Act::Linear => v,
                Act::Relu => v.max(zero),
                // max(v, 0) + s·min(v, 0): exactly `v < 0 ? s·v : v` (one rounding either way).
                Act::Prelu(_) => v.min(zero).mul_add(slope, v.max(zero)),
            };
            v.store(&mut dst[t * V::LANES..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in f64.
    fn reference(x: &[f32], istride: usize, len: usize, cin: usize, w: &[f32], b: &[f32], act: &Act) -> Vec<Vec<f32>> {
        (0..b.len())
            .map(|o| {
                (0..len)
                    .map(|q| {
                        let v = f64::from(b[o]) + (0..cin).map(|i| f64::from(w[o * cin + i]) * f64::from(x[i * istride + q])).sum::<f64>();
                        act.apply(v as f32, o)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_for_every_run_length_and_channel_count() {
        for (cin, cout) in [(1, 1), (3, 8), (16, 16), (5, 13), (64, 64), (17, 24)] {
            let w: Vec<f32> = (0..cin * cout).map(|i| ((i * 37 % 29) as f32 - 14.0) * 0.05).collect();
            let b: Vec<f32> = (0..cout).map(|o| o as f32 * 0.1 - 0.3).collect();
            let slopes: Vec<f32> = (0..cout).map(|o| if o % 3 == 0 { -0.5 } else { 0.25 * o as f32 }).collect();
            let p = Packed::new(cin, cout, &w, &b).expect("sizes agree");
            for len in [1, 3, 7, 15, 16, 17, 31, 47, 48, 49, 100, 161] {
                let istride = len + 5;
                let x: Vec<f32> = (0..cin * istride).map(|i| ((i * 7919 % 41) as f32 - 20.0) * 0.1).collect();
                for act in [Act::Linear, Act::Relu, Act::Prelu(slopes.clone())] {
                    let ostride = len + 2;
                    let mut out = vec![f32::NAN; cout * ostride];
                    pointwise(&x, istride, len, &p, &act, &mut out, ostride);
                    let want = reference(&x, istride, len, cin, &w, &b, &act);
                    for (o, row) in want.iter().enumerate() {
                        for (q, v) in row.iter().enumerate() {
                            let g = out[o * ostride + q];
                            assert!((g - v).abs() <= 1e-4 * (1.0 + v.abs()), "{cin}->{cout}, len {len}, {act:?}: [{o}][{q}] {g} vs {v}");
                        }
                        assert!(out[o * ostride + len].is_nan(), "wrote past the run");
                    }
                }
            }
        }
        assert!(Packed::new(3, 2, &[0.0; 5], &[0.0; 2]).is_none());
    }
}
