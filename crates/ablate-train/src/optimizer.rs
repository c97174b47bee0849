//! The experiment's optimizer, built with PyTorch's semantics.

use std::collections::HashMap;

use ablate_spec::{OptimizerKind, TrainSpec};
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};

/// Adam or SGD. Weight decay is an L2 term added to the gradient (PyTorch's `weight_decay`); SGD's
/// momentum has no dampening, as in PyTorch (burn's own default dampening is 0.1).
pub fn build(train: &TrainSpec) -> ModuleOptimizer {
    let weight_decay =
        (train.weight_decay > 0.0).then(|| WeightDecayConfig::new(train.weight_decay as f32));
    match train.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(train.betas[0] as f32)
            .with_beta_2(train.betas[1] as f32)
            .with_epsilon(train.eps as f32)
            .with_weight_decay(weight_decay)
            .init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_weight_decay(weight_decay)
            .with_momentum((train.momentum > 0.0).then_some(MomentumConfig {
                momentum: train.momentum,
                dampening: 0.0,
                nesterov: false,
            }))
            .init(),
    }
}

/// The optimizer of a head's training steps: on flex, Adam fused into one pass over each
/// parameter; SGD, and everything on a device backend, from burn.
///
/// burn's Adam makes about a dozen passes over every parameter, each writing a new buffer (decay,
/// two moments, bias corrections, step); on a 1.3M-parameter head that was a third of a training
/// step. The fused pass does the same f32 operations in the same order per element, so its results
/// are bit-identical to burn's (tested below), only without the intermediate buffers. It runs on the
/// host, on the parameter's own buffer: free on flex, whose buffers are host memory, but a round
/// trip of every parameter per step on a device, where burn's Adam stays on the device (its
/// element-wise kernels fused by burn there).
pub enum HeadOptimizer {
    Adam(FusedAdam),
    Burn(ModuleOptimizer),
}

impl HeadOptimizer {
    /// The optimizer for training on `device`.
    pub fn new(train: &TrainSpec, device: &Device) -> Self {
        match train.optimizer {
            OptimizerKind::Adam if ablate_matmul::is_flex(device) => {
                Self::Adam(FusedAdam::new(train))
            }
            _ => Self::Burn(build(train)),
        }
    }

    pub fn step<M: Module>(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        match self {
            Self::Adam(adam) => adam.step(lr, module, grads),
            Self::Burn(optim) => optim.step(lr, module, grads),
        }
    }
}

/// Adam (with L2 weight decay) as burn computes it, one pass per parameter.
pub struct FusedAdam {
    betas: AdamBetas,
    weight_decay: Option<f32>,
    moments: HashMap<ParamId, Moments>,
}

/// Adam's state of one parameter.
struct Moments {
    time: i32,
    first: Vec<f32>,
    second: Vec<f32>,
}

impl FusedAdam {
    pub fn new(train: &TrainSpec) -> Self {
        Self {
            betas: AdamBetas::of(train),
            weight_decay: (train.weight_decay > 0.0).then_some(train.weight_decay as f32),
            moments: HashMap::new(),
        }
    }

    pub fn step<M: Module>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        module.map(&mut AdamMapper {
            adam: self,
            grads: &mut grads,
            lr: lr as f32,
        })
    }

    /// One step of one parameter, in place. Each operation is one of burn's tensor operations
    /// (`burn_optim::Adam`, `AdaptiveMomentum::transform`), in its order and in f32: no fused
    /// multiply-add, so the rounding is the same.
    fn update(&mut self, id: ParamId, values: &mut [f32], grad: &[f32], lr: f32) {
        let moments = self.moments.entry(id).or_insert_with(|| Moments {
            time: 0,
            first: vec![0.0; values.len()],
            second: vec![0.0; values.len()],
        });
        moments.time += 1;
        adam_update(
            &self.betas,
            moments.time,
            lr,
            self.weight_decay,
            values,
            grad,
            &mut moments.first,
            &mut moments.second,
        );
    }
}

/// Adam's constants (`[train] betas`, `eps`) in f32.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamBetas {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

impl AdamBetas {
    pub fn of(train: &TrainSpec) -> Self {
        Self {
            beta_1: train.betas[0] as f32,
            beta_2: train.betas[1] as f32,
            epsilon: train.eps as f32,
        }
    }
}

