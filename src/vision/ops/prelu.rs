//! PReLU in one in-place pass: `y = x < 0 ? s[c]·x : x`, with one slope per channel (or one for
//! the whole tensor).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use super::graph::concrete_shape;

/// PReLU with a constant slope along one axis (`slope.len()` = that axis's size), or a single
/// slope for every element (`slope.len() == 1`). f32 and f16 tensors; works in place when the
/// input is not shared.
#[derive(Debug, Clone)]
pub struct FusedPrelu {
    /// The slopes, as f32.
    pub slope: Vec<f32>,
    /// The channel axis (ignored for a single slope).
    pub axis: usize,
}

impl PartialEq for FusedPrelu {
    fn eq(&self, other: &Self) -> bool {
        self.axis == other.axis
            && self.slope.len() == other.slope.len()
            && self.slope.iter().zip(&other.slope).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}
impl Eq for FusedPrelu {}

/// Wires a [`FusedPrelu`] for `inputs = [x, slope]` when the slope is a constant that is scalar
/// or varies along exactly one axis of `x` (after ONNX's right-aligned broadcasting), and `x` is
/// f32 or f16 with that axis concrete. None: the node does not fit (tract's lowering is used).
pub fn wire(prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<Option<TVec<OutletId>>> {
    let [x, slope] = inputs else { return Ok(None) };
    let x_fact = model.outlet_fact(*x)?.clone();
    let slope_fact = model.outlet_fact(*slope)?.clone();
    let Some(konst) = slope_fact.konst.clone() else {
        return Ok(None);
    };
    if !matches!(x_fact.datum_type, DatumType::F32 | DatumType::F16) || !x_fact.is_plain() {
        return Ok(None);
    }
    let Some(op) = fit(&x_fact, &konst)? else {
        return Ok(None);
    };
    Ok(Some(model.wire_node(format!("{prefix}.fused_prelu"), op, &[*x])?))
}

/// The fused op for an input fact and a constant slope, if they fit.
fn fit(x: &TypedFact, slope: &Tensor) -> TractResult<Option<FusedPrelu>> {
    let rank = x.rank();
    let sshape = slope.shape();
    if sshape.len() > rank || !slope.datum_type().is_float() {
        return Ok(None);
    }
    let values: Vec<f32> = slope.cast_to::<f32>()?.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    if values.len() == 1 {
        return Ok(Some(FusedPrelu { slope: values, axis: 0 }));
    }
    // Right-align the slope's shape with x's; exactly one axis may be larger than 1.
    let offset = rank - sshape.len();
    let varying: Vec<usize> = sshape.iter().enumerate().filter(|(_, d)| **d != 1).map(|(i, _)| i + offset).collect();
    let [axis] = varying[..] else { return Ok(None) };
    if x.shape[axis].to_usize().ok() != Some(values.len()) {
        return Ok(None);
    }
    Ok(Some(FusedPrelu { slope: values, axis }))
}

impl FusedPrelu {
    /// Applies the op in place to `data` laid out as `shape`.
    pub fn apply_f32(&self, shape: &[usize], data: &mut [f32]) -> TractResult<()> {
        if self.slope.len() == 1 {
            prelu_run(data, self.slope[0]);
            return Ok(());
        }
        let inner = self.inner(shape)?;
        for (run, s) in data.chunks_exact_mut(inner).zip(self.slope.iter().cycle()) {
            prelu_run(run, *s);
        }
        Ok(())
    }

    /// As [`FusedPrelu::apply_f32`], on f16 data (computed in f32, rounded once).
    pub fn apply_f16(&self, shape: &[usize], data: &mut [f16]) -> TractResult<()> {
        use tract_onnx::prelude::tract_data::half::slice::HalfFloatSliceExt;
        let inner = if self.slope.len() == 1 { data.len().max(1) } else { self.inner(shape)? };
        let mut buf = [0f32; 256];
        for (run, s) in data.chunks_exact_mut(inner).zip(self.slope.iter().cycle()) {
            for part in run.chunks_mut(buf.len()) {
                let b = &mut buf[..part.len()];
                part.convert_to_f32_slice(b);
                prelu_run(b, *s);
                part.convert_from_f32_slice(b);
            }
        }
        Ok(())
    }

    /// Elements per (outer, channel) run, after checking that `shape` fits the slopes.
    fn inner(&self, shape: &[usize]) -> TractResult<usize> {
        ensure!(
            shape.get(self.axis) == Some(&self.slope.len()),
            "PRelu: input shape {shape:?} has no axis {} of size {}",
            self.axis,
            self.slope.len()
        );
        Ok(shape[self.axis + 1..].iter().product::<usize>().max(1))
    }
}

/// `x < 0 ? s·x : x` over a run, branch-free so that it vectorises.
#[inline]
fn prelu_run(run: &mut [f32], s: f32) {
    for v in run {
        let x = *v;
        *v = if x < 0.0 { x * s } else { x };
    }
}

impl Op for FusedPrelu {
    fn name(&self) -> StaticName {
        "FusedPrelu".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{} slope(s) on axis {}", self.slope.len(), self.axis)])
    }

    op_as_typed_op!();
}

impl EvalOp for FusedPrelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        // In place when this op is the input's last user (tract releases it before the call).
        let mut t = input.into_tensor();
        let shape = t.shape().to_vec();
        match t.datum_type() {
            DatumType::F32 => self.apply_f32(&shape, t.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?)?,
            DatumType::F16 => self.apply_f16(&shape, t.try_as_plain_ram_mut()?.as_slice_mut::<f16>()?)?,
            dt => bail!("PRelu: {dt:?} input not supported"),
        }
        Ok(tvec!(t.into_tvalue()))
    }
}

