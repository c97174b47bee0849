//! model1's training step written out by hand on flex: `Linear -> ReLU (or none) -> BatchNorm1d ->
//! Dropout (or none) -> Linear`, its first Linear, ReLU, BatchNorm and dropout forward and backward
//! in a handful of passes over the `[batch, hidden]` activations instead of burn's autodiff graph,
//! where each of some 30 tensor operations is a pass and a new zero-filled buffer. The products (the
//! forward one and the weight gradient) are burn's own calls on the same tensors, the output Linear
//! and the loss still go through autodiff (from a leaf at the dropout's output), and the gradients
//! go to the same optimizer.
//!
//! Bit for bit burn's step (test `the_hand_written_step_is_burns_step`), because every number is
//! made by the f32 operation burn-flex makes it with, in burn-autodiff's order (Rust never fuses a
//! multiply-add):
//! - a sum over the batch adds the rows in order from +0, as burn-flex's `sum_dim` over the first
//!   axis does; a mean divides that sum by `n`, and a mean's backward multiplies by `1/n` rounded to
//!   f32, after adding the gradient to +0 (a sum over the one-row axis it was kept on);
//! - a node used twice gets `new + old`, which is `old + new`; BatchNorm's centred input is used
//!   three times (twice in its square, once in the division), and its gradient is the square's two
//!   terms added to the division's one, in burn's order (the test pins it);
//! - sqrt's backward is `g * (x.powf(-0.5) / 2)`, a division's `g * (1 / b)` and `g * (-a / (b * b))`,
//!   ReLU's keeps the gradient where its input is above 0 or NaN.
//!
//! Only on flex (on a device backend a hand-written pass would be a round trip to the host) and
//! only for batches of at most 512 rows (more go through `BlockedLinear` in row blocks).

use ablate_heads::{BatchNorm1d, HeadLayer, SequentialHead, keep_scale};
use ablate_matmul::{MAX_BLOCK, blocks, is_flex};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::epochs::cross_entropy;

/// Where model1's layers sit in a head the hand-written step trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FusedMlp {
    relu: bool,
    bn: usize,
    /// The dropout rate, when a dropout layer draws.
    dropout: Option<f64>,
    out: usize,
}

/// One hand-written step's results, as the autodiff step gives them.
pub(crate) struct FusedStep {
    /// The batch's mean cross-entropy, on the plain device.
    pub loss: Tensor<1>,
    /// Every trainable parameter's gradient.
    pub grads: GradientsParams,
    /// Claim A's reading: the largest |gradient| of the pre-BN bias, when there is one.
    pub bias_grad_max: Option<Tensor<1>>,
}

impl FusedMlp {
    /// The layout of `head` when it is model1's and trains on flex; `None` otherwise (the autodiff
    /// step trains it).
    pub fn of(head: &SequentialHead, device: &Device) -> Option<Self> {
        if !is_flex(device) {
            return None;
        }
        let layers = &head.layers;
        let mut at = 0;
        let HeadLayer::Linear(_) = layers.get(at)? else {
            return None;
        };
        at += 1;
        let relu = matches!(layers.get(at)?, HeadLayer::Relu(_));
        at += usize::from(relu);
        let HeadLayer::BatchNorm(_) = layers.get(at)? else {
            return None;
        };
        let bn = at;
        at += 1;
        let mut dropout = None;
        if let HeadLayer::Dropout(d) = layers.get(at)? {
            dropout = (d.p > 0.0).then_some(d.p);
            at += 1;
        }
        let HeadLayer::Linear(_) = layers.get(at)? else {
            return None;
        };
        (at + 1 == layers.len()).then_some(Self {
            relu,
            bn,
            dropout,
            out: at,
        })
    }

    /// Whether a batch of `rows` takes this step (more than 512 rows go through in row blocks).
    pub fn takes(&self, rows: usize) -> bool {
        rows <= MAX_BLOCK
    }

