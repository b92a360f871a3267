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

/// An optimised tract plan for one fixed-shape input.
pub struct Plan {
    plan: Arc<TypedRunnableModel>,
    output_names: Vec<String>,
}

impl Plan {
    /// Loads `path`, fixes input 0 to `shape` (f32, NCHW), optimises it, and sets its thread count
    /// (1 = tract's single-threaded default). With `reshape`, the shapes stored in the file for
    /// intermediate and output tensors are ignored, so a fully convolutional model exported at
    /// one input size can run at another.
    pub fn load(path: &Path, shape: [usize; 4], threads: usize, reshape: bool) -> Result<Self, ModelError> {
        Self::load_with_outputs(path, shape, threads, reshape, &[])
    }

    /// As [`Plan::load`], and also exposes the intermediate tensors named `extra` (ONNX tensor
    /// names) as outputs after the model's own.
    pub fn load_with_outputs(path: &Path, shape: [usize; 4], threads: usize, reshape: bool, extra: &[String]) -> Result<Self, ModelError> {
        let err = |e: anyhow::Error| ModelError { path: path.to_path_buf(), reason: format!("{e:#}") };
        if !path.is_file() {
            return Err(ModelError {
                path: path.to_path_buf(),
                reason: "file not found (run `rolemirror models fetch`, or point --models elsewhere)".into(),
            });
        }
        let model = tract_onnx::onnx()
            .with_ignore_value_info(reshape)
            .with_ignore_output_shapes(reshape)
            .model_for_path(path)
            .map_err(|e| err(e.context("not a loadable ONNX model")))?;
        let mut model = model;
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
            .into_optimized()
            .map_err(|e| err(e.context("tract could not optimise it")))?;
        let options =
            RunOptions { executor: (threads > 1).then(|| tract_linalg::multithread::Executor::multithread(threads)), ..Default::default() };
        let plan = model.into_runnable_with_options(&options).map_err(err)?;
        Ok(Plan { plan, output_names })
    }

    /// Runs the plan on one NCHW f32 tensor and returns every output as a flat `Vec<f32>`,
    /// keyed by output name.
    pub fn run(&self, input: Tensor) -> anyhow::Result<Vec<(String, Vec<f32>)>> {
        Ok(self.run_shaped(input)?.into_iter().map(|(name, _, data)| (name, data)).collect())
    }

    /// As [`Plan::run`], with each output's shape.
    pub fn run_shaped(&self, input: Tensor) -> anyhow::Result<Vec<ShapedOutput>> {
        let outputs = self.plan.run(tvec!(input.into()))?;
        let mut named = Vec::with_capacity(outputs.len());
        for (i, value) in outputs.iter().enumerate() {
            let name = self.output_names.get(i).cloned().unwrap_or_else(|| format!("output{i}"));
            let view = value.to_plain_array_view::<f32>()?;
            named.push((name, view.shape().to_vec(), view.iter().copied().collect()));
        }
        Ok(named)
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