impl TypedOp for FusedPrelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let fact = inputs[0].without_value();
        if self.slope.len() > 1 {
            if let Some(shape) = concrete_shape(&fact) {
                ensure!(shape.get(self.axis) == Some(&self.slope.len()), "PRelu: {shape:?} does not fit {} slopes", self.slope.len());
            }
        }
        Ok(tvec!(fact))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let count: TDim = inputs[0].shape.iter().product();
        Ok(tvec!((Cost::FMA(inputs[0].datum_type), count)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ONNX definition, element by element.
    fn reference(x: f32, s: f32) -> f32 {
        if x < 0.0 {
            s * x
        } else {
            x
        }
    }

    #[test]
    fn per_channel_slopes_including_negative_and_above_one() {
        // N=2, C=3, 2x2: slopes -0.5, 0.25, 1.5 — max(x, s·x) would be wrong for the first and last.
        let op = FusedPrelu { slope: vec![-0.5, 0.25, 1.5], axis: 1 };
        let shape = [2, 3, 2, 2];
        let x: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.7).collect();
        let mut y = x.clone();
        op.apply_f32(&shape, &mut y).expect("fits");
        for (i, (a, b)) in x.iter().zip(&y).enumerate() {
            let c = (i / 4) % 3;
            assert_eq!(*b, reference(*a, op.slope[c]), "element {i}");
        }
        let with_max = |i: usize, a: f32| a.max(a * op.slope[(i / 4) % 3]);
        assert!(x.iter().enumerate().any(|(i, a)| with_max(i, *a) != y[i]), "max(x, s·x) would differ");
    }

    #[test]
    fn scalar_slope_zero_nan_and_f16() {
        let op = FusedPrelu { slope: vec![0.1], axis: 0 };
        let mut y = vec![-2.0, -0.0, 0.0, 3.0, f32::NAN];
        op.apply_f32(&[5], &mut y).expect("fits");
        assert_eq!(&y[..4], &[-0.2f32, -0.0, 0.0, 3.0]);
        assert!(y[4].is_nan());
        let per_channel = FusedPrelu { slope: vec![-1.0, 2.0], axis: 0 };
        let mut h: Vec<f16> = [-1.5f32, 2.0, -3.0, 4.0].iter().map(|v| f16::from_f32(*v)).collect();
        per_channel.apply_f16(&[2, 2], &mut h).expect("fits");
        let back: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
        assert_eq!(back, vec![1.5, 2.0, -6.0, 4.0]);
    }

    #[test]
    fn a_shape_that_does_not_fit_is_an_error_not_a_panic() {
        let op = FusedPrelu { slope: vec![1.0, 2.0, 3.0], axis: 1 };
        assert!(op.apply_f32(&[1, 2, 2], &mut [0.0; 4]).is_err());
        assert!(op.apply_f32(&[1], &mut [0.0; 1]).is_err());
    }

    #[test]
    fn fits_constant_channel_slopes_only() {
        let x = f32::fact([1, 4, 3, 3]);
        let chw = Tensor::from_shape(&[4, 1, 1], &[1f32, 2.0, 3.0, 4.0]).expect("tensor");
        assert_eq!(fit(&x, &chw).expect("ok").map(|o| o.axis), Some(1));
        let flat = Tensor::from_shape(&[4], &[1f32, 2.0, 3.0, 4.0]).expect("tensor");
        assert_eq!(fit(&x, &flat).expect("ok"), None, "[4] aligns with the last axis (size 3): no fit");
        let spatial = Tensor::from_shape(&[3, 3], &[0.5f32; 9]).expect("tensor");
        assert_eq!(fit(&x, &spatial).expect("ok"), None, "two varying axes");
        let scalar = Tensor::from_shape(&[1], &[0.5f32]).expect("tensor");
        assert_eq!(fit(&x, &scalar).expect("ok").map(|o| o.slope), Some(vec![0.5]));
    }
}