/// Step `time` (1 for the first) of Adam on one parameter's values in place, with its moments:
/// the one element-wise pass both the per-cell and the stacked optimizer run.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_update(
    betas: &AdamBetas,
    time: i32,
    lr: f32,
    weight_decay: Option<f32>,
    values: &mut [f32],
    grad: &[f32],
    first: &mut [f32],
    second: &mut [f32],
) {
    let (b1, b2) = (betas.beta_1, betas.beta_2);
    let bias_correction2_sqrt = (1.0 - b2.powi(time)).sqrt();
    let c = Coefficients {
        b1,
        b2,
        f1: 1.0 - b1,
        f2: 1.0 - b2,
        combined: bias_correction2_sqrt / (1.0 - b1.powi(time)),
        eps: betas.epsilon * bias_correction2_sqrt,
        lr,
    };
    pulp::Arch::new().dispatch(AdamPass {
        values,
        grad,
        first,
        second,
        c: &c,
        weight_decay,
        first_step: time == 1,
    });
}

/// Seconds per pass of the fused Adam over `len` parameters, moments already started (the mean of
/// `reps` passes): the Adam part of `ablate bench`'s ceiling of a training step. The gradients are
/// of a fresh cell's size (~1e-3), not the subnormal ones of a fitted cell.
pub fn adam_pass_seconds(train: &TrainSpec, len: usize, reps: usize) -> f64 {
    let mut adam = FusedAdam::new(train);
    let id = ParamId::new();
    let mut values = vec![0.01f32; len];
    let grad: Vec<f32> = (0..len).map(|i| (i % 97) as f32 * 2e-5 - 1e-3).collect();
    adam.update(id, &mut values, &grad, 1e-3);
    let started = std::time::Instant::now();
    for _ in 0..reps {
        adam.update(id, &mut values, &grad, 1e-3);
    }
    std::hint::black_box(&values);
    started.elapsed().as_secs_f64() / reps.max(1) as f64
}

/// One parameter's pass, compiled for the widest SIMD the CPU has (pulp picks it at run time; sqrt
/// and division made the SSE loop compute-bound). Every lane rounds as the scalar operation does, so
/// the width changes no bit. One loop per case, no branch inside.
struct AdamPass<'a> {
    values: &'a mut [f32],
    grad: &'a [f32],
    first: &'a mut [f32],
    second: &'a mut [f32],
    c: &'a Coefficients,
    weight_decay: Option<f32>,
    first_step: bool,
}

impl pulp::WithSimd for AdamPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Self {
            values,
            grad,
            first,
            second,
            c,
            weight_decay,
            first_step,
        } = self;
        match (weight_decay, first_step) {
            (None, true) => adam_pass(values, grad, first, second, c, |_, g| g, true),
            (None, false) => adam_pass(values, grad, first, second, c, |_, g| g, false),
            (Some(wd), true) => adam_pass(values, grad, first, second, c, |p, g| p * wd + g, true),
            (Some(wd), false) => {
                adam_pass(values, grad, first, second, c, |p, g| p * wd + g, false)
            }
        }
    }
}

/// Below this |gradient| (2^-60), `g * g * (1 - b2)` is under 2^-120: in the subnormal range, where
/// every x86 multiply that produces one takes a microcode assist (~25x slower on this loop). A
/// fitted cell's gradients live there: the forum's 40-epoch cells spent 70% of their time in Adam.
const TINY_GRADIENT: f32 = 8.673_617e-19;
/// Above this (2^-90), adding anything under 2^-120 to `v * b2` rounds back to `v * b2` (it is
/// less than a quarter of the spacing there), so the tiny square can be skipped, bit for bit.
const SAFE_SECOND_MOMENT: f32 = 8.077_936e-28;

/// The scalars of one Adam step.
struct Coefficients {
    b1: f32,
    b2: f32,
    /// `1 - b1`, `1 - b2`.
    f1: f32,
    f2: f32,
    /// `sqrt(1 - b2^t) / (1 - b1^t)`.
    combined: f32,
    /// `epsilon * sqrt(1 - b2^t)`.
    eps: f32,
    lr: f32,
}

