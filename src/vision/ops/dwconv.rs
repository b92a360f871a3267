//! Depthwise 3x3 convolution (stride 1, padding 1) with its bias, fused with the ReLU and the
//! 2x2 max-pool that follow it in YuNet, in one pass over each channel plane.
//!
//! tract runs YuNet's `Conv(depthwise 3x3) → Relu → MaxPool` as three passes over tensors of a
//! few MB each (its depthwise kernel has no activation); here each output row is computed from a
//! three-row window kept in L1, the ReLU applied in registers, and — when a pool follows — two
//! rows pooled before anything is written, so a quarter of the output goes to memory.
//!
//! Found by [`fuse`], a pass over the decluttered model (before tract's optimiser): a `Conv`
//! with `group` = channels, a constant `C x 1 x 3 x 3` kernel and constant bias, stride 1,
//! padding 1, no dilation, NCHW or CHW f32, optionally followed by `Max(x, 0)` and then
//! [`super::maxpool::MaxPool2x2`], each the only user of the one before. Other convolutions
//! stay tract's.
//!
//! The same convolution channels-last (NHWC or HWC, with or without the ReLU, no pool): YuNet's
//! twelve head convolutions, which tract lays out channels-last for the heads' reshapes and
//! runs with its generic scalar depthwise kernel (0.29 ms for the 60x80x10 one at a 640x480
//! input; 0.05 ms here). A row there is `width x channels` values, so the kernel is the same
//! with one weight per value instead of one per row.
//!
//! And at stride 2 (channels first, no pool): MobileFaceNet's downsampling depthwise layers,
//! also left to tract's generic kernel (0.92 ms for the 128x56x56 one; ~0.2 ms here). Each
//! input row is split into even and odd columns, so a row's three taps are contiguous.

use tract_onnx::prelude::tract_data::half::slice::HalfFloatSliceExt;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::conv::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::cnn::PaddingSpec;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::graph::{concrete_shape, fuse_each, is_relu_of, per_channel, planar_op, sole_successor, PlanarOp};
use super::maxpool::MaxPool2x2;
use super::rows::{kernel, kernel_taps, kernel_taps_per_value, pool_rows, split_row};

/// Depthwise 3x3/1 convolution with bias, then optionally ReLU and a 2x2/2 max-pool, over the
/// last two axes of an NCHW or CHW tensor (f32 or f16; computed in f32).
#[derive(Debug, Clone)]
pub struct DwConv3x3 {
    /// Nine taps per channel, row-major.
    pub weights: Vec<f32>,
    /// One per channel.
    pub bias: Vec<f32>,
    pub relu: bool,
    pub pool: bool,
    /// Channels last (NHWC or HWC; no pool): YuNet's head convolutions, which tract runs
    /// channels-last with a generic scalar kernel.
    pub nhwc: bool,
    /// Stride 2 (channels first, no pool): MobileFaceNet's downsampling depthwise layers,
    /// which tract also runs with its generic scalar kernel.
    pub stride2: bool,
}

impl PartialEq for DwConv3x3 {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.relu == other.relu
            && self.pool == other.pool
            && self.nhwc == other.nhwc
            && self.stride2 == other.stride2
            && bits(&self.weights) == bits(&other.weights)
            && bits(&self.bias) == bits(&other.bias)
    }
}
impl Eq for DwConv3x3 {}

impl DwConv3x3 {
    fn channels(&self) -> usize {
        self.bias.len()
    }

    /// Output shape for an input shape (rank 3 or 4, channels on the axis before H and W).
    fn output_shape(&self, shape: &[usize]) -> TractResult<TVec<usize>> {
        ensure!(matches!(shape.len(), 3 | 4), "depthwise conv: input {shape:?} is not CHW or NCHW");
        let r = shape.len();
        if self.nhwc {
            ensure!(!self.pool, "depthwise conv: no pooling channels-last");
            ensure!(shape[r - 1] == self.channels(), "depthwise conv: input {shape:?} does not have {} channels last", self.channels());
            return Ok(shape.into());
        }
        ensure!(shape[r - 3] == self.channels(), "depthwise conv: input {shape:?} does not have {} channels", self.channels());
        if self.stride2 {
            ensure!(!self.pool, "depthwise conv: no pooling at stride 2");
            let mut out: TVec<usize> = shape.into();
            out[r - 2] = shape[r - 2].div_ceil(2);
            out[r - 1] = shape[r - 1].div_ceil(2);
            return Ok(out);
        }
        let mut out: TVec<usize> = shape.into();
        if self.pool {
            out[r - 2] /= 2;
            out[r - 1] /= 2;
        }
        Ok(out)
    }

