//! A 1x1 convolution and the depthwise 3x3 convolution after it in one pass, with what follows
//! each (none, ReLU or PReLU; a 2x2 max-pool at the end): YuNet's backbone units
//! (`Conv 1x1 → Conv dw3x3 → Relu [→ MaxPool]`, 16 of them; 12 at a 640x480 input, where the
//! other four are 20 pixels wide, below the row kernel's block).
//!
//! tract ran each as a packing of the activation, a matrix product, a depthwise pass and an
//! activation pass, each over the whole tensor (YuNet at 640x480: 4.9 MB each, four times per
//! unit). Here the image goes through in bands of rows: the 1x1 convolution of a band
//! ([`super::pointwise`]) lands in a scratch of `channels x (band + 2) x width` kept in L2
//! (the two extra rows are the band's neighbours above and below, carried over from the band
//! before), and the depthwise row kernel ([`super::rows`]) reads it from there: the only
//! tensor written to memory is the unit's output (a quarter of it with the pool).
//!
//! Found by [`fuse`] on the decluttered model: an `EinSum` `NIHW,OI->NOHW` (or without the
//! batch axis on either side, as tract's decluttering leaves it) with constant weights → `Add` (constant per-channel bias) → optionally `Max(x, 0)` or a
//! per-channel [`super::prelu::FusedPrelu`] → a depthwise `Conv` that
//! [`super::dwconv`] would take at stride 1 (3x3, padding 1, constant weights and bias) →
//! optionally `Max(x, 0)` or `FusedPrelu` → optionally [`super::maxpool::MaxPool2x2`] (after
//! no activation or a ReLU), each the only user of the one before, f32, rows at least
//! [`super::rows::BLOCK`] + 2 wide. Not where this CPU has no SIMD path (armv7): tract's lowering
//! stays. (MobileFaceNet's expansions, `1x1 → PRelu → dw3x3 → PRelu`, fit the pattern but their
//! rows are 28 wide or less; fused they were slower.)

use tract_onnx::prelude::tract_data::half::slice::HalfFloatSliceExt;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::conv::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::cnn::PaddingSpec;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::graph::{channel_bias_of, concrete_shape, fuse_each, is_relu_of, konst_f32, per_channel, planar_op, sole_successor, PlanarOp};
use super::maxpool::MaxPool2x2;
use super::pointwise::{pointwise, Act, Packed};
use super::prelu::FusedPrelu;
use super::rows::{kernel, pool_rows};

/// Bytes of scratch a band aims for (the 1x1 convolution's output for the band and its two
/// neighbour rows): half of a 1 MB L2, the common size on the x86 machines and the Pi 5 (the
/// Pi 4's A72 shares 1 MB between four cores).
const BAND_BYTES: usize = 512 * 1024;

/// `pool(act2(dw3x3(act1(pw1x1(x)))))` over NCHW or CHW f32 (or f16, computed in f32).
#[derive(Debug, Clone)]
pub struct PwDw {
    pw: Packed,
    /// The 1x1 weights as given (`cout x cin`), for equality.
    pw_weights: Vec<f32>,
    act1: Act,
    /// Nine taps per channel.
    dw: Vec<f32>,
    dw_bias: Vec<f32>,
    act2: Act,
    pool: bool,
    /// The output has a batch axis (NCHW; else CHW). tract's decluttering drops or adds a
    /// batch axis of 1 at some 1x1 convolutions.
    batch_out: bool,
}

impl PartialEq for PwDw {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.pool == other.pool
            && self.batch_out == other.batch_out
            && self.act1.same(&other.act1)
            && self.act2.same(&other.act2)
            && bits(&self.pw_weights) == bits(&other.pw_weights)
            && bits(self.pw.bias()) == bits(other.pw.bias())
            && bits(&self.dw) == bits(&other.dw)
            && bits(&self.dw_bias) == bits(&other.dw_bias)
    }
}
impl Eq for PwDw {}