/// The element-wise pass; `decayed(p, g)` is the gradient with weight decay. On the first step the
/// moments are `(1 - b) * g` (burn's state starts there, not from zeros times b).
#[inline(always)]
fn adam_pass(
    values: &mut [f32],
    grad: &[f32],
    first: &mut [f32],
    second: &mut [f32],
    c: &Coefficients,
    decayed: impl Fn(f32, f32) -> f32,
    first_step: bool,
) {
    let iter = values
        .iter_mut()
        .zip(grad)
        .zip(first.iter_mut().zip(second.iter_mut()));
    for ((p, &g), (m, v)) in iter {
        let g = decayed(*p, g);
        if first_step {
            *m = g * c.f1;
            *v = g * g * c.f2;
        } else {
            *m = *m * c.b1 + g * c.f1;
            let decayed_v = *v * c.b2;
            // The same sum as `decayed_v + g * g * f2`, without computing a subnormal (see
            // TINY_GRADIENT): a select, so the loop stays vectorized.
            let square_of = if g.abs() < TINY_GRADIENT && decayed_v >= SAFE_SECOND_MOMENT {
                0.0
            } else {
                g
            };
            *v = decayed_v + square_of * square_of * c.f2;
        }
        let step = *m * c.combined / (v.sqrt() + c.eps);
        *p -= step * c.lr;
    }
}

struct AdamMapper<'a> {
    adam: &'a mut FusedAdam,
    grads: &'a mut GradientsParams,
    lr: f32,
}

impl ModuleMapper for AdamMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let inner = tensor.inner();
        let device = inner.device();
        // In place in the parameter's own buffer (burn-flex hands it over without a copy when it
        // is not shared, as after backward), reading the gradient where it lies.
        let mut values = inner.into_data();
        let grad = grad.into_data();
        self.adam
            .update(id, floats_mut(&mut values, id), floats(&grad, id), self.lr);
        let updated = Tensor::<D>::from_inner(Tensor::from_data(values, &device));
        let updated = if require_grad {
            updated.require_grad()
        } else {
            updated
        };
        Param::from_mapped_value(id, updated, mapper)
    }
}

// The head's parameters and gradients are f32 by construction; anything else is a bug here.
fn floats(data: &TensorData, id: ParamId) -> &[f32] {
    data.as_slice::<f32>()
        .unwrap_or_else(|e| panic!("parameter {id}: Adam needs f32 gradients: {e:?}"))
}

fn floats_mut(data: &mut TensorData, id: ParamId) -> &mut [f32] {
    data.as_mut_slice::<f32>()
        .unwrap_or_else(|e| panic!("parameter {id}: Adam needs f32 values: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablate_heads::HeadConfig;
    use burn::module::ModuleVisitor;

    /// Every float parameter's values, in the module's order.
    fn all_floats(head: &ablate_heads::SequentialHead) -> Vec<Vec<f32>> {
        struct Collect(Vec<Vec<f32>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0
                    .push(param.val().into_data().try_into_vec::<f32>().unwrap());
            }
        }
        let mut collect = Collect(Vec::new());
        head.visit(&mut collect);
        assert_eq!(
            collect.0.len(),
            8,
            "fc1 w+b, bn gamma+beta+running mean+var, fc2 w+b"
        );
        collect.0
    }

    /// The fused Adam and burn's give bit-identical parameters over several steps, with and
    /// without weight decay (on a head with every kind of parameter: weights, biases, BN's affine).
    #[test]
    fn fused_adam_is_bit_identical_to_burns() {
        for weight_decay in [0.0, 1e-3] {
            let train = TrainSpec {
                weight_decay,
                ..TrainSpec::default()
            };
            let device = Device::flex().autodiff();
            let config = HeadConfig::of(&ablate_spec::HeadVariant::mlp(), 12, 16, 3);
            let mut fused_head = config.init(7, &device);
            let mut burn_head = config.init(7, &device);
            let mut fused = FusedAdam::new(&train);
            let mut burns = build(&train);
            for step in 0..6 {
                let x = Tensor::<2>::random(
                    [8, 12],
                    burn::tensor::Distribution::Normal(0.0, 1.0),
                    &device,
                )
                .mul_scalar(1.0 + step as f32);
                // The last steps' gradients are ~1e-21, as a fitted cell's are: their squares
                // are subnormal, which the fused pass skips (see TINY_GRADIENT).
                let scale = if step < 3 { 1.0 } else { 1e-21 };
                let loss = |head: &ablate_heads::SequentialHead| {
                    head.forward(x.clone(), None)
                        .square()
                        .mean()
                        .mul_scalar(scale)
                };
                let grads = GradientsParams::from_grads(loss(&fused_head).backward(), &fused_head);
                fused_head = fused.step(1e-2, fused_head, grads);
                let grads = GradientsParams::from_grads(loss(&burn_head).backward(), &burn_head);
                burn_head = burns.step(1e-2, burn_head, grads);
            }
            assert_eq!(
                all_floats(&fused_head),
                all_floats(&burn_head),
                "weight decay {weight_decay}"
            );
        }
    }
}