    /// Runs over planes of f32 (`src` of shape `shape`, `dst` of the output shape).
    pub fn run_f32(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()> {
        if self.nhwc {
            return self.run_nhwc(shape, src, dst);
        }
        if self.stride2 {
            return self.run_stride2(shape, src, dst);
        }
        self.run(shape, Planes::F32(src), PlanesMut::F32(dst))
    }

    /// As [`DwConv3x3::run_f32`] on f16 data (converted to f32 a row at a time).
    pub fn run_f16(&self, shape: &[usize], src: &[f16], dst: &mut [f16]) -> TractResult<()> {
        if self.nhwc || self.stride2 {
            let mut wide = vec![0f32; src.len()];
            src.convert_to_f32_slice(&mut wide);
            let mut out = vec![0f32; dst.len()];
            self.run_f32(shape, &wide, &mut out)?;
            dst.convert_from_f32_slice(&out);
            return Ok(());
        }
        self.run(shape, Planes::F16(src), PlanesMut::F16(dst))
    }

    /// A channels-first input's planes and their sizes in and out, after checking the shape and
    /// that the buffers hold them; None when there is nothing to compute.
    fn planar(&self, shape: &[usize], src_len: usize, dst_len: usize) -> TractResult<Option<Planar>> {
        let out_shape = self.output_shape(shape)?;
        let r = shape.len();
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let (oh, ow) = (out_shape[r - 2], out_shape[r - 1]);
        let planes: usize = shape[..r - 2].iter().product();
        ensure!(src_len >= planes * h * w && dst_len >= planes * oh * ow, "depthwise conv: buffers too small for {shape:?}");
        Ok((h > 0 && w > 0 && oh > 0 && ow > 0).then_some(Planar { planes, h, w, oh, ow }))
    }

    /// The stride-2 loop: output row `y` from input rows `2y - 1`, `2y`, `2y + 1`, each split
    /// into even columns `E[x] = in[2x]` and odd ones `O[x + 1] = in[2x + 1]` (`O[0]` and
    /// anything past the edge are the padding), so output `x` takes `O[x]`, `E[x]`, `O[x + 1]`.
    fn run_stride2(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()> {
        let Some(Planar { planes, h, w, oh, ow }) = self.planar(shape, src.len(), dst.len())? else {
            return Ok(());
        };
        let mut even = [vec![0f32; ow + 1], vec![0f32; ow + 1], vec![0f32; ow + 1]];
        let mut odd = [vec![0f32; ow + 1], vec![0f32; ow + 1], vec![0f32; ow + 1]];
        let row = kernel_taps();
        for p in 0..planes {
            let c = p % self.channels();
            let weights: [&[f32]; 9] = std::array::from_fn(|t| &self.weights[c * 9 + t..c * 9 + t + 1]);
            let bias = &self.bias[c..c + 1];
            for oy in 0..oh {
                for ky in 0..3 {
                    let y = (2 * oy + ky) as isize - 1;
                    if y < 0 || y as usize >= h {
                        even[ky].fill(0.0);
                        odd[ky].fill(0.0);
                    } else {
                        split_row(&src[(p * h + y as usize) * w..][..w], &mut even[ky], &mut odd[ky]);
                    }
                }
                let taps = [
                    &odd[0][..ow],
                    &even[0][..ow],
                    &odd[0][1..],
                    &odd[1][..ow],
                    &even[1][..ow],
                    &odd[1][1..],
                    &odd[2][..ow],
                    &even[2][..ow],
                    &odd[2][1..],
                ];
                row(taps, weights, bias, self.relu, &mut dst[(p * oh + oy) * ow..][..ow]);
            }
        }
        Ok(())
    }

    /// The channels-last loop: each image row is `w x c` values; output row `y` from the rows
    /// above, at and below it, each copied between `c` zeros on either side (the padding), with
    /// one weight and bias per value of the row (channel = index mod c).
    fn run_nhwc(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()> {
        self.output_shape(shape)?;
        let r = shape.len();
        let (h, w, c) = (shape[r - 3], shape[r - 2], shape[r - 1]);
        let images: usize = shape[..r - 3].iter().product();
        let n = w * c;
        ensure!(src.len() >= images * h * n && dst.len() >= images * h * n, "depthwise conv: buffers too small for {shape:?}");
        if n == 0 || h == 0 {
            return Ok(());
        }
        // Per tap, the weight of every value of a row; the bias of every value.
        let kw: Vec<f32> = (0..9).flat_map(|t| (0..n).map(move |q| (t, q % c))).map(|(t, ch)| self.weights[ch * 9 + t]).collect();
        let bias: Vec<f32> = (0..n).map(|q| self.bias[q % c]).collect();
        let mut padded = [vec![0f32; n + 2 * c], vec![0f32; n + 2 * c], vec![0f32; n + 2 * c]];
        let zero = vec![0f32; n + 2 * c];
        let weights: [&[f32]; 9] = std::array::from_fn(|t| &kw[t * n..(t + 1) * n]);
        let row = kernel_taps_per_value();
        for i in 0..images {
            let base = i * h * n;
            let fill = |padded: &mut [Vec<f32>; 3], y: usize| padded[y % 3][c..c + n].copy_from_slice(&src[base + y * n..][..n]);
            fill(&mut padded, 0);
            if h > 1 {
                fill(&mut padded, 1);
            }
            for y in 0..h {
                if y + 1 < h && y >= 1 {
                    fill(&mut padded, y + 1);
                }
                let above = if y == 0 { &zero } else { &padded[(y + 2) % 3] };
                let below = if y + 1 >= h { &zero } else { &padded[(y + 1) % 3] };
                let rows = [above, &padded[y % 3], below];
                let taps: [&[f32]; 9] = std::array::from_fn(|t| &rows[t / 3][(t % 3) * c..(t % 3) * c + n]);
                row(taps, weights, &bias, self.relu, &mut dst[base + y * n..][..n]);
            }
        }
        Ok(())
    }

    /// The plane loop. f32 rows are read where they are and, without a pool, written straight
    /// into the output; f16 rows go through a rolling window of three f32 rows.
    fn run(&self, shape: &[usize], src: Planes, mut dst: PlanesMut) -> TractResult<()> {
        let Some(Planar { planes, h, w, oh, ow }) = self.planar(shape, src.len(), dst.len())? else {
            return Ok(());
        };
        // window[i % 3] holds input row i (f16 only); conv rows; the pooled row.
        let mut window = [vec![0f32; w], vec![0f32; w], vec![0f32; w]];
        let zero = vec![0f32; w];
        let mut conv = [vec![0f32; w], vec![0f32; w]];
        let mut pooled = vec![0f32; ow];
        let row = kernel();
        for p in 0..planes {
            let c = p % self.channels();
            let k: [f32; 9] = self.weights[c * 9..c * 9 + 9].try_into().map_err(|_| format_err!("depthwise conv: weights"))?;
            let b = self.bias[c];
            let (src_plane, dst_plane) = (p * h * w, p * oh * ow);
            if let Planes::F16(s) = src {
                for (y, slot) in window.iter_mut().enumerate().take(h.min(2)) {
                    s[src_plane + y * w..][..w].convert_to_f32_slice(slot);
                }
            }
            let mut out_y = 0;
            for y in 0..h {
                if let Planes::F16(s) = src {
                    if y + 1 < h && y >= 1 {
                        s[src_plane + (y + 1) * w..][..w].convert_to_f32_slice(&mut window[(y + 1) % 3]);
                    }
                }
                let at = |i: usize| -> &[f32] {
                    match src {
                        Planes::F32(s) => &s[src_plane + i * w..][..w],
                        Planes::F16(_) => &window[i % 3],
                    }
                };
                let above = if y == 0 { &zero[..] } else { at(y - 1) };
                let below = if y + 1 >= h { &zero[..] } else { at(y + 1) };
                if !self.pool {
                    match &mut dst {
                        PlanesMut::F32(d) => row(above, at(y), below, &k, b, self.relu, &mut d[dst_plane + y * w..][..w]),
                        PlanesMut::F16(d) => {
                            row(above, at(y), below, &k, b, self.relu, &mut conv[0]);
                            d[dst_plane + y * w..][..w].convert_from_f32_slice(&conv[0]);
                        }
                    }
                    continue;
                }
                row(above, at(y), below, &k, b, self.relu, &mut conv[y % 2]);
                if y % 2 == 1 && out_y < oh {
                    pool_rows(&conv[0], &conv[1], &mut pooled);
                    match &mut dst {
                        PlanesMut::F32(d) => d[dst_plane + out_y * ow..][..ow].copy_from_slice(&pooled),
                        PlanesMut::F16(d) => d[dst_plane + out_y * ow..][..ow].convert_from_f32_slice(&pooled),
                    }
                    out_y += 1;
                }
            }
        }
        Ok(())
    }
}

/// Channels-first geometry: planes (batch x channels), input and output height and width.
struct Planar {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

/// The input planes, f32 or f16.
#[derive(Clone, Copy)]
enum Planes<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl Planes<'_> {
    fn len(&self) -> usize {
        match self {
            Planes::F32(s) => s.len(),
            Planes::F16(s) => s.len(),
        }
    }
}

/// The output planes, f32 or f16.
enum PlanesMut<'a> {
    F32(&'a mut [f32]),
    F16(&'a mut [f16]),
}

impl PlanesMut<'_> {
    fn len(&self) -> usize {
        match self {
            PlanesMut::F32(s) => s.len(),
            PlanesMut::F16(s) => s.len(),
        }
    }
}

impl Op for DwConv3x3 {
    fn name(&self) -> StaticName {
        if self.nhwc {
            return if self.relu { "DwConv3x3Nhwc+Relu".into() } else { "DwConv3x3Nhwc".into() };
        }
        if self.stride2 {
            return if self.relu { "DwConv3x3s2+Relu".into() } else { "DwConv3x3s2".into() };
        }
        match (self.relu, self.pool) {
            (true, true) => "DwConv3x3+Relu+MaxPool2x2".into(),
            (true, false) => "DwConv3x3+Relu".into(),
            (false, true) => "DwConv3x3+MaxPool2x2".into(),
            (false, false) => "DwConv3x3".into(),
        }
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

planar_op!(DwConv3x3, "depthwise conv");

impl EvalOp for DwConv3x3 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.eval_planar(inputs)
    }
}

impl TypedOp for DwConv3x3 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.planar_facts(inputs)
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let count: TDim = inputs[0].shape.iter().product();
        Ok(tvec!((Cost::FMA(inputs[0].datum_type), count * 9)))
    }

    as_op!();
}

/// A fusable depthwise conv at `node`: the op and the outlet it replaces.
fn match_at(model: &TypedModel, node: &TypedNode) -> Option<(DwConv3x3, OutletId)> {
    let conv = node.op_as::<Conv>()?;
    let spec = &conv.pool_spec;
    let c = spec.input_channels;
    let ones = |v: &Option<TVec<usize>>| v.as_ref().is_none_or(|v| v.iter().all(|x| *x == 1));
    let twos = |v: &Option<TVec<usize>>| v.as_ref().is_some_and(|v| v[..] == [2, 2]);
    let padded = matches!(&spec.padding, PaddingSpec::Explicit(b, a) if b[..] == [1, 1] && a[..] == [1, 1]);
    if conv.q_params.is_some()
        || conv.group != c
        || spec.output_channels != c
        || spec.kernel_shape[..] != [3, 3]
        || !(ones(&spec.strides) || twos(&spec.strides))
        || !ones(&spec.dilations)
        || !padded
        || !matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW | DataFormat::NHWC | DataFormat::HWC)
        || conv.kernel_fmt != KernelFormat::OIHW
        || node.inputs.len() != 3
    {
        return None;
    }
    let x = model.outlet_fact(node.inputs[0]).ok()?;
    if x.datum_type != DatumType::F32 || !x.is_plain() || concrete_shape(x).is_none() {
        return None;
    }
    let kfact = model.outlet_fact(node.inputs[1]).ok()?;
    if kfact.shape.as_concrete()? != [c, 1, 3, 3] {
        return None;
    }
    let weights = super::graph::konst_f32(model, node.inputs[1])?;
    let bias = per_channel(model, node.inputs[2], c)?;
    let nhwc = matches!(spec.data_format, DataFormat::NHWC | DataFormat::HWC);
    let stride2 = twos(&spec.strides);
    if nhwc && stride2 {
        return None;
    }
    let mut op = DwConv3x3 { weights, bias, relu: false, pool: false, nhwc, stride2 };
    let mut last = OutletId::new(node.id, 0);
    if let Some(next) = sole_successor(model, last).filter(|n| is_relu_of(model, n, last)) {
        op.relu = true;
        last = OutletId::new(next.id, 0);
    }
    if let Some(next) = sole_successor(model, last).filter(|n| !nhwc && !stride2 && n.op_is::<MaxPool2x2>()) {
        op.pool = true;
        last = OutletId::new(next.id, 0);
    }
    Some((op, last))
}