/// The parts of a [`PwDw`]: the 1x1 convolution (`cout x cin` weights, `cout` biases), its
/// activation, the depthwise one (`cout x 9` taps, `cout` biases), its activation, the pool.
#[derive(Debug, Clone)]
pub struct Parts {
    pub cin: usize,
    pub cout: usize,
    pub pw_weights: Vec<f32>,
    pub pw_bias: Vec<f32>,
    pub act1: Act,
    pub dw: Vec<f32>,
    pub dw_bias: Vec<f32>,
    pub act2: Act,
    pub pool: bool,
    /// Output NCHW (else CHW, which needs a single image).
    pub batch_out: bool,
}

impl PwDw {
    /// The op, or None when the sizes disagree or a pool follows a PReLU (not built).
    pub fn new(p: Parts) -> Option<PwDw> {
        let slopes_fit = |a: &Act| !matches!(a, Act::Prelu(s) if s.len() != p.cout);
        if p.dw.len() != p.cout * 9 || p.dw_bias.len() != p.cout || !slopes_fit(&p.act1) || !slopes_fit(&p.act2) {
            return None;
        }
        if p.pool && matches!(p.act2, Act::Prelu(_)) {
            return None;
        }
        let pw = Packed::new(p.cin, p.cout, &p.pw_weights, &p.pw_bias)?;
        Some(PwDw {
            pw,
            pw_weights: p.pw_weights,
            act1: p.act1,
            dw: p.dw,
            dw_bias: p.dw_bias,
            act2: p.act2,
            pool: p.pool,
            batch_out: p.batch_out,
        })
    }

    /// Output shape for an NCHW or CHW input shape (NCHW or CHW as `batch_out` says).
    fn output_shape(&self, shape: &[usize]) -> TractResult<TVec<usize>> {
        ensure!(matches!(shape.len(), 3 | 4), "1x1 + depthwise conv: input {shape:?} is not CHW or NCHW");
        let r = shape.len();
        ensure!(shape[r - 3] == self.pw.cin, "1x1 + depthwise conv: input {shape:?} does not have {} channels", self.pw.cin);
        let images: usize = shape[..r - 3].iter().product();
        let (mut h, mut w) = (shape[r - 2], shape[r - 1]);
        if self.pool {
            (h, w) = (h / 2, w / 2);
        }
        if self.batch_out {
            return Ok(tvec![images, self.pw.cout, h, w]);
        }
        ensure!(images == 1, "1x1 + depthwise conv: input {shape:?} has {images} images for a CHW output");
        Ok(tvec![self.pw.cout, h, w])
    }

