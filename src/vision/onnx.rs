//! Loading an ONNX model into tract with a fixed input shape, optimised, ready to run.
//!
//! This is the only place that turns a model file into a runnable plan; the detector and the
//! embedder hold the plan and feed it tensors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

/// One output of a run: its name, shape and values.
pub type ShapedOutput = (String, Vec<usize>, Vec<f32>);

/// A model file that could not be made runnable.
#[derive(Debug, thiserror::Error)]
#[error("model {path}: {reason}")]
pub struct ModelError {
    pub path: PathBuf,
    pub reason: String,
}

/// How a model is lowered and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// tract threads (1 = tract's single-threaded default; more uses tract's multithreaded
    /// matrix products with a pool of this size).
    pub threads: usize,
    /// Use the fused lowerings of [`super::ops`] (PReLU, 2x2 max-pooling); false: tract's own.
    pub fused_ops: bool,
    /// Run the network in f16 (tract's `f32_to_f16` transform between decluttering and
    /// optimisation). Only sensible where [`super::fp16_supported`]: elsewhere tract emulates
    /// f16, about 200x slower.
    pub f16: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { threads: 1, fused_ops: true, f16: false }
    }
}

/// One output of a run: name, shape, values.
pub type NamedOutput = (String, Vec<usize>, Vec<f32>);

/// An optimised tract plan for one fixed-shape input.
pub struct Plan {
    plan: Arc<TypedRunnableModel>,
    output_names: Vec<String>,
    f16: bool,
    /// Multiply-accumulates per run, as the graph states them ([`super::profile::macs`]).
    macs: u64,
}

impl Plan {
    /// Loads `path`, fixes input 0 to `shape` (f32, NCHW), optimises it as `tuning` says. With
    /// `reshape`, the shapes stored in the file for intermediate and output tensors are ignored,
    /// so a fully convolutional model exported at one input size can run at another.
    pub fn load(path: &Path, shape: [usize; 4], tuning: Tuning, reshape: bool) -> Result<Self, ModelError> {
        Self::load_with_outputs(path, shape, tuning, reshape, &[])
    }

    /// As [`Plan::load`], and also exposes the intermediate tensors named `extra` (ONNX tensor
    /// names) as outputs after the model's own.
    pub fn load_with_outputs(path: &Path, shape: [usize; 4], tuning: Tuning, reshape: bool, extra: &[String]) -> Result<Self, ModelError> {
        let err = |e: anyhow::Error| ModelError { path: path.to_path_buf(), reason: format!("{e:#}") };
        if !path.is_file() {
            return Err(ModelError {
                path: path.to_path_buf(),
                reason: "file not found (run `rolemirror models fetch`, or point --models elsewhere)".into(),
            });
        }
        let mut onnx = tract_onnx::onnx().with_ignore_value_info(reshape).with_ignore_output_shapes(reshape);
        if tuning.fused_ops {
            super::ops::register(&mut onnx);
        }
        let mut model = onnx.model_for_path(path).map_err(|e| err(e.context("not a loadable ONNX model")))?;
        let mut outlets = model.output_outlets().map_err(err)?.to_vec();
        for name in extra {
            let outlet = model
                .find_outlet_label(name)
                .ok_or_else(|| ModelError { path: path.to_path_buf(), reason: format!("has no tensor named {name:?}") })?;
            outlets.push(outlet);
        }
        model.select_output_outlets(&outlets).map_err(err)?;
        let output_names =
            outlets.iter().map(|o| model.outlet_label(*o).map(str::to_string).unwrap_or_else(|| model.node(o.node).name.clone())).collect();
        let model = model
            .with_input_fact(0, f32::fact(shape).into())
            .map_err(err)?
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| err(e.context("tract could not analyse it")))?;
        let macs = super::profile::macs(&model);
        let model = if tuning.fused_ops { super::ops::fuse(model).map_err(|e| err(e.context("fusing convolutions")))? } else { model };
        let model = if tuning.f16 {
            let transform = tract_onnx::tract_core::transform::get_transform("f32_to_f16")
                .map_err(err)?
                .ok_or_else(|| ModelError { path: path.to_path_buf(), reason: "tract has no f32_to_f16 transform".into() })?;
            transform.transform_into(model).map_err(|e| err(e.context("f16 conversion failed")))?
        } else {
            model
        };
        let model = model.into_optimized().map_err(|e| err(e.context("tract could not optimise it")))?;
        let options = RunOptions {
            executor: (tuning.threads > 1).then(|| tract_linalg::multithread::Executor::multithread(tuning.threads)),
            ..Default::default()
        };
        let plan = model.into_runnable_with_options(&options).map_err(err)?;
        Ok(Plan { plan, output_names, f16: tuning.f16, macs })
    }

    /// Runs the plan on one NCHW f32 tensor and returns every output as a flat `Vec<f32>`,
    /// keyed by output name.
    pub fn run(&self, input: Tensor) -> anyhow::Result<Vec<(String, Vec<f32>)>> {
        Ok(self.run_shaped(input)?.into_iter().map(|(name, _, data)| (name, data)).collect())
    }

    /// As [`Plan::run`], with each output's shape.
    pub fn run_shaped(&self, input: Tensor) -> anyhow::Result<Vec<NamedOutput>> {
        let outputs = self.plan.run(tvec!(self.prepare(input)?.into()))?;
        let mut named = Vec::with_capacity(outputs.len());
        for (i, value) in outputs.iter().enumerate() {
            let name = self.output_names.get(i).cloned().unwrap_or_else(|| format!("output{i}"));
            let value = value.cast_to::<f32>()?;
            let view = value.to_plain_array_view::<f32>()?;
            named.push((name, view.shape().to_vec(), view.iter().copied().collect()));
        }
        Ok(named)
    }

    /// The input as the plan takes it (f16 plans take f16).
    fn prepare(&self, input: Tensor) -> anyhow::Result<Tensor> {
        Ok(if self.f16 { input.cast_to::<f16>()?.into_owned() } else { input })
    }

    /// Per-node medians of `runs` profiled runs on `input` (see [`super::profile`]).
    pub fn profile(&self, input: &Tensor, runs: usize) -> anyhow::Result<Vec<super::profile::NodeTime>> {
        super::profile::profile_plan(&self.plan, &self.prepare(input.clone())?, runs)
    }

    /// Multiply-accumulates per run (the decluttered graph's convolutions and matrix products).
    pub fn macs(&self) -> u64 {
        self.macs
    }

    /// Does this plan run in f16?
    pub fn is_f16(&self) -> bool {
        self.f16
    }

    /// Output names in model order (for matching decoder inputs to outputs).
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }
}

/// Builds an NCHW tensor of shape `[1, 3, h, w]` from a closure giving the value of channel c at
/// (x, y).
pub fn nchw_tensor(h: usize, w: usize, mut value: impl FnMut(usize, usize, usize) -> f32) -> anyhow::Result<Tensor> {
    let mut data = vec![0f32; 3 * h * w];
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                data[(c * h + y) * w + x] = value(c, x, y);
            }
        }
    }
    Tensor::from_shape(&[1, 3, h, w], &data)
}