    /// One training step's loss and gradients, and BatchNorm's running-statistics update: `x` the
    /// batch's features `[batch, features]` on the plain device (input dropout applied),
    /// `uniform` the dropout layer's draws `[batch, hidden]` (when it draws), `targets` one-hot
    /// on `train_device`.
    pub fn step(
        &self,
        head: &SequentialHead,
        x: Tensor<2>,
        uniform: Option<&Tensor<2>>,
        targets: Tensor<2>,
        train_device: &Device,
    ) -> FusedStep {
        let (HeadLayer::Linear(first), HeadLayer::BatchNorm(bn), HeadLayer::Linear(last)) = (
            &head.layers[0],
            &head.layers[self.bn],
            &head.layers[self.out],
        ) else {
            unreachable!("FusedMlp::of checked the layers")
        };
        let plain = x.device();
        let [n, features] = x.dims();
        // The first Linear as BlockedLinear::forward computes it, on the same tensors.
        let weights: Vec<Tensor<2>> = first
            .weight_blocks
            .iter()
            .map(|w| w.val().inner())
            .collect();
        let lhs: Vec<Tensor<2>> = match weights.len() {
            1 => vec![x],
            _ => blocks(features)
                .map(|block| x.clone().slice([0..n, block]))
                .collect(),
        };
        let product = lhs
            .iter()
            .zip(&weights)
            .map(|(l, w)| l.clone().matmul(w.clone()))
            .reduce(|sum, part| sum + part)
            .expect("a Linear has a weight block");
        let z = match &first.bias {
            Some(b) => product + b.val().inner().unsqueeze(),
            None => product,
        };
        let [_, width] = z.dims();
        let keep: Option<Vec<f32>> = self.dropout.map(|p| {
            let u = uniform.expect("a dropout layer that draws has its draws");
            host(u.clone().inner())
                .into_iter()
                .map(|u| keep_scale(u, p))
                .collect()
        });
        let forward = BnForward::new(host(z), n, width, self.relu, bn, keep.as_deref());
        bn.update_running(
            Tensor::from_data(TensorData::new(forward.mean.clone(), [width]), train_device),
            Tensor::from_data(TensorData::new(forward.var.clone(), [width]), train_device),
            n,
        );

        // The output Linear and the loss through autodiff, from a leaf where the dropout ends.
        let leaf = Tensor::<2>::from_data(
            TensorData::new(forward.output.clone(), [n, width]),
            train_device,
        )
        .require_grad();
        let loss = cross_entropy(last.forward(leaf.clone()), targets);
        let mut autodiff = loss.backward();
        let out_grad = host(leaf.grad(&autodiff).expect("the leaf is tracked"));
        let mut grads = GradientsParams::from_module(&mut autodiff, last);

        let back = forward.backward(out_grad, keep.as_deref());
        let g_z = Tensor::<2>::from_data(TensorData::new(back.z, [n, width]), &plain);
        for (w, l) in first.weight_blocks.iter().zip(lhs) {
            grads.register(w.id, l.transpose().matmul(g_z.clone()));
        }
        let vector = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [width]), &plain);
        let bias_grad = first.bias.as_ref().map(|b| {
            let g = vector(back.bias);
            grads.register(b.id, g.clone());
            g
        });
        grads.register(bn.gamma.id, vector(back.gamma));
        grads.register(bn.beta.id, vector(back.beta));
        // Claim A's bias: the first Linear's, when it reaches the BatchNorm (it does in this layout).
        let bias_grad_max = match head.before_bn.contains(&0) {
            true => bias_grad.map(|g| g.abs().max()),
            false => None,
        };
        FusedStep {
            loss: loss.inner(),
            grads,
            bias_grad_max,
        }
    }
}

/// What the forward pass through ReLU, BatchNorm and dropout keeps for the backward one, row-major
/// `[n, width]` (per-feature vectors `[width]`).
struct BnForward {
    n: usize,
    width: usize,
    relu: bool,
    /// ReLU's output (its input without a ReLU): BatchNorm's input.
    input: Vec<f32>,
    /// The batch mean and biased variance.
    mean: Vec<f32>,
    var: Vec<f32>,
    /// `var + eps` (sqrt's input) and its square root.
    shifted: Vec<f32>,
    denom: Vec<f32>,
    centered: Vec<f32>,
    normalized: Vec<f32>,
    gamma: Vec<f32>,
    /// What the output Linear sees: the affine output times the dropout's keep-scale.
    output: Vec<f32>,
}

