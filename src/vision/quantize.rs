//! Int8 weight quantization of an ONNX model (`rolemirror models quantize`, and the manifest's
//! `derived = { by = "int8-weights" }` entries that `models fetch` rebuilds).
//!
//! Every Conv weight with at least `min_elements` values is replaced by int8 values and one
//! float scale per output channel (symmetric: `scale = max|w| / 127`, `q = round(w / scale)`),
//! followed by `Cast(int8 -> float)` and `Mul(scale)` nodes that give the Conv its float weight
//! back. The file is about 3.5x smaller; tract folds the Cast/Mul constants at load, so the
//! network then runs the same fp32 kernels as the original (no speed cost, and no speed gain:
//! see the README for what true int8 compute would take). Biases, PReLU slopes and other small
//! tensors stay float. The output depends only on the input bytes and `min_elements`, so the
//! manifest can pin its sha256.
//!
//! It lives in `vision` because it rewrites the ONNX graph through tract's protobuf types
//! (`tract_onnx::pb`), and only `vision` knows tract; `models::fetch` is below `vision`, so it
//! is handed [`int8_weights`] by its callers rather than calling it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use prost::Message;
use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

/// Tensors smaller than this stay float by default.
pub const DEFAULT_MIN_ELEMENTS: usize = 1024;

/// What [`quantize`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct QuantizeReport {
    pub tensors: usize,
    pub values: usize,
    pub bytes_before: usize,
    pub bytes_after: usize,
}

/// Reads the float values of a tensor (raw little-endian or `float_data`).
fn float_values(t: &pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != DataType::Float as i32 {
        return None;
    }
    if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(4) {
            return None;
        }
        return Some(t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
    }
    Some(t.float_data.clone())
}

/// The manifest's `int8-weights` derivation: [`quantize`] with [`DEFAULT_MIN_ELEMENTS`], the
/// new model's bytes (what `models fetch` checks against the pinned sha256).
pub fn int8_weights(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(quantize(bytes, DEFAULT_MIN_ELEMENTS)?.0)
}

/// Writes the quantized form of `input` to `output` (the `models quantize` command).
pub fn quantize_file(input: &Path, output: &Path, min_elements: usize) -> anyhow::Result<QuantizeReport> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let (out, report) = quantize(&bytes, min_elements).with_context(|| format!("quantizing {}", input.display()))?;
    crate::util::write_atomic(output, &out).with_context(|| format!("writing {}", output.display()))?;
    Ok(report)
}

/// Per-output-channel symmetric int8: returns (int8 values, one scale per channel).
pub fn quantize_per_channel(values: &[f32], channels: usize) -> Option<(Vec<i8>, Vec<f32>)> {
    if channels == 0 || !values.len().is_multiple_of(channels) || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let per = values.len() / channels;
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(channels);
    for chunk in values.chunks_exact(per) {
        let max = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(scale);
        q.extend(chunk.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8));
    }
    Some((q, scales))
}