    /// Runs on f32 data: `src` of `shape`, `dst` of the output shape.
    pub fn run_f32(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()> {
        let out_shape = self.output_shape(shape)?;
        let (r, ro) = (shape.len(), out_shape.len());
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let (oh, ow) = (out_shape[ro - 2], out_shape[ro - 1]);
        let images: usize = shape[..r - 3].iter().product();
        let (cin, cout) = (self.pw.cin, self.pw.cout);
        ensure!(
            src.len() >= images * cin * h * w && dst.len() >= images * cout * oh * ow,
            "1x1 + depthwise conv: buffers too small for {shape:?}"
        );
        if h == 0 || w == 0 {
            return Ok(());
        }
        let band = band_rows(cout, w, h, self.pool);
        let rows = band + 2;
        let mut mid = vec![0f32; cout * rows * w];
        let mut conv = [vec![0f32; w], vec![0f32; w]];
        let mut pooled = vec![0f32; ow];
        let row = kernel();
        for n in 0..images {
            let (x, out) = (&src[n * cin * h * w..][..cin * h * w], &mut dst[n * cout * oh * ow..][..cout * oh * ow]);
            let mut y0 = 0;
            while y0 < h {
                let b = band.min(h - y0);
                // Scratch row i holds the 1x1 output of input row y0 - 1 + i (zeros beyond the
                // image: the depthwise padding).
                let first = if y0 == 0 {
                    for c in 0..cout {
                        mid[c * rows * w..][..w].fill(0.0);
                    }
                    1
                } else {
                    for c in 0..cout {
                        mid.copy_within((c * rows + band) * w..(c * rows + band + 2) * w, c * rows * w);
                    }
                    2
                };
                let end = (b + 2).min(h - y0 + 1);
                if end > first {
                    let start = (y0 + first - 1) * w;
                    pointwise(&x[start..], h * w, (end - first) * w, &self.pw, &self.act1, &mut mid[first * w..], rows * w);
                }
                for c in 0..cout {
                    mid[(c * rows + end) * w..(c * rows + b + 2) * w].fill(0.0);
                }
                for c in 0..cout {
                    let k: [f32; 9] = std::array::from_fn(|t| self.dw[c * 9 + t]);
                    let plane = &mid[c * rows * w..][..rows * w];
                    let at = |i: usize| &plane[i * w..][..w];
                    for i in 0..b {
                        let y = y0 + i;
                        if !self.pool {
                            let o = &mut out[(c * oh + y) * ow..][..ow];
                            row(at(i), at(i + 1), at(i + 2), &k, self.dw_bias[c], false, o);
                            self.act2.apply_row(o, c);
                            continue;
                        }
                        let slot = &mut conv[y % 2];
                        row(at(i), at(i + 1), at(i + 2), &k, self.dw_bias[c], false, slot);
                        self.act2.apply_row(slot, c);
                        if y % 2 == 1 && y / 2 < oh {
                            pool_rows(&conv[0], &conv[1], &mut pooled);
                            out[(c * oh + y / 2) * ow..][..ow].copy_from_slice(&pooled);
                        }
                    }
                }
                y0 += b;
            }
        }
        Ok(())
    }

    /// As [`PwDw::run_f32`] on f16 data (converted to f32 and back).
    pub fn run_f16(&self, shape: &[usize], src: &[f16], dst: &mut [f16]) -> TractResult<()> {
        let mut wide = vec![0f32; src.len()];
        src.convert_to_f32_slice(&mut wide);
        let mut out = vec![0f32; dst.len()];
        self.run_f32(shape, &wide, &mut out)?;
        dst.convert_from_f32_slice(&out);
        Ok(())
    }
}

/// Rows per band: as many as fit [`BAND_BYTES`] with their two neighbours, at least 2, at most
/// the image; even with a pool (so a band's rows pair up).
fn band_rows(channels: usize, w: usize, h: usize, pool: bool) -> usize {
    let fit = (BAND_BYTES / (channels * w * 4).max(1)).saturating_sub(2).clamp(2, h.max(2));
    if pool {
        fit & !1
    } else {
        fit
    }
}

impl Op for PwDw {
    fn name(&self) -> StaticName {
        let act = |a: &Act| match a {
            Act::Linear => "",
            Act::Relu => "+Relu",
            Act::Prelu(_) => "+Prelu",
        };
        format!("Conv1x1{}+DwConv3x3{}{}", act(&self.act1), act(&self.act2), if self.pool { "+MaxPool2x2" } else { "" }).into()
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

planar_op!(PwDw, "1x1 + depthwise conv");

impl EvalOp for PwDw {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.eval_planar(inputs)
    }
}

impl TypedOp for PwDw {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planar_facts(inputs)
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let pixels: TDim = inputs[0].shape.iter().product::<TDim>() / self.pw.cin;
        Ok(tvec!((Cost::FMA(inputs[0].datum_type), pixels * (self.pw.cin * self.pw.cout + 9 * self.pw.cout))))
    }

