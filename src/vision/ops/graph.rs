//! Reading a decluttered tract graph for the fusion passes: constants, single users, the ReLU
//! pattern, and the pass loop that replaces every match of a pattern with one op; and what the
//! fused ops share as tract ops ([`PlanarOp`]: one f32 or f16 input, one output of a computed
//! shape, every element written).
//!
//! The layer below the fused ops ([`super::dwconv`], [`super::stem`], [`super::pwdw`]): they
//! import from here and from [`super::rows`], never from each other.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;

/// Concrete dimensions of a fact, or None when any is symbolic.
pub fn concrete_shape(fact: &TypedFact) -> Option<Vec<usize>> {
    fact.shape.iter().map(|d| d.to_usize().ok()).collect()
}

/// The constant values of an outlet as f32, if it is a constant.
pub fn konst_f32(model: &TypedModel, outlet: OutletId) -> Option<Vec<f32>> {
    let k = model.outlet_fact(outlet).ok()?.konst.clone()?;
    let k = k.cast_to::<f32>().ok()?;
    Some(k.try_as_plain_ram().ok()?.as_slice::<f32>().ok()?.to_vec())
}

/// A per-channel constant (a bias) of `c` values, or one value for all of them, as `c` values.
pub fn per_channel(model: &TypedModel, outlet: OutletId, c: usize) -> Option<Vec<f32>> {
    match konst_f32(model, outlet)? {
        b if b.len() == c => Some(b),
        b if b.len() == 1 => Some(vec![b[0]; c]),
        _ => None,
    }
}

/// The only user of an outlet that is not a model output, if it has exactly one.
pub fn sole_successor(model: &TypedModel, outlet: OutletId) -> Option<&TypedNode> {
    let succ = &model.outlet_successors(outlet);
    if succ.len() != 1 || model.output_outlets().ok()?.contains(&outlet) {
        return None;
    }
    Some(model.node(succ[0].node))
}

/// Is this node `max(x, 0)` of the outlet `x`?
pub fn is_relu_of(model: &TypedModel, node: &TypedNode, x: OutletId) -> bool {
    let Some(bin) = node.op_as::<TypedBinOp>() else {
        return false;
    };
    if !bin.0.is::<tract_onnx::tract_core::ops::math::Max>() || node.inputs.len() != 2 {
        return false;
    }
    let other = if node.inputs[0] == x { node.inputs[1] } else { node.inputs[0] };
    (node.inputs[0] == x || node.inputs[1] == x) && konst_f32(model, other).is_some_and(|v| v.len() == 1 && v[0] == 0.0)
}

/// Is this node `x + bias` with a constant bias that broadcasts along the channel axis only
/// (the axis before the last two of a rank-`rank` tensor)? Returns the `c` biases.
pub fn channel_bias_of(model: &TypedModel, node: &TypedNode, x: OutletId, c: usize, rank: usize) -> Option<Vec<f32>> {
    let bin = node.op_as::<TypedBinOp>()?;
    if !bin.0.is::<tract_onnx::tract_core::ops::math::Add>() || node.inputs.len() != 2 || node.inputs[0] != x {
        return None;
    }
    let shape = model.outlet_fact(node.inputs[1]).ok()?.shape.as_concrete()?.to_vec();
    if shape.iter().product::<usize>() != c || shape.len() > rank || shape.iter().rev().take(2).any(|d| *d != 1) {
        return None;
    }
    konst_f32(model, node.inputs[1])
}

/// Replaces every match of a pattern in a decluttered model, one at a time in evaluation order:
/// `matcher` looks at a node and returns the op that replaces it and the outlet (the node's own
/// or a later one in its chain) whose users take the op's output instead. `what` names the
/// patches.
pub fn fuse_each<O: TypedOp>(
    mut model: TypedModel,
    what: &str,
    matcher: impl Fn(&TypedModel, &TypedNode) -> Option<(O, OutletId)>,
) -> TractResult<TypedModel> {
    loop {
        let mut found = None;
        for id in model.eval_order()? {
            let node = model.node(id);
            if let Some((op, last)) = matcher(&model, node) {
                let mut patch = TypedModelPatch::new(format!("fuse {what} {}", node.name));
                let x = patch.tap_model(&model, node.inputs[0])?;
                let out = patch.wire_node(format!("{}.{what}", node.name), op, &[x])?;
                patch.shunt_outside(&model, last, out[0])?;
                found = Some(patch);
                break;
            }
        }
        match found {
            Some(patch) => patch.apply(&mut model)?,
            None => break,
        }
    }
    model.into_compact()
}

/// A fused op over one f32 or f16 tensor (f16 computed in f32): its output shape and its two
/// runs. [`PlanarOp::eval_planar`] and [`PlanarOp::planar_facts`] are its `EvalOp::eval` and
/// `TypedOp::output_facts`.
pub trait PlanarOp {
    /// Names the op in errors ("depthwise conv", "stem", …).
    const WHAT: &'static str;
    fn output_shape(&self, shape: &[usize]) -> TractResult<TVec<usize>>;
    /// Writes every element of `dst` (of the output shape).
    fn run_f32(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()>;
    /// As `run_f32` on f16 data.
    fn run_f16(&self, shape: &[usize], src: &[f16], dst: &mut [f16]) -> TractResult<()>;

    fn eval_planar(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape().to_vec();
        let out_shape = self.output_shape(&shape)?;
        let view = input.try_as_plain_ram()?;
        // SAFETY: `run_f32` / `run_f16` write every element of the output.
        let mut out = unsafe { Tensor::uninitialized_dt(input.datum_type(), &out_shape)? };
        {
            let mut out_view = out.try_as_plain_ram_mut()?;
            match input.datum_type() {
                DatumType::F32 => self.run_f32(&shape, view.as_slice::<f32>()?, out_view.as_slice_mut::<f32>()?)?,
                DatumType::F16 => self.run_f16(&shape, view.as_slice::<f16>()?, out_view.as_slice_mut::<f16>()?)?,
                dt => bail!("{}: {dt:?} input not supported", Self::WHAT),
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }

    fn planar_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = concrete_shape(inputs[0]).ok_or_else(|| format_err!("{} needs a concrete input shape", Self::WHAT))?;
        Ok(tvec!(inputs[0].datum_type.fact(&*self.output_shape(&shape)?)))
    }
}

/// `impl PlanarOp` for an op type from its inherent `output_shape`, `run_f32` and `run_f16`.
macro_rules! planar_op {
    ($t:ty, $what:literal) => {
        impl $crate::vision::ops::graph::PlanarOp for $t {
            const WHAT: &'static str = $what;
            fn output_shape(&self, shape: &[usize]) -> TractResult<TVec<usize>> {
                <$t>::output_shape(self, shape)
            }
            fn run_f32(&self, shape: &[usize], src: &[f32], dst: &mut [f32]) -> TractResult<()> {
                <$t>::run_f32(self, shape, src, dst)
            }
            fn run_f16(&self, shape: &[usize], src: &[f16], dst: &mut [f16]) -> TractResult<()> {
                <$t>::run_f16(self, shape, src, dst)
            }
        }
    };
}
pub(crate) use planar_op;