/// The gradients the backward pass makes: the first Linear's output (`[n, width]`), its bias,
/// BatchNorm's scale and shift.
struct BnBackward {
    z: Vec<f32>,
    bias: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl BnForward {
    fn new(
        z: Vec<f32>,
        n: usize,
        width: usize,
        relu: bool,
        bn: &BatchNorm1d,
        keep: Option<&[f32]>,
    ) -> Self {
        let input = match relu {
            true => z.into_iter().map(relu_f32).collect(),
            false => z,
        };
        let rows = n as f32;
        let mut mean = column_sums(&input, width);
        for m in &mut mean {
            *m /= rows;
        }
        let mut centered = vec![0.0f32; input.len()];
        let mut var = vec![0.0f32; width];
        for (c_row, x_row) in centered
            .chunks_exact_mut(width)
            .zip(input.chunks_exact(width))
        {
            for (((c, &x), &m), v) in c_row.iter_mut().zip(x_row).zip(&mean).zip(&mut var) {
                *c = x - m;
                *v += *c * *c;
            }
        }
        for v in &mut var {
            *v /= rows;
        }
        let eps = bn.epsilon as f32;
        let shifted: Vec<f32> = var.iter().map(|&v| v + eps).collect();
        let denom: Vec<f32> = shifted.iter().map(|v| v.sqrt()).collect();
        let gamma = host(bn.gamma.val().inner());
        let beta = host(bn.beta.val().inner());
        let mut normalized = vec![0.0f32; input.len()];
        let mut output = vec![0.0f32; input.len()];
        for (r, (n_row, o_row)) in normalized
            .chunks_exact_mut(width)
            .zip(output.chunks_exact_mut(width))
            .enumerate()
        {
            let c_row = &centered[r * width..(r + 1) * width];
            for ((((nv, o), &c), &d), (&g, &b)) in n_row
                .iter_mut()
                .zip(o_row.iter_mut())
                .zip(c_row)
                .zip(&denom)
                .zip(gamma.iter().zip(&beta))
            {
                *nv = c / d;
                *o = *nv * g + b;
            }
            if let Some(k) = keep {
                for (o, &k) in o_row.iter_mut().zip(&k[r * width..(r + 1) * width]) {
                    *o *= k;
                }
            }
        }
        Self {
            n,
            width,
            relu,
            input,
            mean,
            var,
            shifted,
            denom,
            centered,
            normalized,
            gamma,
            output,
        }
    }

    /// The backward pass from the gradient at the dropout's output, in burn-autodiff's operations.
    fn backward(&self, out_grad: Vec<f32>, keep: Option<&[f32]>) -> BnBackward {
        let (n, width) = (self.n, self.width);
        // 1/n as a mean's backward makes it: an f64 quotient times a tensor of f32 ones.
        let inv_n = (1.0f64 / n as f64) as f32;
        // Dropout (a product with the keep-scale), then the affine `normalized * gamma + beta`,
        // then the division by the denominator.
        let recip: Vec<f32> = self.denom.iter().map(|d| 1.0 / d).collect();
        let denom_sq: Vec<f32> = self.denom.iter().map(|d| d * d).collect();
        let mut beta = vec![0.0f32; width];
        let mut gamma = vec![0.0f32; width];
        let mut g_denom = vec![0.0f32; width];
        let mut g_centered = vec![0.0f32; n * width];
        let mut g_affine = out_grad;
        if let Some(k) = keep {
            for (g, &k) in g_affine.iter_mut().zip(k) {
                *g *= k;
            }
        }
        for (r, gc_row) in g_centered.chunks_exact_mut(width).enumerate() {
            let row = r * width..(r + 1) * width;
            let (ga, nv, c) = (
                &g_affine[row.clone()],
                &self.normalized[row.clone()],
                &self.centered[row],
            );
            for (((b, gm), &g), &nv) in beta.iter_mut().zip(&mut gamma).zip(ga).zip(nv) {
                *b += g;
                *gm += g * nv;
            }
            for (((((gc, gd), &g), &c), &w), (&rc, &dsq)) in gc_row
                .iter_mut()
                .zip(&mut g_denom)
                .zip(ga)
                .zip(c)
                .zip(&self.gamma)
                .zip(recip.iter().zip(&denom_sq))
            {
                let g_normalized = g * w;
                *gc = g_normalized * rc;
                *gd += g_normalized * (-c / dsq);
            }
        }
        // sqrt, the epsilon (identity), the variance's mean over the batch.
        // (black_box: the exponent a runtime value, as in burn-flex's kernel.)
        let half = std::hint::black_box(-0.5f32);
        let g_square: Vec<f32> = g_denom
            .iter()
            .zip(&self.shifted)
            .map(|(&g, &s)| inv_n * (0.0 + g * (s.powf(half) / 2.0)))
            .collect();
        // The square's two terms (`g * c` each) join the division's one; then the centring.
        let mut g_mean = vec![0.0f32; width];
        for (gc_row, c_row) in g_centered
            .chunks_exact_mut(width)
            .zip(self.centered.chunks_exact(width))
        {
            for (((gc, gm), &c), &gs) in
                gc_row.iter_mut().zip(&mut g_mean).zip(c_row).zip(&g_square)
            {
                let term = gs * c;
                *gc = term + (term + *gc);
                *gm += -*gc;
            }
        }
        let g_mean: Vec<f32> = g_mean.iter().map(|&g| inv_n * (0.0 + g)).collect();
        // BatchNorm's input: the centring's term plus the mean's; then ReLU and the bias.
        let mut bias = vec![0.0f32; width];
        let mut z = g_centered;
        for (g_row, x_row) in z
            .chunks_exact_mut(width)
            .zip(self.input.chunks_exact(width))
        {
            for (((g, b), &x), &gm) in g_row.iter_mut().zip(&mut bias).zip(x_row).zip(&g_mean) {
                let g_input = *g + gm;
                *g = match !self.relu || x.is_nan() || x > 0.0 {
                    true => g_input,
                    false => 0.0,
                };
                *b += *g;
            }
        }
        BnBackward {
            z,
            bias,
            gamma,
            beta,
        }
    }
}

/// burn-flex's ReLU: NaN passes.
fn relu_f32(x: f32) -> f32 {
    if x.is_nan() || x > 0.0 { x } else { 0.0 }
}

/// Per column, the rows added in order from +0 (burn-flex's `sum_dim` over the first axis).
fn column_sums(values: &[f32], width: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; width];
    for row in values.chunks_exact(width) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    sums
}

