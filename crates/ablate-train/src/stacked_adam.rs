//! Adam over a stack's tensors, each head's rows with its own learning rate and L2 weight decay.
//!
//! On flex it is the fused pass of [`crate::optimizer`] run on each head's segment of a tensor
//! (its rows are contiguous: the cell axis leads) with that head's coefficients: per element the
//! operations of the unstacked step, so each head's update is bit for bit the one training it alone
//! makes. On a device backend it is burn's tensor operations in Adam's order, the learning rate
//! and weight decay as `[K, 1, 1]` tensors: one pass of kernels for the whole stack.

use ablate_heads::StackedHead;
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};

use crate::optimizer::{AdamBetas, adam_update};

pub(crate) struct StackedAdam {
    betas: AdamBetas,
    /// Steps taken (every head of a stack steps together).
    time: i32,
    lr: Vec<f64>,
    weight_decay: Vec<f64>,
    state: State,
}

enum State {
    /// Per slot ([`StackedHead::params_mut`]), the moments on the host.
    Host(Vec<Option<(Vec<f32>, Vec<f32>)>>),
    /// Per slot, the moments on the device.
    Device(Vec<Option<(Tensor<3>, Tensor<3>)>>),
}

impl StackedAdam {
    /// Adam for a stack whose heads train at `lr` with `weight_decay` (per head, in stack order).
    pub fn new(betas: AdamBetas, lr: Vec<f64>, weight_decay: Vec<f64>, device: &Device) -> Self {
        let state = if ablate_matmul::is_flex(device) {
            State::Host(Vec::new())
        } else {
            State::Device(Vec::new())
        };
        Self {
            betas,
            time: 0,
            lr,
            weight_decay,
            state,
        }
    }

    /// One step of every head with the gradients of the stack's backward pass.
    pub fn step(&mut self, head: &mut StackedHead, grads: &mut Gradients) {
        self.time += 1;
        let rows = self.lr.len();
        for (slot, param) in head.params_mut().into_iter().enumerate() {
            let Some(grad) = param.grad_remove(grads) else {
                continue;
            };
            let device = grad.device();
            // The parameter's own buffer, handed over without a copy (see `optimizer::AdamMapper`).
            let taken = std::mem::replace(param, Tensor::zeros([1, 1, 1], &device));
            let values = taken.inner();
            let updated = match &mut self.state {
                State::Host(moments) => {
                    if moments.len() <= slot {
                        moments.resize_with(slot + 1, || None);
                    }
                    let dims = values.dims();
                    let mut values = values.into_data();
                    let grad = grad.into_data();
                    let values_mut = values
                        .as_mut_slice::<f32>()
                        .expect("a stacked head's parameters are f32");
                    let grad = grad
                        .as_slice::<f32>()
                        .expect("a stacked head's gradients are f32");
                    let len = values_mut.len();
                    let (first, second) =
                        moments[slot].get_or_insert_with(|| (vec![0.0; len], vec![0.0; len]));
                    let per_row = len / rows;
                    for r in 0..rows {
                        let span = r * per_row..(r + 1) * per_row;
                        let decay = self.weight_decay[r];
                        adam_update(
                            &self.betas,
                            self.time,
                            self.lr[r] as f32,
                            (decay > 0.0).then_some(decay as f32),
                            &mut values_mut[span.clone()],
                            &grad[span.clone()],
                            &mut first[span.clone()],
                            &mut second[span],
                        );
                    }
                    debug_assert_eq!(dims.iter().product::<usize>(), len);
                    Tensor::<3>::from_data(values, &device)
                }
                State::Device(moments) => {
                    if moments.len() <= slot {
                        moments.resize_with(slot + 1, || None);
                    }
                    let per_row = |xs: &[f64]| -> Tensor<3> {
                        let values: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
                        Tensor::from_data(TensorData::new(values, [xs.len(), 1, 1]), &device)
                    };
                    let b = self.betas;
                    let g = if self.weight_decay.iter().any(|&d| d > 0.0) {
                        grad + values.clone() * per_row(&self.weight_decay)
                    } else {
                        grad
                    };
                    let (f1, f2) = (1.0 - b.beta_1, 1.0 - b.beta_2);
                    let (m, v) = match moments[slot].take() {
                        None => (g.clone().mul_scalar(f1), g.clone() * g.mul_scalar(f2)),
                        Some((m, v)) => (
                            m.mul_scalar(b.beta_1) + g.clone().mul_scalar(f1),
                            v.mul_scalar(b.beta_2) + g.clone() * g.mul_scalar(f2),
                        ),
                    };
                    let correction2 = (1.0 - b.beta_2.powi(self.time)).sqrt();
                    let combined = correction2 / (1.0 - b.beta_1.powi(self.time));
                    let step = m.clone().mul_scalar(combined)
                        / v.clone().sqrt().add_scalar(b.epsilon * correction2);
                    moments[slot] = Some((m, v));
                    values - step * per_row(&self.lr)
                }
            };
            *param = Tensor::from_inner(updated).require_grad();
        }
    }

    /// Keeps the heads at `rows` (as [`StackedHead::retain`]).
    pub fn retain(&mut self, rows: &[usize]) {
        let before = self.lr.len();
        if rows.len() == before {
            return;
        }
        self.lr = rows.iter().map(|&r| self.lr[r]).collect();
        self.weight_decay = rows.iter().map(|&r| self.weight_decay[r]).collect();
        match &mut self.state {
            State::Host(moments) => {
                let keep = |xs: &Vec<f32>| -> Vec<f32> {
                    let per_row = xs.len() / before;
                    rows.iter()
                        .flat_map(|&r| xs[r * per_row..(r + 1) * per_row].iter().copied())
                        .collect()
                };
                for (first, second) in moments.iter_mut().flatten() {
                    *first = keep(first);
                    *second = keep(second);
                }
            }
            State::Device(moments) => {
                for (first, second) in moments.iter_mut().flatten() {
                    let device = first.device();
                    let index = Tensor::<1, Int>::from_data(
                        TensorData::new(rows.iter().map(|&r| r as i64).collect(), [rows.len()]),
                        &device,
                    );
                    *first = first.clone().select(0, index.clone());
                    *second = second.clone().select(0, index);
                }
            }
        }
    }
}
