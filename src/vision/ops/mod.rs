//! Faster lowerings of two ONNX operators, registered in tract's ONNX loader.
//!
//! Profiling the models per node (see [`super::profile`] and `rolemirror bench`) showed where
//! tract's own lowerings cost more than the work they do:
//!
//! - `PRelu` (MobileFaceNet: 33 of them) becomes three tensor ops in tract 0.23 — a multiply
//!   by the slope, a comparison with zero and a select — each a full pass over the activation,
//!   one of them a copy. Together they took about 70 % of the embedder's time.
//!   [`prelu::FusedPrelu`] does it in one in-place pass: `x < 0 ? s[c]·x : x` per channel.
//!   (`max(x, s·x)` is not the same function when a slope is negative or above 1, and this
//!   model has both.)
//! - `MaxPool` with a 2x2 kernel and stride 2 (YuNet: 4 of them) goes through tract's general
//!   pooling, which visits every window through an offset table; about 17 % of the detector's
//!   time. [`maxpool::MaxPool2x2`] reads each pair of input rows once.
//!
//! Both are substitutions that keep tract's own lowering as the fallback: the loader asks
//! tract's builder for its operator first, and wires the fast op only when the node fits
//! (a constant per-channel or scalar slope; a 2x2/2 unpadded pool on a 4-D f32/f16 tensor).
//! Anything else — a slope computed at run time, another kernel size, padding — is wired by
//! tract exactly as before. [`register`] installs them; `VisionOptions::fused_ops = false`
//! loads without them (the tests compare both graphs).
//!
//! Then [`fuse`] replaces chains of the decluttered graph with one op each: [`stem`] (YuNet's
//! first convolutions), [`pwdw`] (a 1x1 convolution with the depthwise one after it) and
//! [`dwconv`] (the other depthwise 3x3 convolutions, with what follows them).
//! Layers, bottom up: [`graph`] (reading the graph, the pass loop), [`rows`] (the
//! compiler-vectorised row kernels), [`simd`] (run-time choice of the vector instruction set)
//! and [`pointwise`] (the explicit-SIMD 1x1 kernel), then the ops. An op module imports no other op module, except for the op types a pattern matches
//! ([`maxpool::MaxPool2x2`], [`prelu::FusedPrelu`]), which are leaves.

pub mod dwconv;
mod graph;
pub mod maxpool;
pub mod pointwise;
pub mod prelu;
pub mod pwdw;
mod rows;
pub mod simd;
pub mod stem;

use std::sync::OnceLock;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

type Builder = fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// tract's own builders for the operators replaced here, taken from a fresh ONNX framework.
fn tract_builder(op: &str) -> TractResult<Builder> {
    static BUILDERS: OnceLock<(Option<Builder>, Option<Builder>)> = OnceLock::new();
    let (prelu, maxpool) = BUILDERS.get_or_init(|| {
        let onnx = tract_onnx::onnx();
        (onnx.op_register.0.get("PRelu").copied(), onnx.op_register.0.get("MaxPool").copied())
    });
    let found = match op {
        "PRelu" => *prelu,
        "MaxPool" => *maxpool,
        _ => None,
    };
    found.ok_or_else(|| format_err!("tract has no ONNX builder for {op}"))
}

/// Installs the fused lowerings in an ONNX framework (see the module docs).
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert("PRelu", build_prelu);
    onnx.op_register.insert("MaxPool", build_maxpool);
}

fn build_prelu(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let (fallback, closures) = (tract_builder("PRelu")?)(ctx, node)?;
    Ok((expand(Substitute { kind: Kind::Prelu, fallback }), closures))
}

fn build_maxpool(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let (fallback, closures) = (tract_builder("MaxPool")?)(ctx, node)?;
    if !maxpool::attributes_fit(node)? {
        return Ok((fallback, closures));
    }
    Ok((expand(Substitute { kind: Kind::MaxPool2x2, fallback }), closures))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Prelu,
    MaxPool2x2,
}

/// tract's expansion of an operator, with a faster op wired instead where the node fits.
#[derive(Debug, Clone)]
struct Substitute {
    kind: Kind,
    /// What tract's builder made for this node.
    fallback: Box<dyn InferenceOp>,
}

