//! MaxPool with a 2x2 kernel and stride 2, no padding (ONNX `ceil_mode = 0`): each output pixel
//! the largest of its 2x2 block; an odd last row or column is dropped, as ONNX does.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use super::graph::concrete_shape;

/// Does this ONNX MaxPool node have exactly the attributes [`MaxPool2x2`] implements?
pub fn attributes_fit(node: &NodeProto) -> TractResult<bool> {
    let ints = |name: &str| -> TractResult<Option<Vec<i64>>> { node.get_attr_opt_vec::<i64>(name) };
    let int = |name: &str| -> TractResult<i64> { Ok(node.get_attr_opt::<i64>(name)?.unwrap_or(0)) };
    let auto_pad = node.get_attr_opt::<&str>("auto_pad")?.unwrap_or("NOTSET");
    Ok(node.output.iter().filter(|o| !o.is_empty()).count() == 1
        && ints("kernel_shape")?.as_deref() == Some(&[2, 2])
        && ints("strides")?.as_deref() == Some(&[2, 2])
        && ints("pads")?.is_none_or(|p| p.iter().all(|v| *v == 0))
        && ints("dilations")?.is_none_or(|d| d.iter().all(|v| *v == 1))
        && int("ceil_mode")? == 0
        && int("storage_order")? == 0
        && matches!(auto_pad, "NOTSET" | "VALID"))
}

/// Wires a [`MaxPool2x2`] when the input is a plain 4-D (NCHW) f32 or f16 tensor with concrete
/// dimensions; None otherwise (tract's lowering is used).
pub fn wire(prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<Option<TVec<OutletId>>> {
    let [x] = inputs else { return Ok(None) };
    let fact = model.outlet_fact(*x)?;
    let fits = fact.rank() == 4
        && fact.is_plain()
        && matches!(fact.datum_type, DatumType::F32 | DatumType::F16)
        && concrete_shape(fact).is_some_and(|s| s[2] >= 2 && s[3] >= 2);
    if !fits {
        return Ok(None);
    }
    Ok(Some(model.wire_node(format!("{prefix}.maxpool2x2"), MaxPool2x2, &[*x])?))
}

/// 2x2, stride 2 max pooling over the last two axes of an NCHW tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxPool2x2;

/// Output shape for an NCHW input shape.
fn output_shape(shape: &[usize]) -> TractResult<[usize; 4]> {
    let [n, c, h, w] = shape else { bail!("MaxPool2x2: input {shape:?} is not 4-D") };
    Ok([*n, *c, h / 2, w / 2])
}

/// Pools each `h` x `w` plane of `src` into `dst` (planes of `h/2` x `w/2`).
pub fn pool<T: Copy + PartialOrd + Default>(src: &[T], h: usize, w: usize, dst: &mut [T]) {
    let (oh, ow) = (h / 2, w / 2);
    if oh == 0 || ow == 0 {
        return;
    }
    let mut rowmax = vec![T::default(); 2 * ow];
    let max = |a: T, b: T| if b > a { b } else { a };
    for (plane, out) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(oh * ow)) {
        for (y, out_row) in out.chunks_exact_mut(ow).enumerate() {
            let r0 = &plane[2 * y * w..2 * y * w + 2 * ow];
            let r1 = &plane[(2 * y + 1) * w..(2 * y + 1) * w + 2 * ow];
            for ((m, a), b) in rowmax.iter_mut().zip(r0).zip(r1) {
                *m = max(*a, *b);
            }
            for (o, pair) in out_row.iter_mut().zip(rowmax.chunks_exact(2)) {
                *o = max(pair[0], pair[1]);
            }
        }
    }
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape().to_vec();
        let out_shape = output_shape(&shape)?;
        let (h, w) = (shape[2], shape[3]);
        let view = input.try_as_plain_ram()?;
        let mut out = Tensor::zero_dt(input.datum_type(), &out_shape)?;
        {
            let mut out_view = out.try_as_plain_ram_mut()?;
            match input.datum_type() {
                DatumType::F32 => pool(view.as_slice::<f32>()?, h, w, out_view.as_slice_mut::<f32>()?),
                DatumType::F16 => pool(view.as_slice::<f16>()?, h, w, out_view.as_slice_mut::<f16>()?),
                dt => bail!("MaxPool2x2: {dt:?} input not supported"),
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = concrete_shape(inputs[0]).ok_or_else(|| format_err!("MaxPool2x2 needs a concrete input shape"))?;
        Ok(tvec!(inputs[0].datum_type.fact(output_shape(&shape)?)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let count: TDim = inputs[0].shape.iter().product();
        Ok(tvec!((Cost::Buffer(inputs[0].datum_type), count)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: the largest of each 2x2 block, odd edges dropped.
    fn reference(src: &[f32], h: usize, w: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                let v =
                    [src[2 * y * w + 2 * x], src[2 * y * w + 2 * x + 1], src[(2 * y + 1) * w + 2 * x], src[(2 * y + 1) * w + 2 * x + 1]];
                out.push(v.iter().copied().fold(f32::NEG_INFINITY, f32::max));
            }
        }
        out
    }

    #[test]
    fn pools_even_and_odd_planes_as_defined() {
        for (h, w) in [(4, 6), (5, 7), (2, 2), (3, 2)] {
            let planes = 3;
            let src: Vec<f32> = (0..planes * h * w).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.5).collect();
            let mut dst = vec![0f32; planes * (h / 2) * (w / 2)];
            pool(&src, h, w, &mut dst);
            let want: Vec<f32> = src.chunks_exact(h * w).flat_map(|p| reference(p, h, w)).collect();
            assert_eq!(dst, want, "{h}x{w}");
        }
    }

    #[test]
    fn output_shape_floors_and_refuses_other_ranks() {
        assert_eq!(output_shape(&[1, 16, 321, 160]).expect("4-D"), [1, 16, 160, 80]);
        assert!(output_shape(&[16, 320, 320]).is_err());
    }
}