/// A flex tensor's values (a copy).
fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("the head's tensors are f32")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::FusedAdam;
    use ablate_heads::HeadConfig;
    use ablate_spec::{HeadVariant, Switch, TrainSpec};
    use burn::module::{Module, ModuleVisitor, Param};
    use rand::Rng;

    fn random(rows: usize, cols: usize, seed: u64, device: &Device) -> Tensor<2> {
        let mut rng = ablate_spec::seeding::stream(seed, "fused-test");
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(v, [rows, cols]), device)
    }

    /// Every parameter and running statistic of a head, as bits.
    fn bits(head: &SequentialHead) -> Vec<Vec<u32>> {
        struct Collect(Vec<Vec<u32>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let v = host(param.val());
                self.0.push(v.iter().map(|x| x.to_bits()).collect());
            }
        }
        let mut c = Collect(Vec::new());
        head.visit(&mut c);
        for layer in &head.layers {
            if let HeadLayer::BatchNorm(bn) = layer {
                for s in [bn.running_mean.value(), bn.running_var.value()] {
                    c.0.push(host(s).iter().map(|x| x.to_bits()).collect());
                }
            }
        }
        c.0
    }

    /// Several Adam steps through autodiff and through the hand-written step, from the same head,
    /// batches and draws: the same losses, claim A readings, weights and running statistics, bit
    /// for bit, for every switch model1 has, batches whose `1/n` is and is not exact, features cut
    /// into 3 blocks and not cut.
    #[test]
    fn the_hand_written_step_is_burns_step() {
        let train_device = Device::flex().autodiff();
        let plain = Device::flex();
        let mut cases = 0;
        for features in [1200, 300] {
            for relu in [true, false] {
                for bias in [true, false] {
                    for p in [0.0, 0.5] {
                        for last_bias in [true, false] {
                            let variant = HeadVariant::mlp()
                                .flag(Switch::Relu, relu)
                                .flag(Switch::BiasBeforeBn, bias)
                                .flag(Switch::LastBias, last_bias)
                                .number(Switch::Dropout, p);
                            let config = HeadConfig::of(&variant, features, 96, 4);
                            let train = TrainSpec::default();
                            let mut burn_head = config.init(3, &train_device);
                            let mut hand_head = config.init(3, &train_device);
                            let fused = FusedMlp::of(&hand_head, &train_device)
                                .expect("model1 takes the hand-written step");
                            let mut burn_adam = FusedAdam::new(&train);
                            let mut hand_adam = FusedAdam::new(&train);
                            for (step, n) in [64usize, 37, 64, 36].into_iter().enumerate() {
                                let seed = step as u64 * 10;
                                let x = random(n, features, seed, &plain);
                                let u = random(n, 96, seed + 1, &train_device).abs();
                                let labels: Vec<u32> =
                                    (0..n as u32).map(|i| (i * 7 + step as u32) % 4).collect();
                                let rows: Vec<usize> = (0..n).collect();
                                let targets =
                                    crate::epochs::one_hot(&labels, &rows, 4, &train_device);
                                let draws: Vec<Tensor<2>> = burn_head
                                    .dropout_draws()
                                    .iter()
                                    .map(|_| u.clone())
                                    .collect();
                                let logits =
                                    burn_head.forward(Tensor::from_inner(x.clone()), Some(&draws));
                                let loss = cross_entropy(logits, targets.clone());
                                let grads = loss.backward();
                                let want_bias = crate::epochs::bias_grad_max(&burn_head, &grads);
                                let grads = GradientsParams::from_grads(grads, &burn_head);
                                burn_head = burn_adam.step(1e-3, burn_head, grads);

                                let got = fused.step(
                                    &hand_head,
                                    x,
                                    draws.first(),
                                    targets,
                                    &train_device,
                                );
                                hand_head = hand_adam.step(1e-3, hand_head, got.grads);
                                let what = format!("{variant} F={features} step {step}");
                                assert_eq!(
                                    host(loss.inner())[0].to_bits(),
                                    host(got.loss)[0].to_bits(),
                                    "{what}: loss"
                                );
                                assert_eq!(
                                    want_bias.map(|t| host(t)[0].to_bits()),
                                    got.bias_grad_max.map(|t| host(t)[0].to_bits()),
                                    "{what}: claim A's reading"
                                );
                                assert!(bits(&burn_head) == bits(&hand_head), "{what}: weights");
                            }
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 32);
    }

    #[test]
    fn only_model1_on_flex_takes_it() {
        let flex = Device::flex().autodiff();
        let head = |v: HeadVariant| HeadConfig::of(&v, 8, 6, 3).init(0, &flex);
        assert!(FusedMlp::of(&head(HeadVariant::mlp()), &flex).is_some());
        assert!(FusedMlp::of(&head(HeadVariant::linear()), &flex).is_none());
        for word in ["fastai", "mlp2", "mlp_ln_gelu", "mlp_bn_relu", "timm"] {
            let v = HeadVariant::new(ablate_spec::HeadKind::from_word(word).unwrap());
            assert!(FusedMlp::of(&head(v), &flex).is_none(), "{word}");
        }
        let moved = HeadVariant::mlp().number(Switch::Dropout, 0.5).with(
            Switch::DropoutPosition,
            ablate_spec::Value::Word("before_bn"),
        );
        assert!(
            FusedMlp::of(&head(moved), &flex).is_none(),
            "dropout before BN"
        );
    }
}