impl Substitute {
    fn tract_expansion(&self) -> TractResult<&dyn Expansion> {
        self.fallback
            .as_op()
            .downcast_ref::<Box<dyn Expansion>>()
            .map(|b| b.as_ref())
            .ok_or_else(|| format_err!("tract's {:?} lowering is not an expansion", self.kind))
    }

    /// The fast op's outputs, or None when this node does not fit it.
    fn try_fast(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<Option<TVec<OutletId>>> {
        match self.kind {
            Kind::Prelu => prelu::wire(prefix, model, inputs),
            Kind::MaxPool2x2 => maxpool::wire(prefix, model, inputs),
        }
    }
}

impl Expansion for Substitute {
    fn name(&self) -> StaticName {
        match self.kind {
            Kind::Prelu => "Prelu".into(),
            Kind::MaxPool2x2 => "MaxPool".into(),
        }
    }

    fn nboutputs(&self) -> TractResult<usize> {
        self.tract_expansion()?.nboutputs()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(&'s self, s: &mut Solver<'r>, inputs: &'p [TensorProxy], outputs: &'p [TensorProxy]) -> InferenceResult {
        self.tract_expansion()?.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        match self.try_fast(prefix, model, inputs)? {
            Some(wires) => Ok(wires),
            None => self.tract_expansion()?.wire(prefix, model, inputs),
        }
    }

    fn wire_with_inference_model_and_node(
        &self,
        prefix: &str,
        model: &InferenceModel,
        node: &InferenceNode,
        typed_model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        match self.try_fast(prefix, typed_model, inputs)? {
            Some(wires) => Ok(wires),
            None => self.tract_expansion()?.wire_with_inference_model_and_node(prefix, model, node, typed_model, inputs),
        }
    }
}

/// The graph-level fusions ([`stem`], then [`pwdw`], then [`dwconv`] for the depthwise
/// convolutions left) on a decluttered model, before tract's optimiser.
pub fn fuse(model: TypedModel) -> TractResult<TypedModel> {
    dwconv::fuse(pwdw::fuse(stem::fuse(model)?)?)
}

#[cfg(test)]
mod tests {
    //! Small ONNX graphs built here, loaded with and without the substitutions: which op gets
    //! wired, and that both give the same numbers.

    use prost::Message;
    use tract_onnx::pb::{self, tensor_shape_proto::dimension, type_proto};

    use super::*;

    fn value_info(name: &str, shape: &[i64]) -> pb::ValueInfoProto {
        let dim = shape
            .iter()
            .map(|d| pb::tensor_shape_proto::Dimension { value: Some(dimension::Value::DimValue(*d)), ..Default::default() })
            .collect();
        let tensor = type_proto::Tensor { elem_type: pb::tensor_proto::DataType::Float as i32, shape: Some(pb::TensorShapeProto { dim }) };
        pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
            ..Default::default()
        }
    }

    fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            ints: v.to_vec(),
            r#type: pb::attribute_proto::AttributeType::Ints as i32,
            ..Default::default()
        }
    }

    fn model(node: pb::NodeProto, inits: Vec<pb::TensorProto>, x: &[i64], y: &[i64]) -> Vec<u8> {
        let graph = pb::GraphProto {
            node: vec![node],
            name: "g".into(),
            initializer: inits,
            input: vec![value_info("x", x)],
            output: vec![value_info("y", y)],
            ..Default::default()
        };
        let m = pb::ModelProto {
            ir_version: 7,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 11 }],
            graph: Some(graph),
            ..Default::default()
        };
        m.encode_to_vec()
    }

    fn slope_init(dims: &[i64], values: &[f32]) -> pb::TensorProto {
        pb::TensorProto {
            name: "slope".into(),
            dims: dims.to_vec(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: values.to_vec(),
            ..Default::default()
        }
    }

    /// Loads the model bytes (fused or not), runs it on `x`, returns the op names and the output.
    fn run(bytes: &[u8], fused: bool, x: Tensor) -> (Vec<String>, Vec<f32>) {
        let mut onnx = tract_onnx::onnx();
        if fused {
            register(&mut onnx);
        }
        let plan = onnx
            .model_for_read(&mut &bytes[..])
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .unwrap_or_else(|e| panic!("{e:#}"));
        let ops = plan.model().nodes().iter().map(|n| n.op().name().to_string()).collect();
        let out = plan.run(tvec!(x.into())).unwrap_or_else(|e| panic!("{e:#}"));
        let y = out[0].to_plain_array_view::<f32>().expect("f32").iter().copied().collect();
        (ops, y)
    }

    fn input(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| ((i * 7919 % 23) as f32 - 11.0) * 0.37).collect();
        Tensor::from_shape(shape, &data).expect("tensor")
    }

    fn prelu_node(slope: &str) -> pb::NodeProto {
        pb::NodeProto {
            input: vec!["x".into(), slope.into()],
            output: vec!["y".into()],
            op_type: "PRelu".into(),
            name: "p".into(),
            ..Default::default()
        }
    }

    #[test]
    fn constant_channel_slope_is_fused_and_agrees_with_tract() {
        let slopes = [-0.5f32, 0.25, 1.5];
        let bytes = model(prelu_node("slope"), vec![slope_init(&[3, 1, 1], &slopes)], &[1, 3, 4, 5], &[1, 3, 4, 5]);
        let (ops, fused) = run(&bytes, true, input(&[1, 3, 4, 5]));
        assert!(ops.iter().any(|o| o == "FusedPrelu"), "{ops:?}");
        let (ops, tract) = run(&bytes, false, input(&[1, 3, 4, 5]));
        assert!(!ops.iter().any(|o| o == "FusedPrelu"), "{ops:?}");
        assert_eq!(fused, tract);
    }

    #[test]
    fn a_slope_from_the_input_or_varying_on_two_axes_falls_back_to_tract() {
        // slope = x itself: not a constant.
        let bytes = model(prelu_node("x"), vec![], &[1, 2, 3, 3], &[1, 2, 3, 3]);
        let (ops, y) = run(&bytes, true, input(&[1, 2, 3, 3]));
        assert!(!ops.iter().any(|o| o == "FusedPrelu"), "{ops:?}");
        let x = input(&[1, 2, 3, 3]);
        let want: Vec<f32> = x.to_plain_array_view::<f32>().expect("f32").iter().map(|v| if *v < 0.0 { v * v } else { *v }).collect();
        assert_eq!(y, want);
        // A constant slope varying over H and W.
        let spatial: Vec<f32> = (0..9).map(|i| i as f32 * 0.1 - 0.3).collect();
        let bytes = model(prelu_node("slope"), vec![slope_init(&[3, 3], &spatial)], &[1, 2, 3, 3], &[1, 2, 3, 3]);
        let (ops, fused) = run(&bytes, true, input(&[1, 2, 3, 3]));
        assert!(!ops.iter().any(|o| o == "FusedPrelu"), "{ops:?}");
        assert_eq!(fused, run(&bytes, false, input(&[1, 2, 3, 3])).1);
    }

    #[test]
    fn maxpool_2x2_is_replaced_and_other_pools_are_not() {
        let pool = |attrs: Vec<pb::AttributeProto>| pb::NodeProto {
            input: vec!["x".into()],
            output: vec!["y".into()],
            op_type: "MaxPool".into(),
            name: "m".into(),
            attribute: attrs,
            ..Default::default()
        };
        let bytes = model(pool(vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])]), vec![], &[1, 3, 7, 6], &[1, 3, 3, 3]);
        let (ops, fused) = run(&bytes, true, input(&[1, 3, 7, 6]));
        assert!(ops.iter().any(|o| o == "MaxPool2x2"), "{ops:?}");
        assert_eq!(fused, run(&bytes, false, input(&[1, 3, 7, 6])).1);
        let bytes = model(
            pool(vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1])]),
            vec![],
            &[1, 3, 8, 8],
            &[1, 3, 4, 4],
        );
        let (ops, _) = run(&bytes, true, input(&[1, 3, 8, 8]));
        assert!(!ops.iter().any(|o| o == "MaxPool2x2"), "{ops:?}");
    }
}