/// Replaces every fusable depthwise conv (with its ReLU and pool) in a decluttered model.
pub fn fuse(model: TypedModel) -> TractResult<TypedModel> {
    fuse_each(model, "dw3x3", match_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: zero padding, bias, optional ReLU and 2x2 max-pool, in f64.
    fn reference(op: &DwConv3x3, shape: &[usize], src: &[f32]) -> Vec<f32> {
        let r = shape.len();
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let planes: usize = shape[..r - 2].iter().product();
        let mut out = Vec::new();
        for p in 0..planes {
            let c = p % op.bias.len();
            let at = |y: isize, x: isize| {
                if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                    0.0
                } else {
                    f64::from(src[p * h * w + y as usize * w + x as usize])
                }
            };
            let conv = |y: usize, x: usize| {
                let mut acc = f64::from(op.bias[c]);
                for i in 0..3 {
                    for j in 0..3 {
                        acc += f64::from(op.weights[c * 9 + i * 3 + j]) * at(y as isize + i as isize - 1, x as isize + j as isize - 1);
                    }
                }
                if op.relu {
                    acc.max(0.0)
                } else {
                    acc
                }
            };
            if op.pool {
                for y in 0..h / 2 {
                    for x in 0..w / 2 {
                        let v = [conv(2 * y, 2 * x), conv(2 * y, 2 * x + 1), conv(2 * y + 1, 2 * x), conv(2 * y + 1, 2 * x + 1)];
                        out.push(v.iter().copied().fold(f64::NEG_INFINITY, f64::max) as f32);
                    }
                }
            } else {
                for y in 0..h {
                    for x in 0..w {
                        out.push(conv(y, x) as f32);
                    }
                }
            }
        }
        out
    }

    /// Runs `o` on `src` (of `shape`) in f32 and in f16 and compares with `want` (f32 within
    /// 1e-4, f16 within 2 %).
    fn check(o: &DwConv3x3, shape: &[usize], src: &[f32], want: &[f32], what: &str) {
        let mut got = vec![f32::NAN; want.len()];
        o.run_f32(shape, src, &mut got).expect("runs");
        for (i, (g, v)) in got.iter().zip(want).enumerate() {
            assert!((g - v).abs() <= 1e-4 * (1.0 + v.abs()), "{what} {shape:?} at {i}: {g} vs {v}");
        }
        let src16: Vec<f16> = src.iter().map(|v| f16::from_f32(*v)).collect();
        let mut got16 = vec![f16::from_f32(0.0); want.len()];
        o.run_f16(shape, &src16, &mut got16).expect("runs");
        for (i, (g, v)) in got16.iter().zip(want).enumerate() {
            assert!((g.to_f32() - v).abs() <= 0.02 * (1.0 + v.abs()), "{what} {shape:?} in f16 at {i}: {g} vs {v}");
        }
    }

    fn op(c: usize, relu: bool, pool: bool) -> DwConv3x3 {
        let weights = (0..c * 9).map(|i| ((i * 29 % 17) as f32 - 8.0) * 0.11).collect();
        let bias = (0..c).map(|i| i as f32 * 0.3 - 0.4).collect();
        DwConv3x3 { weights, bias, relu, pool, nhwc: false, stride2: false }
    }

    #[test]
    fn matches_the_definition_on_odd_and_tiny_planes() {
        for shape in [
            vec![1, 3, 5, 7],
            vec![2, 2, 6, 4],
            vec![3, 1, 1],
            vec![1, 2, 2, 2],
            vec![2, 3, 9, 33],
            vec![1, 1, 2, 1],
            vec![1, 2, 4, 34],
            vec![1, 2, 6, 70],
            vec![1, 1, 3, 98],
        ] {
            for (relu, pool) in [(false, false), (true, false), (true, true), (false, true)] {
                let o = op(shape[shape.len() - 3], relu, pool);
                let n: usize = shape.iter().product();
                let src: Vec<f32> = (0..n).map(|i| ((i * 7919 % 31) as f32 - 15.0) * 0.21).collect();
                check(&o, &shape, &src, &reference(&o, &shape, &src), &format!("relu {relu} pool {pool}"));
            }
        }
    }

    #[test]
    fn stride_two_matches_the_definition() {
        // A stride-2 convolution with padding 1 is the stride-1 one at even rows and columns.
        for shape in [
            vec![1, 3, 5, 7],
            vec![2, 2, 6, 4],
            vec![1, 2, 9, 33],
            vec![1, 1, 1, 1],
            vec![1, 4, 56, 56],
            vec![3, 14, 14],
            vec![1, 2, 7, 7],
            vec![1, 1, 2, 17],
        ] {
            for relu in [false, true] {
                let r = shape.len();
                let c = shape[r - 3];
                let s1 = op(c, relu, false);
                let s2 = DwConv3x3 { stride2: true, ..s1.clone() };
                let n: usize = shape.iter().product();
                let src: Vec<f32> = (0..n).map(|i| ((i * 7919 % 31) as f32 - 15.0) * 0.21).collect();
                let full = reference(&s1, &shape, &src);
                let (h, w) = (shape[r - 2], shape[r - 1]);
                let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
                let planes = n / (h * w);
                let want: Vec<f32> = (0..planes)
                    .flat_map(|p| (0..oh).flat_map(move |y| (0..ow).map(move |x| (p, y, x))))
                    .map(|(p, y, x)| full[(p * h + 2 * y) * w + 2 * x])
                    .collect();
                check(&s2, &shape, &src, &want, &format!("stride 2, relu {relu}"));
            }
        }
    }

    #[test]
    fn channels_last_matches_the_definition() {
        for (h, w, c) in [(1, 1, 1), (3, 5, 4), (6, 7, 10), (2, 40, 4), (5, 3, 10), (4, 9, 3), (60, 80, 10)] {
            for relu in [false, true] {
                let first = op(c, relu, false);
                let last = DwConv3x3 { nhwc: true, ..first.clone() };
                let n = h * w * c;
                let nchw: Vec<f32> = (0..n).map(|i| ((i * 7919 % 31) as f32 - 15.0) * 0.21).collect();
                // Channels-last: [(y, x, ch)] = [(ch, y, x)].
                let to_nhwc = |v: &[f32]| {
                    let mut t = vec![0f32; n];
                    for ch in 0..c {
                        for p in 0..h * w {
                            t[p * c + ch] = v[ch * h * w + p];
                        }
                    }
                    t
                };
                let want = to_nhwc(&reference(&first, &[1, c, h, w], &nchw));
                check(&last, &[1, h, w, c], &to_nhwc(&nchw), &want, &format!("channels last, relu {relu}"));
                check(&last, &[h, w, c], &to_nhwc(&nchw), &want, &format!("channels last (HWC), relu {relu}"));
            }
        }
        let last = DwConv3x3 { nhwc: true, ..op(4, false, false) };
        assert!(last.run_f32(&[1, 2, 2, 3], &[0.0; 12], &mut [0.0; 12]).is_err(), "3 channels last, 4 expected");
    }

    #[test]
    #[ignore = "timing: prints the op's time on YuNet's 64x120x160 layers"]
    fn dwconv_timing() {
        for (relu, pool, shape) in [(true, false, [1, 64, 120, 160]), (true, true, [1, 64, 120, 160]), (true, false, [1, 64, 30, 40])] {
            let o = op(64, relu, pool);
            let src: Vec<f32> = (0..shape.iter().product()).map(|i| (i % 255) as f32 - 100.0).collect();
            let mut dst = vec![0f32; o.output_shape(&shape).expect("shape").iter().product()];
            let mut t = Vec::new();
            for _ in 0..30 {
                let sw = crate::vision::profile::Stopwatch::start();
                o.run_f32(&shape, &src, &mut dst).expect("runs");
                t.push(sw.elapsed().as_secs_f64() * 1000.0);
            }
            t.sort_by(f64::total_cmp);
            eprintln!("dwconv {shape:?} relu {relu} pool {pool}: min {:.3} ms, median {:.3} ms", t[0], t[15]);
        }
    }

    #[test]
    fn refuses_a_shape_that_does_not_fit() {
        let o = op(3, true, false);
        assert!(o.run_f32(&[1, 2, 4, 4], &[0.0; 32], &mut [0.0; 32]).is_err());
        assert!(o.run_f32(&[4, 4], &[0.0; 16], &mut [0.0; 16]).is_err());
    }
}