    as_op!();
}

/// The activation `node` applies to the outlet `x` (ReLU or a PReLU on the channel axis of a
/// rank-`rank` tensor with `c` channels), if it is one.
fn activation_of(model: &TypedModel, node: &TypedNode, x: OutletId, c: usize, rank: usize) -> Option<Act> {
    if is_relu_of(model, node, x) {
        return Some(Act::Relu);
    }
    let prelu = node.op_as::<FusedPrelu>()?;
    (node.inputs[..] == [x] && prelu.axis == rank - 3 && prelu.slope.len() == c).then(|| Act::Prelu(prelu.slope.clone()))
}

/// A 1x1 convolution at `node` with a depthwise one after it: the op and the outlet it replaces.
fn match_at(model: &TypedModel, node: &TypedNode) -> Option<(PwDw, OutletId)> {
    let einsum = node.op_as::<EinSum>()?;
    // Channels first, with or without a batch axis on either side (tract's decluttering drops
    // a batch axis of 1 at some convolutions and adds it back at others).
    let (rank_in, rank) = match einsum.axes.to_string().as_str() {
        "NIHW,OI->NOHW" => (4, 4),
        "NIHW,OI->OHW" => (4, 3),
        "IHW,OI->NOHW" => (3, 4),
        "IHW,OI->OHW" => (3, 3),
        _ => return None,
    };
    let x = model.outlet_fact(node.inputs[0]).ok()?;
    if einsum.q_params.is_some() || node.inputs.len() != 2 || x.datum_type != DatumType::F32 || !x.is_plain() || x.rank() != rank_in {
        return None;
    }
    let shape = concrete_shape(x)?;
    // A batch axis summed away must be a single image. Rows narrower than the depthwise row
    // kernel's block stay tract's: MobileFaceNet's expansions (28, 14 and 7 wide) measured 7 %
    // slower fused (the embedder 0.92x -> 1.02x ONNX Runtime in one interleaved run).
    if (rank_in == 4 && rank == 3 && shape[0] != 1) || shape[rank_in - 1] < super::rows::BLOCK + 2 {
        return None;
    }
    let cin = shape[rank_in - 3];
    let pw_weights = konst_f32(model, node.inputs[1])?;
    let cout = pw_weights.len() / cin.max(1);
    if cout == 0 || pw_weights.len() != cin * cout {
        return None;
    }
    let mut last = OutletId::new(node.id, 0);
    let add = sole_successor(model, last)?;
    let pw_bias = channel_bias_of(model, add, last, cout, rank)?;
    last = OutletId::new(add.id, 0);
    let mut act1 = Act::Linear;
    let mut next = sole_successor(model, last)?;
    if let Some(a) = activation_of(model, next, last, cout, rank) {
        act1 = a;
        last = OutletId::new(next.id, 0);
        next = sole_successor(model, last)?;
    }
    let (dw, dw_bias) = depthwise_at(model, next, last, cout, rank)?;
    last = OutletId::new(next.id, 0);
    let mut act2 = Act::Linear;
    let mut pool = false;
    if let Some((n, a)) = sole_successor(model, last).and_then(|n| Some((n, activation_of(model, n, last, cout, rank)?))) {
        act2 = a;
        last = OutletId::new(n.id, 0);
    }
    if let Some(n) = sole_successor(model, last).filter(|n| n.op_is::<MaxPool2x2>() && !matches!(act2, Act::Prelu(_))) {
        pool = true;
        last = OutletId::new(n.id, 0);
    }
    let op = PwDw::new(Parts { cin, cout, pw_weights, pw_bias, act1, dw, dw_bias, act2, pool, batch_out: rank == 4 })?;
    Some((op, last))
}

/// The taps and biases of a depthwise 3x3 stride-1 convolution with padding 1 of `c` channels at
/// `node`, reading the outlet `x` (channels first, rank `rank`).
fn depthwise_at(model: &TypedModel, node: &TypedNode, x: OutletId, c: usize, rank: usize) -> Option<(Vec<f32>, Vec<f32>)> {
    let conv = node.op_as::<Conv>()?;
    let spec = &conv.pool_spec;
    let ones = |v: &Option<TVec<usize>>| v.as_ref().is_none_or(|v| v.iter().all(|x| *x == 1));
    let padded = matches!(&spec.padding, PaddingSpec::Explicit(b, a) if b[..] == [1, 1] && a[..] == [1, 1]);
    let format = if rank == 4 { DataFormat::NCHW } else { DataFormat::CHW };
    if conv.q_params.is_some()
        || conv.group != c
        || spec.input_channels != c
        || spec.output_channels != c
        || spec.kernel_shape[..] != [3, 3]
        || !ones(&spec.strides)
        || !ones(&spec.dilations)
        || !padded
        || spec.data_format != format
        || conv.kernel_fmt != KernelFormat::OIHW
        || node.inputs.len() != 3
        || node.inputs[0] != x
        || model.outlet_fact(node.inputs[1]).ok()?.shape.as_concrete()? != [c, 1, 3, 3]
    {
        return None;
    }
    Some((konst_f32(model, node.inputs[1])?, per_channel(model, node.inputs[2], c)?))
}

/// Replaces every 1x1 + depthwise pair in a decluttered model (nothing where this CPU has no
/// SIMD path for the 1x1 part).
pub fn fuse(model: TypedModel) -> TractResult<TypedModel> {
    if !super::simd::available() {
        return Ok(model);
    }
    fuse_each(model, "pwdw", match_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in f64: 1x1, act1, depthwise 3x3 (zero padding), act2, pool.
    fn reference(p: &Parts, shape: &[usize], src: &[f32]) -> Vec<f32> {
        let r = shape.len();
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let images: usize = shape[..r - 3].iter().product();
        let mut out = Vec::new();
        for n in 0..images {
            let x = &src[n * p.cin * h * w..];
            let mid: Vec<Vec<f32>> = (0..p.cout)
                .map(|o| {
                    (0..h * w)
                        .map(|q| {
                            let v = f64::from(p.pw_bias[o])
                                + (0..p.cin).map(|i| f64::from(p.pw_weights[o * p.cin + i]) * f64::from(x[i * h * w + q])).sum::<f64>();
                            p.act1.apply(v as f32, o)
                        })
                        .collect()
                })
                .collect();
            for (c, m) in mid.iter().enumerate() {
                let at = |y: isize, x: isize| {
                    if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                        0.0
                    } else {
                        f64::from(m[y as usize * w + x as usize])
                    }
                };
                let conv = |y: usize, x: usize| {
                    let mut acc = f64::from(p.dw_bias[c]);
                    for i in 0..3 {
                        for j in 0..3 {
                            acc += f64::from(p.dw[c * 9 + i * 3 + j]) * at(y as isize + i as isize - 1, x as isize + j as isize - 1);
                        }
                    }
                    p.act2.apply(acc as f32, c)
                };
                if p.pool {
                    for y in 0..h / 2 {
                        for x in 0..w / 2 {
                            out.push(
                                conv(2 * y, 2 * x).max(conv(2 * y, 2 * x + 1)).max(conv(2 * y + 1, 2 * x)).max(conv(2 * y + 1, 2 * x + 1)),
                            );
                        }
                    }
                } else {
                    out.extend((0..h).flat_map(|y| (0..w).map(move |x| (y, x))).map(|(y, x)| conv(y, x)));
                }
            }
        }
        out
    }

    fn parts(cin: usize, cout: usize, act1: Act, act2: Act, pool: bool) -> Parts {
        let f = |n: usize, k: usize| (0..n).map(|i| ((i * k % 23) as f32 - 11.0) * 0.05).collect::<Vec<f32>>();
        Parts {
            cin,
            cout,
            pw_weights: f(cin * cout, 7),
            pw_bias: f(cout, 5),
            act1,
            dw: f(cout * 9, 11),
            dw_bias: f(cout, 3),
            act2,
            pool,
            batch_out: true,
        }
    }

    #[test]
    fn matches_the_definition_across_bands_and_shapes() {
        let slopes = |c: usize| Act::Prelu((0..c).map(|i| if i % 2 == 0 { -0.3 } else { 0.2 + i as f32 * 0.1 }).collect());
        for (shape, cout) in [
            (vec![1, 3, 5, 7], 8),
            (vec![1, 16, 9, 40], 16),
            (vec![2, 4, 6, 33], 12),
            (vec![5, 1, 1], 3),
            (vec![1, 2, 2, 2], 4),
            (vec![1, 8, 7, 3], 64),
            (vec![1, 16, 70, 160], 64),
        ] {
            let cin = shape[shape.len() - 3];
            for (act1, act2, pool) in [
                (Act::Linear, Act::Relu, false),
                (Act::Linear, Act::Relu, true),
                (slopes(cout), slopes(cout), false),
                (Act::Relu, Act::Linear, true),
            ] {
                let p = parts(cin, cout, act1, act2, pool);
                let op = PwDw::new(p.clone()).expect("parts fit");
                let n: usize = shape.iter().product();
                let src: Vec<f32> = (0..n).map(|i| ((i * 7919 % 31) as f32 - 15.0) * 0.1).collect();
                let want = reference(&p, &shape, &src);
                let mut got = vec![f32::NAN; want.len()];
                op.run_f32(&shape, &src, &mut got).expect("runs");
                for (i, (g, v)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - v).abs() <= 1e-4 * (1.0 + v.abs()),
                        "{shape:?} -> {cout} {:?}/{:?} pool {pool} at {i}: {g} vs {v}",
                        p.act1,
                        p.act2
                    );
                }
                let src16: Vec<f16> = src.iter().map(|v| f16::from_f32(*v)).collect();
                let mut got16 = vec![f16::from_f32(0.0); want.len()];
                op.run_f16(&shape, &src16, &mut got16).expect("runs");
                for (g, v) in got16.iter().zip(&want) {
                    assert!((g.to_f32() - v).abs() <= 0.02 * (1.0 + v.abs()), "f16 {shape:?}: {g} vs {v}");
                }
            }
        }
    }

    #[test]
    fn refuses_what_it_does_not_do() {
        let mut p = parts(4, 8, Act::Linear, Act::Prelu(vec![0.1; 8]), true);
        assert!(PwDw::new(p.clone()).is_none(), "a pool after a PReLU");
        p.pool = false;
        p.dw.pop();
        assert!(PwDw::new(p.clone()).is_none(), "taps do not fit");
        let op = PwDw::new(parts(4, 8, Act::Linear, Act::Relu, false)).expect("fits");
        assert!(op.run_f32(&[1, 3, 4, 4], &[0.0; 48], &mut [0.0; 128]).is_err(), "3 channels, 4 expected");
        assert!(op.run_f32(&[1, 4, 4, 4], &[0.0; 64], &mut [0.0; 10]).is_err(), "output too small");
        let chw = PwDw::new(Parts { batch_out: false, ..parts(4, 8, Act::Linear, Act::Relu, true) }).expect("fits");
        assert_eq!(chw.output_shape(&[1, 4, 6, 5]).expect("one image")[..], [8, 3, 2]);
        assert_eq!(op.output_shape(&[4, 6, 5]).expect("CHW in")[..], [1, 8, 6, 5]);
        assert!(chw.output_shape(&[2, 4, 6, 5]).is_err(), "two images into CHW");
    }

    #[test]
    fn bands_hold_their_rows_and_pair_up_for_the_pool() {
        assert_eq!(band_rows(64, 160, 120, false), 512 * 1024 / (64 * 160 * 4) - 2);
        assert_eq!(band_rows(64, 160, 120, true) % 2, 0);
        assert_eq!(band_rows(512, 4096, 100, true), 2);
        assert_eq!(band_rows(4, 4, 3, false), 3);
    }
}