/// Quantizes the Conv weights of the ONNX model in `bytes`; returns the new model's bytes.
pub fn quantize(bytes: &[u8], min_elements: usize) -> anyhow::Result<(Vec<u8>, QuantizeReport)> {
    let mut model = pb::ModelProto::decode(bytes).context("not an ONNX model (protobuf does not decode)")?;
    let graph = model.graph.as_mut().context("ONNX model has no graph")?;
    let mut report = QuantizeReport { bytes_before: bytes.len(), ..Default::default() };

    // Conv weight names (input 1), in node order.
    let mut weights: Vec<String> = Vec::new();
    for node in &graph.node {
        if node.op_type == "Conv" {
            if let Some(w) = node.input.get(1) {
                if !weights.contains(w) {
                    weights.push(w.clone());
                }
            }
        }
    }
    // Where each weight lives: an initializer or a Constant node's `value`.
    let init_index: HashMap<String, usize> = graph.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let const_index: HashMap<String, usize> = graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Constant" && n.output.len() == 1)
        .map(|(i, n)| (n.output[0].clone(), i))
        .collect();

    let mut new_nodes = Vec::new();
    let mut drop_inits = Vec::new();
    let mut drop_nodes = Vec::new();
    let mut new_inits = Vec::new();
    for name in &weights {
        let tensor = if let Some(&i) = init_index.get(name) {
            graph.initializer.get(i).cloned()
        } else if let Some(&i) = const_index.get(name) {
            graph.node[i].attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.clone())
        } else {
            None
        };
        let Some(tensor) = tensor else { continue };
        let Some(values) = float_values(&tensor) else { continue };
        let channels = tensor.dims.first().copied().unwrap_or(0).max(0) as usize;
        if values.len() < min_elements || tensor.dims.len() < 2 {
            continue;
        }
        let Some((q, scales)) = quantize_per_channel(&values, channels) else { continue };
        let q_name = format!("{name}__int8");
        let qf_name = format!("{name}__int8_f32");
        let s_name = format!("{name}__scale");
        let mut scale_dims = vec![channels as i64];
        scale_dims.extend(std::iter::repeat_n(1i64, tensor.dims.len() - 1));
        new_inits.push(pb::TensorProto {
            name: q_name.clone(),
            dims: tensor.dims.clone(),
            data_type: DataType::Int8 as i32,
            raw_data: q.iter().map(|v| *v as u8).collect(),
            ..Default::default()
        });
        new_inits.push(pb::TensorProto {
            name: s_name.clone(),
            dims: scale_dims,
            data_type: DataType::Float as i32,
            raw_data: scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
            ..Default::default()
        });
        new_nodes.push(pb::NodeProto {
            name: format!("{name}__dequant_cast"),
            op_type: "Cast".into(),
            input: vec![q_name],
            output: vec![qf_name.clone()],
            attribute: vec![pb::AttributeProto {
                name: "to".into(),
                r#type: AttributeType::Int as i32,
                i: DataType::Float as i64,
                ..Default::default()
            }],
            ..Default::default()
        });
        new_nodes.push(pb::NodeProto {
            name: format!("{name}__dequant_mul"),
            op_type: "Mul".into(),
            input: vec![qf_name, s_name],
            output: vec![name.clone()],
            ..Default::default()
        });
        if let Some(&i) = init_index.get(name) {
            drop_inits.push(i);
        } else if let Some(&i) = const_index.get(name) {
            drop_nodes.push(i);
        }
        report.tensors += 1;
        report.values += values.len();
    }
    if report.tensors == 0 {
        bail!("no Conv weight with at least {min_elements} float values: nothing to quantize");
    }
    let dropped: std::collections::HashSet<String> =
        drop_inits.iter().filter_map(|&i| graph.initializer.get(i).map(|t| t.name.clone())).collect();
    let mut i = 0;
    graph.initializer.retain(|_| {
        i += 1;
        !drop_inits.contains(&(i - 1))
    });
    let mut i = 0;
    graph.node.retain(|_| {
        i += 1;
        !drop_nodes.contains(&(i - 1))
    });
    // Older IR versions also list initializers as graph inputs; a name now produced by a node
    // must not stay an input.
    graph.input.retain(|v| !dropped.contains(&v.name));
    graph.initializer.extend(new_inits);
    new_nodes.append(&mut graph.node);
    graph.node = new_nodes;
    model.doc_string =
        format!("{} [rolemirror: Conv weights quantized to int8 per output channel, min_elements={min_elements}]", model.doc_string)
            .trim()
            .to_string();
    let out = model.encode_to_vec();
    report.bytes_after = out.len();
    Ok((out, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_quantization_is_symmetric_and_bounded() {
        let values = [0.5, -1.0, 0.25, 0.0, 2.0, -0.002];
        let (q, s) = quantize_per_channel(&values, 2).expect("valid");
        assert_eq!(s.len(), 2);
        assert!((s[0] - 1.0 / 127.0).abs() < 1e-7);
        assert_eq!(q[1], -127);
        assert_eq!(q[4], 127);
        for (i, v) in values.iter().enumerate() {
            let back = f32::from(q[i]) * s[i / 3];
            assert!((back - v).abs() <= s[i / 3] / 2.0 + 1e-7, "{i}: {back} vs {v}");
        }
        assert!(quantize_per_channel(&values, 4).is_none());
        assert!(quantize_per_channel(&[f32::NAN, 1.0], 1).is_none());
        // An all-zero channel gets scale 1 and zeros, not a division by zero.
        let (q, s) = quantize_per_channel(&[0.0, 0.0], 1).expect("valid");
        assert_eq!((q, s), (vec![0, 0], vec![1.0]));
    }

    #[test]
    fn refuses_garbage() {
        assert!(quantize(b"\xff\xff\xff not a model", 16).is_err());
    }
}
