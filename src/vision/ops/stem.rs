//! A network's stem in one pass: a 3x3 stride-2 convolution of a few input channels, its ReLU,
//! and the 1x1 convolution that follows (YuNet: `Conv_0 → Relu_1 → Conv_2`, 3 → 16 → 16 channels
//! at half the input resolution).
//!
//! tract lowers these to a direct convolution, a ReLU pass and a matrix product whose
//! activation operand it first packs — on a 640x480 input four passes over 5 MB tensors, about a
//! fifth of the detector's time. Here each output row is computed from three input rows split
//! into even and odd columns (so the stride-2 taps are contiguous), the intermediate channels
//! of a block of pixels stay in registers, and only the 1x1 convolution's output is written.
//!
//! Found by [`fuse`] on the decluttered model: `Conv` (group 1, constant `M x C x 3 x 3` kernel
//! and bias, stride 2, padding 1, NCHW or CHW f32, C ≤ 4, M ≤ 32) → `Max(x, 0)` → `EinSum`
//! (a 1x1 convolution, constant `N x M`, N ≤ 64) → `Add` (constant per-channel bias), each the
//! only user of the one before. Anything else stays tract's.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::conv::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::cnn::PaddingSpec;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::graph::{channel_bias_of, concrete_shape, fuse_each, is_relu_of, konst_f32, per_channel, planar_op, sole_successor, PlanarOp};
use super::rows::split_row;

/// Largest intermediate channel count (kept in registers per pixel block).
const MAX_MID: usize = 32;
/// Largest input channel count.
const MAX_IN: usize = 4;
/// Largest output channel count.
const MAX_OUT: usize = 64;
/// Pixels per block.
const LANES: usize = 16;

/// `1x1(N x M) ∘ ReLU ∘ conv3x3/2(M x C)` with biases, NCHW or CHW, f32 or f16 (computed in f32).
#[derive(Debug, Clone)]
pub struct Stem {
    pub c_in: usize,
    pub c_mid: usize,
    pub c_out: usize,
    /// `c_mid x c_in x 3 x 3`.
    pub w3: Vec<f32>,
    pub b3: Vec<f32>,
    /// `c_out x c_mid`.
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    /// `w3` in groups of four intermediate channels: `[c_mid / 4][c_in x 9][4]`.
    w3t: Vec<f32>,
    /// `w1` in groups of four output channels: `[c_out / 4][c_mid][4]`.
    w1t: Vec<f32>,
}

impl PartialEq for Stem {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        (self.c_in, self.c_mid, self.c_out) == (other.c_in, other.c_mid, other.c_out)
            && bits(&self.w3) == bits(&other.w3)
            && bits(&self.b3) == bits(&other.b3)
            && bits(&self.w1) == bits(&other.w1)
            && bits(&self.b1) == bits(&other.b1)
    }
}
impl Eq for Stem {}

impl Stem {
    /// The op for these weights; None unless `c_mid` and `c_out` are multiples of 4 and the
    /// sizes are within the kernel's limits and agree with the weights.
    pub fn new(c_in: usize, c_mid: usize, c_out: usize, w3: Vec<f32>, b3: Vec<f32>, w1: Vec<f32>, b1: Vec<f32>) -> Option<Stem> {
        let k = c_in * 9;
        if !(1..=MAX_IN).contains(&c_in)
            || !(4..=MAX_MID).contains(&c_mid)
            || !(4..=MAX_OUT).contains(&c_out)
            || !c_mid.is_multiple_of(4)
            || !c_out.is_multiple_of(4)
            || w3.len() != c_mid * k
            || b3.len() != c_mid
            || w1.len() != c_out * c_mid
            || b1.len() != c_out
        {
            return None;
        }
        let mut w3t = vec![0f32; w3.len()];
        for m in 0..c_mid {
            for t in 0..k {
                w3t[((m / 4) * k + t) * 4 + m % 4] = w3[m * k + t];
            }
        }
        let mut w1t = vec![0f32; w1.len()];
        for n in 0..c_out {
            for m in 0..c_mid {
                w1t[((n / 4) * c_mid + m) * 4 + n % 4] = w1[n * c_mid + m];
            }
        }
        Some(Stem { c_in, c_mid, c_out, w3, b3, w1, b1, w3t, w1t })
    }

