//! The training loop's engine: params and optimizer state stay resident between steps, and each step is
//! one call of the step graph (forward + backward + update) built by [`irc_passes::build_train_step`].

use std::collections::HashMap;
use std::path::Path;

use irc_ir::{DType, Graph};
use irc_passes::{AutodiffError, LR_INPUT, Optimizer, STEP_INPUT, TrainStep, build_train_step};
use thiserror::Error;

use crate::{BackendKind, Engine, FormatError, RunError, Tensor, init_params, load_safetensors, save_safetensors};

/// The checkpoint entry that records how many steps were taken.
pub const STEP_KEY: &str = "train.steps_done";

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("model has no scalar output `{0}` to minimize")]
    NoLoss(String),
    #[error("{0}")]
    Grad(#[from] AutodiffError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Format(#[from] FormatError),
    #[error("checkpoint {path} does not fit this model: {why}")]
    Checkpoint { path: String, why: String },
    #[error("loss became {value} at step {step}: lower the learning rate or clip gradients")]
    Diverged { step: u64, value: f64 },
}

/// Warmup then cosine decay: linear from 0 to `base` over `warmup` steps, then a half cosine from `base`
/// down to `base * min_ratio` at `total` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub base: f64,
    pub warmup: u64,
    pub total: u64,
    pub min_ratio: f64,
}

impl Schedule {
    /// The learning rate of 1-based step `step`.
    pub fn lr(&self, step: u64) -> f64 {
        if step <= self.warmup {
            return self.base * step as f64 / self.warmup.max(1) as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let t = ((step - self.warmup) as f64 / span).min(1.0);
        let min = self.base * self.min_ratio;
        min + (self.base - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// A model being trained. Its params and optimizer state stay in the step engine's backend memory: each
/// step's updated values become the next step's inputs there, without a round trip through the host.
pub struct Trainer {
    model: Graph,
    loss: String,
    step: TrainStep,
    /// The step graph and the model (for evaluation), prepared for the chosen backend.
    step_engine: Engine,
    eval_engine: Engine,
    /// Step-graph output to the param or state it replaces (`next/NAME` to `NAME`).
    updates: HashMap<String, String>,
    steps_done: u64,
    /// The step count at which the eval engine's resident params were last copied from the step
    /// engine, so that evaluating several batches copies them once.
    eval_params_at: Option<u64>,
}

impl Trainer {
    /// Prepares to train `model` (which must output a scalar `loss`) from params drawn with `seed`, on the
    /// default backend.
    pub fn new(model: Graph, loss: &str, opt: Optimizer, clip: Option<f64>, seed: u64) -> Result<Trainer, TrainError> {
        Trainer::on(BackendKind::default(), model, loss, opt, clip, seed)
    }

    /// [`Trainer::new`] on a chosen backend.
    pub fn on(
        backend: BackendKind,
        model: Graph,
        loss: &str,
        opt: Optimizer,
        clip: Option<f64>,
        seed: u64,
    ) -> Result<Trainer, TrainError> {
        if !model.outputs().iter().any(|o| o.name == loss) {
            return Err(TrainError::NoLoss(loss.into()));
        }
        let step = build_train_step(&model, loss, opt, clip)?;
        let mut state = init_params(&model, seed)?;
        // Optimizer state starts at zero (its params are declared with a zeros init).
        for (name, t) in init_params(&step.graph, seed)? {
            state.entry(name).or_insert(t);
        }
        let mut step_engine = Engine::new(&step.graph, backend)?;
        step_engine.set_params(&state)?;
        let eval_engine = Engine::new(&model, backend)?;
        let updates = step
            .graph
            .outputs()
            .iter()
            .filter_map(|o| Some((o.name.clone(), o.name.strip_prefix("next/")?.to_string())))
            .collect();
        Ok(Trainer {
            model,
            loss: loss.into(),
            step,
            step_engine,
            eval_engine,
            updates,
            steps_done: 0,
            eval_params_at: None,
        })
    }

    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    pub fn step_graph(&self) -> &Graph {
        &self.step.graph
    }

    /// The model's params (not the optimizer state), copied from the backend.
    pub fn params(&self) -> Result<HashMap<String, Tensor>, TrainError> {
        self.values(&self.step.params)
    }

    fn values<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Result<HashMap<String, Tensor>, TrainError> {
        let value = |n: &String| self.step_engine.param(n).expect("every param and state is resident from `on`");
        names.into_iter().map(|n| Ok((n.clone(), value(n)?))).collect()
    }

    /// Runs one step on `inputs` at learning rate `lr`; returns the loss before the update.
    pub fn step(&mut self, mut inputs: HashMap<String, Tensor>, lr: f64) -> Result<f64, TrainError> {
        let t = self.steps_done + 1;
        inputs.insert(LR_INPUT.into(), Tensor::scalar(DType::F32, lr));
        inputs.insert(STEP_INPUT.into(), Tensor::scalar(DType::F32, t as f64));
        let rest = self.step_engine.run_updating(&inputs, &self.updates)?;
        let loss =
            rest.iter().find(|(name, _)| *name == self.loss).or(rest.first()).map_or(f64::NAN, |(_, v)| v.data[0]);
        if !loss.is_finite() {
            return Err(TrainError::Diverged { step: t, value: loss });
        }
        self.steps_done = t;
        Ok(loss)
    }

    /// The loss on `inputs` with the current params, without updating them.
    pub fn eval(&mut self, inputs: &HashMap<String, Tensor>) -> Result<f64, TrainError> {
        if self.eval_params_at != Some(self.steps_done) {
            let params = self.params()?;
            self.eval_engine.set_params(&params)?;
            self.eval_params_at = Some(self.steps_done);
        }
        let outputs = self.eval_engine.run(inputs, &HashMap::new())?;
        let i = self.model.outputs().iter().position(|o| o.name == self.loss).expect("checked in new");
        Ok(outputs[i].data[0])
    }

    /// Saves params, optimizer state and the step count as safetensors.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut all = self.values(self.step.params.iter().chain(&self.step.state))?;
        all.insert(STEP_KEY.into(), Tensor::scalar(DType::I64, self.steps_done as f64));
        Ok(save_safetensors(path, &all)?)
    }

    /// Restores a checkpoint written by [`Trainer::save`] for the same model and optimizer.
    pub fn load(&mut self, path: &Path) -> Result<(), TrainError> {
        let mut saved = load_safetensors(path)?;
        let bad = |why: String| TrainError::Checkpoint { path: path.display().to_string(), why };
        let steps = saved.remove(STEP_KEY).ok_or_else(|| bad(format!("it has no `{STEP_KEY}` entry")))?;
        let current = self.values(self.step.params.iter().chain(&self.step.state))?;
        for (name, current) in &current {
            let t = saved.get(name).ok_or_else(|| bad(format!("it lacks `{name}`")))?;
            if t.shape != current.shape || t.dtype != current.dtype {
                return Err(bad(format!(
                    "`{name}` is {}{:?} there but {}{:?} here",
                    t.dtype, t.shape, current.dtype, current.shape
                )));
            }
        }
        saved.retain(|name, _| current.contains_key(name));
        self.step_engine.set_params(&saved)?;
        self.steps_done = steps.data[0] as u64;
        self.eval_params_at = None;
        Ok(())
    }
}