    fn output_shape(&self, shape: &[usize]) -> TractResult<TVec<usize>> {
        ensure!(matches!(shape.len(), 3 | 4), "stem: input {shape:?} is not CHW or NCHW");
        let r = shape.len();
        ensure!(shape[r - 3] == self.c_in, "stem: input {shape:?} does not have {} channels", self.c_in);
        let mut out: TVec<usize> = shape.into();
        out[r - 3] = self.c_out;
        out[r - 2] = shape[r - 2].div_ceil(2);
        out[r - 1] = shape[r - 1].div_ceil(2);
        Ok(out)
    }

    /// Runs on f32 data.
    pub fn run_f32(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()> {
        let w = shape.last().copied().unwrap_or(0);
        self.run(
            shape,
            |offset, e, o| split_row(&src[offset..offset + w], e, o),
            |offset, row| dst[offset..offset + row.len()].copy_from_slice(row),
        )
    }

    /// Runs on f16 data (a row at a time in f32).
    pub fn run_f16(&self, shape: &[usize], src: &[f16], dst: &mut [f16]) -> TractResult<()> {
        use tract_onnx::prelude::tract_data::half::slice::HalfFloatSliceExt;
        let mut line = vec![0f32; shape.last().copied().unwrap_or(0)];
        self.run(
            shape,
            |offset, e, o| {
                src[offset..offset + line.len()].convert_to_f32_slice(&mut line);
                split_row(&line, e, o)
            },
            |offset, row| dst[offset..offset + row.len()].convert_from_f32_slice(row),
        )
    }

    /// `split(offset, even, odd)` splits the input row at `offset` into even and odd columns
    /// (see [`split_row`]); `store(offset, row)` writes output values at `offset`.
    fn run(
        &self,
        shape: &[usize],
        mut split: impl FnMut(usize, &mut [f32], &mut [f32]),
        mut store: impl FnMut(usize, &[f32]),
    ) -> TractResult<()> {
        let out_shape = self.output_shape(shape)?;
        let r = shape.len();
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let (oh, ow) = (out_shape[r - 2], out_shape[r - 1]);
        let batch: usize = shape[..r - 3].iter().product();
        if h == 0 || w == 0 {
            return Ok(());
        }
        // Per input channel, three row slots (kernel rows 0, 1, 2 of the current output row),
        // each split into even columns E[x] = in[2x] and odd O[x] = in[2x-1] (O[0] and anything
        // past the edge are the zero padding), padded to whole blocks.
        let blocks = ow.div_ceil(LANES);
        let padded = blocks * LANES + 1;
        let mut even = vec![vec![0f32; padded]; self.c_in * 3];
        let mut odd = vec![vec![0f32; padded]; self.c_in * 3];
        let mut out_rows = vec![vec![0f32; blocks * LANES]; self.c_out];
        let block = kernel(self.c_in);
        for n in 0..batch {
            let in_base = n * self.c_in * h * w;
            let out_base = n * self.c_out * oh * ow;
            for oy in 0..oh {
                for ci in 0..self.c_in {
                    for ky in 0..3 {
                        let slot = ci * 3 + ky;
                        // Input row 2·oy + 1 is the next output row's kernel row 0: move it.
                        if ky == 0 && oy > 0 {
                            even.swap(slot, slot + 2);
                            odd.swap(slot, slot + 2);
                            continue;
                        }
                        let y = (2 * oy + ky) as isize - 1;
                        if y < 0 || y as usize >= h {
                            even[slot].fill(0.0);
                            odd[slot].fill(0.0);
                        } else {
                            split(in_base + (ci * h + y as usize) * w, &mut even[slot], &mut odd[slot]);
                        }
                    }
                }
                for b in 0..blocks {
                    block(self, &even, &odd, b * LANES, &mut out_rows);
                }
                for (co, row) in out_rows.iter().enumerate() {
                    store(out_base + (co * oh + oy) * ow, &row[..ow]);
                }
            }
        }
        Ok(())
    }
}

type BlockFn = fn(&Stem, &[Vec<f32>], &[Vec<f32>], usize, &mut [Vec<f32>]);

/// The block kernel for this CPU and input channel count (AVX2 + FMA where present; x86-64
/// builds target SSE2).
fn kernel(c_in: usize) -> BlockFn {
    macro_rules! pick {
        ($k:literal) => {{
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512f") {
                return |s, e, o, x0, out| {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    unsafe { block_avx512::<$k>(s, e, o, x0, out) }
                };
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return |s, e, o, x0, out| {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    unsafe { block_avx2_fma::<$k>(s, e, o, x0, out) }
                };
            }
            block_portable::<$k>
        }};
    }
    match c_in {
        1 => pick!(9),
        2 => pick!(18),
        3 => pick!(27),
        _ => pick!(36),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2_fma<const K: usize>(s: &Stem, even: &[Vec<f32>], odd: &[Vec<f32>], x0: usize, out: &mut [Vec<f32>]) {
    block_impl::<true, K>(s, even, odd, x0, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn block_avx512<const K: usize>(s: &Stem, even: &[Vec<f32>], odd: &[Vec<f32>], x0: usize, out: &mut [Vec<f32>]) {
    block_impl::<true, K>(s, even, odd, x0, out)
}

fn block_portable<const K: usize>(s: &Stem, even: &[Vec<f32>], odd: &[Vec<f32>], x0: usize, out: &mut [Vec<f32>]) {
    // aarch64 always has FMA; elsewhere mul_add may be a library call.
    block_impl::<{ cfg!(target_arch = "aarch64") }, K>(s, even, odd, x0, out)
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// LANES output pixels from `x0`: the intermediate channels four at a time (ReLU'd, kept in
/// registers), then the output channels four at a time. `K` = input channels x 9.
#[inline(always)]
fn block_impl<const FMA: bool, const K: usize>(s: &Stem, even: &[Vec<f32>], odd: &[Vec<f32>], x0: usize, out: &mut [Vec<f32>]) {
    // The 9 taps of each input channel for these pixels: kx 0 → O[x], 1 → E[x], 2 → O[x+1].
    let mut taps = [[0f32; LANES]; K];
    for ci in 0..K / 9 {
        for ky in 0..3 {
            let (e, o) = (&even[ci * 3 + ky], &odd[ci * 3 + ky]);
            let t = (ci * 3 + ky) * 3;
            taps[t].copy_from_slice(&o[x0..x0 + LANES]);
            taps[t + 1].copy_from_slice(&e[x0..x0 + LANES]);
            taps[t + 2].copy_from_slice(&o[x0 + 1..x0 + 1 + LANES]);
        }
    }
    let mut mid = [[0f32; LANES]; MAX_MID];
    for g in 0..s.c_mid / 4 {
        let w = &s.w3t[g * K * 4..(g + 1) * K * 4];
        let mut acc = [[0f32; LANES]; 4];
        for (j, a) in acc.iter_mut().enumerate() {
            *a = [s.b3[g * 4 + j]; LANES];
        }
        for t in 0..K {
            let tap = &taps[t];
            for j in 0..4 {
                let wv = w[t * 4 + j];
                for l in 0..LANES {
                    acc[j][l] = madd::<FMA>(tap[l], wv, acc[j][l]);
                }
            }
        }
        for j in 0..4 {
            for l in 0..LANES {
                mid[g * 4 + j][l] = acc[j][l].max(0.0);
            }
        }
    }
    for g in 0..s.c_out / 4 {
        let w = &s.w1t[g * s.c_mid * 4..(g + 1) * s.c_mid * 4];
        let mut acc = [[0f32; LANES]; 4];
        for (j, a) in acc.iter_mut().enumerate() {
            *a = [s.b1[g * 4 + j]; LANES];
        }
        for (m, mv) in mid.iter().enumerate().take(s.c_mid) {
            for j in 0..4 {
                let wv = w[m * 4 + j];
                for l in 0..LANES {
                    acc[j][l] = madd::<FMA>(mv[l], wv, acc[j][l]);
                }
            }
        }
        for (j, a) in acc.iter().enumerate() {
            out[g * 4 + j][x0..x0 + LANES].copy_from_slice(a);
        }
    }
}

impl Op for Stem {
    fn name(&self) -> StaticName {
        "Conv3x3s2+Relu+Conv1x1".into()
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

planar_op!(Stem, "stem");

impl EvalOp for Stem {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.eval_planar(inputs)
    }
}

impl TypedOp for Stem {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planar_facts(inputs)
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let count: TDim = inputs[0].shape.iter().product();
        let per = self.c_mid * 9 + self.c_out * self.c_mid * 4 / self.c_in.max(1);
        Ok(tvec!((Cost::FMA(inputs[0].datum_type), count * per / 4)))
    }

    as_op!();
}

/// The stem starting at `node`, and the outlet it replaces.
fn match_at(model: &TypedModel, node: &TypedNode) -> Option<(Stem, OutletId)> {
    let conv = node.op_as::<Conv>()?;
    let spec = &conv.pool_spec;
    let (c_in, c_mid) = (spec.input_channels, spec.output_channels);
    let padded = matches!(&spec.padding, PaddingSpec::Explicit(b, a) if b[..] == [1, 1] && a[..] == [1, 1]);
    let ones = |v: &Option<TVec<usize>>| v.as_ref().is_none_or(|v| v.iter().all(|x| *x == 1));
    if conv.q_params.is_some()
        || conv.group != 1
        || !(1..=MAX_IN).contains(&c_in)
        || !(1..=MAX_MID).contains(&c_mid)
        || spec.kernel_shape[..] != [3, 3]
        || spec.strides.as_deref() != Some(&[2, 2])
        || !ones(&spec.dilations)
        || !padded
        || !matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        || conv.kernel_fmt != KernelFormat::OIHW
        || node.inputs.len() != 3
    {
        return None;
    }
    let x = model.outlet_fact(node.inputs[0]).ok()?;
    let rank = if spec.data_format == DataFormat::NCHW { 4 } else { 3 };
    if x.datum_type != DatumType::F32 || !x.is_plain() || x.rank() != rank || concrete_shape(x).is_none() {
        return None;
    }
    if model.outlet_fact(node.inputs[1]).ok()?.shape.as_concrete()? != [c_mid, c_in, 3, 3] {
        return None;
    }
    let w3 = konst_f32(model, node.inputs[1])?;
    let b3 = per_channel(model, node.inputs[2], c_mid)?;
    let conv_out = OutletId::new(node.id, 0);
    let relu = sole_successor(model, conv_out).filter(|n| is_relu_of(model, n, conv_out))?;
    let relu_out = OutletId::new(relu.id, 0);
    let einsum_node = sole_successor(model, relu_out)?;
    let einsum = einsum_node.op_as::<EinSum>()?;
    let expr = einsum.axes.to_string();
    if einsum.q_params.is_some()
        || einsum_node.inputs.len() != 2
        || einsum_node.inputs[0] != relu_out
        || !matches!(expr.as_str(), "NIHW,OI->NOHW" | "IHW,OI->OHW")
    {
        return None;
    }
    let w1 = konst_f32(model, einsum_node.inputs[1])?;
    let c_out = w1.len() / c_mid;
    if c_out == 0 || c_out > MAX_OUT || w1.len() != c_out * c_mid {
        return None;
    }
    let einsum_out = OutletId::new(einsum_node.id, 0);
    let add = sole_successor(model, einsum_out)?;
    let rank_out = model.outlet_fact(einsum_out).ok()?.rank();
    let b1 = channel_bias_of(model, add, einsum_out, c_out, rank_out)?;
    Some((Stem::new(c_in, c_mid, c_out, w3, b3, w1, b1)?, OutletId::new(add.id, 0)))
}

/// Replaces every stem in a decluttered model.
pub fn fuse(model: TypedModel) -> TractResult<TypedModel> {
    fuse_each(model, "stem", match_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in f64: conv 3x3/2 with zero padding, bias, ReLU, then 1x1 with bias.
    fn reference(s: &Stem, shape: &[usize], src: &[f32]) -> Vec<f32> {
        let r = shape.len();
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
        let batch: usize = shape[..r - 3].iter().product();
        let mut out = vec![0f32; batch * s.c_out * oh * ow];
        for n in 0..batch {
            let at = |c: usize, y: isize, x: isize| {
                if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                    0.0
                } else {
                    f64::from(src[((n * s.c_in + c) * h + y as usize) * w + x as usize])
                }
            };
            for oy in 0..oh {
                for ox in 0..ow {
                    let mid: Vec<f64> = (0..s.c_mid)
                        .map(|m| {
                            let mut acc = f64::from(s.b3[m]);
                            for c in 0..s.c_in {
                                for ky in 0..3 {
                                    for kx in 0..3 {
                                        acc += f64::from(s.w3[((m * s.c_in + c) * 3 + ky) * 3 + kx])
                                            * at(c, 2 * oy as isize + ky as isize - 1, 2 * ox as isize + kx as isize - 1);
                                    }
                                }
                            }
                            acc.max(0.0)
                        })
                        .collect();
                    for co in 0..s.c_out {
                        let v = f64::from(s.b1[co]) + (0..s.c_mid).map(|m| f64::from(s.w1[co * s.c_mid + m]) * mid[m]).sum::<f64>();
                        out[((n * s.c_out + co) * oh + oy) * ow + ox] = v as f32;
                    }
                }
            }
        }
        out
    }

    fn stem(c_in: usize, c_mid: usize, c_out: usize) -> Stem {
        let f = |n: usize, k: usize| (0..n).map(|i| ((i * k % 23) as f32 - 11.0) * 0.05).collect::<Vec<f32>>();
        Stem::new(c_in, c_mid, c_out, f(c_mid * c_in * 9, 7), f(c_mid, 5), f(c_out * c_mid, 11), f(c_out, 3)).expect("valid sizes")
    }

    #[test]
    fn matches_the_definition() {
        for (shape, (ci, cm, co)) in [
            (vec![1, 3, 9, 13], (3, 16, 16)),
            (vec![3, 8, 8], (3, 4, 8)),
            (vec![2, 1, 1, 1], (1, 4, 4)),
            (vec![1, 2, 35, 40], (2, 8, 12)),
            (vec![1, 4, 20, 2], (4, 32, 64)),
            (vec![1, 3, 2, 17], (3, 16, 16)),
        ] {
            let s = stem(ci, cm, co);
            let n: usize = shape.iter().product();
            let src: Vec<f32> = (0..n).map(|i| ((i * 7919 % 101) as f32 - 50.0) * 0.1).collect();
            let want = reference(&s, &shape, &src);
            let mut got = vec![f32::NAN; want.len()];
            s.run_f32(&shape, &src, &mut got).expect("runs");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{shape:?} at {i}: {g} vs {w}");
            }
        }
    }

    #[test]
    #[ignore = "timing: prints the stem's time on a YuNet 640x480 input"]
    fn stem_timing() {
        let s = stem(3, 16, 16);
        let shape = [1, 3, 480, 640];
        let src: Vec<f32> = (0..3 * 480 * 640).map(|i| (i % 255) as f32).collect();
        let mut dst = vec![0f32; 16 * 240 * 320];
        let mut t = Vec::new();
        for _ in 0..20 {
            let sw = crate::vision::profile::Stopwatch::start();
            s.run_f32(&shape, &src, &mut dst).expect("runs");
            t.push(sw.elapsed().as_secs_f64() * 1000.0);
        }
        t.sort_by(f64::total_cmp);
        eprintln!("stem 640x480: min {:.3} ms, median {:.3} ms", t[0], t[10]);
    }

    #[test]
    fn refuses_other_channel_counts() {
        assert!(Stem::new(3, 6, 16, vec![0.0; 6 * 27], vec![0.0; 6], vec![0.0; 96], vec![0.0; 16]).is_none(), "6 is not a multiple of 4");
        assert!(Stem::new(5, 16, 16, vec![0.0; 16 * 45], vec![0.0; 16], vec![0.0; 256], vec![0.0; 16]).is_none(), "5 input channels");
        assert!(Stem::new(3, 16, 16, vec![0.0; 10], vec![0.0; 16], vec![0.0; 256], vec![0.0; 16]).is_none(), "weights do not fit");
        let s = stem(3, 16, 16);
        assert!(s.run_f32(&[1, 2, 4, 4], &[0.0; 32], &mut [0.0; 64]).is_err());
    }
}
