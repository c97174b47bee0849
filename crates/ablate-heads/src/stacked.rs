//! K heads of one layer list as one model with a leading cell axis: every weight `[K, in, out]`,
//! every bias and BatchNorm vector `[K, 1, width]`, the input `[K, batch, features]`. A step of the
//! stack is one forward and one backward for all K, so burn's per-operation cost is paid once for
//! K heads (what dominates a small head's step), while each head's numbers stay its own.
//!
//! Why the numbers are each head's own, bit for bit on flex: every operation here is the one
//! [`SequentialHead`] runs, on a tensor with one more leading axis, and burn-flex computes each
//! slice of it as it computes the unstacked tensor: a batched product runs gemm per slice with the
//! same shapes and strides (its inner dimensions cut into the same 512-blocks, as
//! [`ablate_matmul::BlockedLinear`] cuts them), a reduction over the batch axis adds the rows in
//! order as the unstacked one does, a reduction over the last axis runs the same SIMD sum per row,
//! and element-wise operations are element-wise. What differs per head is written so that it
//! rounds as the unstacked head does:
//! - a Linear whose bias is off in some heads has a bias row that starts at zero and is multiplied
//!   by a 0/1 mask before it is added, so its gradient is zero and Adam never moves it (`y + 0` is
//!   `y`);
//! - a ReLU that is off in some heads is `relu(x) * on + x * off` with `on`, `off` in {0, 1}: the
//!   ReLU's output or `x`, plus a zero;
//! - each dropout's keep-scale `[K, batch, width]` comes from the caller, computed per head from the
//!   shared uniform draws exactly as [`crate::PairedDropout`] computes it.
//!
//! LayerNorm is not stacked (burn's `layer_norm` takes one scale for the whole batch): heads with
//! one train one at a time (`ablate_spec::stack_key`).

use ablate_spec::{Layer, LayerRole};
use burn::module::{Module, ModuleMapper, Param, RunningState};
use burn::tensor::activation::{gelu, relu};
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};

use crate::layers::HeadLayer;
use crate::sequential::{HeadConfig, SequentialHead};

/// One layer of the stack.
// A handful per stack: boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum StackedLayer {
    Linear {
        /// Row blocks of the weight, `[K, block rows, out]` ([`ablate_matmul::blocks`] on flex).
        blocks: Vec<Tensor<3>>,
        /// `[K, 1, out]`, present when some head has a bias; zero where a head has none.
        bias: Option<Tensor<3>>,
        /// `[K, 1, 1]`: 1 where the head has the bias; `None` when every head has it.
        bias_on: Option<Tensor<3>>,
    },
    Relu {
        /// `[K, 1, 1]` masks (on, off); `None` when every head has the ReLU.
        mixed: Option<(Tensor<3>, Tensor<3>)>,
    },
    Gelu,
    BatchNorm {
        gamma: Tensor<3>,
        beta: Tensor<3>,
        running_mean: Tensor<3>,
        running_var: Tensor<3>,
        epsilon: f64,
        momentum: f64,
    },
    Dropout,
}

/// One head of the stack: its own module, kept for its structure (its values live in the stack
/// and are written back by [`StackedHead::head`]), and where each stacked layer sits in it.
#[derive(Debug, Clone)]
struct Row {
    head: SequentialHead,
    /// Where each stacked layer sits in `head.layers`.
    at: Places,
    /// The dropout rate of each stacked dropout layer (0 where the head's own is 0).
    rates: Vec<f64>,
}

/// A dropout layer of the stack that draws (some head has p > 0): what its uniform draws are.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedDropout {
    /// The stream key's prefix: the layer's name.
    pub key: String,
    pub width: usize,
    /// Per head, in stack order.
    pub rates: Vec<f64>,
}

/// K heads ([`HeadConfig`]s that differ at most in biases, ReLUs and dropout rates) as one model.
#[derive(Debug, Clone)]
pub struct StackedHead {
    layers: Vec<StackedLayer>,
    /// Per stacked layer, its name and width of output.
    names: Vec<String>,
    widths: Vec<usize>,
    rows: Vec<Row>,
    /// The stacked Linears whose output reaches a BatchNorm through activations only (claim A).
    before_bn: Vec<usize>,
}

impl StackedHead {
    /// Initialises each head as [`HeadConfig::init`] does (its keyed weights) and stacks them on
    /// `device` (an autodiff device: the stack trains).
    ///
    /// # Panics
    /// When the configs' layer lists differ in more than biases, ReLUs and dropout rates: the
    /// caller groups heads by `ablate_spec::stack_key`, which guarantees it.
    pub fn init(configs: &[HeadConfig], seed: u64, device: &Device) -> Self {
        assert!(!configs.is_empty(), "a stack has at least one head");
        let (union, places) = union_of(configs);
        let heads: Vec<SequentialHead> = configs.iter().map(|c| c.init(seed, device)).collect();
        let k = heads.len();
        let mut layers = Vec::with_capacity(union.len());
        let mut widths = Vec::with_capacity(union.len());
        for (j, (_, layer)) in union.iter().enumerate() {
            let of = |r: usize| places[r][j].map(|i| &heads[r].layers[i]);
            let width_of = |r: usize| places[r][j].map(|i| heads[r].widths[i]);
            let width = (0..k)
                .find_map(width_of)
                .expect("every stacked layer is in some head");
            widths.push(width);
            layers.push(match layer {
                Layer::Linear { .. } => {
                    let linears: Vec<_> = (0..k)
                        .map(|r| match of(r) {
                            Some(HeadLayer::Linear(l)) => l,
                            _ => unreachable!("a Linear is in every head"),
                        })
                        .collect();
                    let blocks = (0..linears[0].weight_blocks.len())
                        .map(|b| {
                            leaf(Tensor::stack::<3>(
                                linears.iter().map(|l| l.weight_blocks[b].val()).collect(),
                                0,
                            ))
                        })
                        .collect();
                    let has_bias: Vec<bool> = linears.iter().map(|l| l.bias.is_some()).collect();
                    let bias = has_bias.contains(&true).then(|| {
                        let rows = linears
                            .iter()
                            .map(|l| match &l.bias {
                                Some(b) => b.val(),
                                None => Tensor::zeros([width], device),
                            })
                            .collect();
                        leaf(Tensor::stack::<2>(rows, 0).unsqueeze_dim::<3>(1))
                    });
                    let bias_on = (bias.is_some() && has_bias.contains(&false))
                        .then(|| switch_mask(&has_bias, device));
                    StackedLayer::Linear {
                        blocks,
                        bias,
                        bias_on,
                    }
                }
                Layer::Relu => {
                    let on: Vec<bool> = (0..k).map(|r| places[r][j].is_some()).collect();
                    let mixed = on.contains(&false).then(|| {
                        let off: Vec<bool> = on.iter().map(|o| !o).collect();
                        (switch_mask(&on, device), switch_mask(&off, device))
                    });
                    StackedLayer::Relu { mixed }
                }
                Layer::Gelu => StackedLayer::Gelu,
                Layer::BatchNorm => {
                    let bns: Vec<_> = (0..k)
                        .map(|r| match of(r) {
                            Some(HeadLayer::BatchNorm(bn)) => bn,
                            _ => unreachable!("a BatchNorm is in every head"),
                        })
                        .collect();
                    let rows = |f: &dyn Fn(&crate::BatchNorm1d) -> Tensor<1>| {
                        Tensor::stack::<2>(bns.iter().map(|bn| f(bn)).collect(), 0)
                            .unsqueeze_dim::<3>(1)
                    };
                    StackedLayer::BatchNorm {
                        gamma: leaf(rows(&|bn| bn.gamma.val())),
                        beta: leaf(rows(&|bn| bn.beta.val())),
                        running_mean: rows(&|bn| bn.running_mean.value()).detach(),
                        running_var: rows(&|bn| bn.running_var.value()).detach(),
                        epsilon: bns[0].epsilon,
                        momentum: bns[0].momentum,
                    }
                }
                Layer::Dropout { .. } => StackedLayer::Dropout,
                Layer::LayerNorm => panic!("LayerNorm heads are not stacked (see stack_key)"),
            });
        }
        let rows = heads
            .into_iter()
            .zip(places)
            .zip(configs)
            .map(|((head, at), config)| {
                let rates = union
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, l))| matches!(l, Layer::Dropout { .. }))
                    .map(|(j, _)| match at[j].map(|i| config.layers[i].1) {
                        Some(Layer::Dropout { p }) => p,
                        _ => 0.0,
                    })
                    .collect();
                Row {
                    // Its values live in the stack from now on.
                    head: head.map(&mut Placeholders),
                    at,
                    rates,
                }
            })
            .collect();
        let kinds: Vec<Layer> = union.iter().map(|(_, l)| *l).collect();
        StackedHead {
            layers,
            names: union.into_iter().map(|(n, _)| n).collect(),
            widths,
            rows,
            before_bn: LayerRole::LinearBeforeBn.find(&kinds),
        }
    }

    /// How many heads the stack holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The dropout layers that draw, in the order [`StackedHead::forward`] takes their keep-scales.
    pub fn dropout_draws(&self) -> Vec<StackedDropout> {
        let dropouts: Vec<usize> = (0..self.layers.len())
            .filter(|&j| matches!(self.layers[j], StackedLayer::Dropout))
            .collect();
        dropouts
            .iter()
            .enumerate()
            .map(|(d, &j)| StackedDropout {
                key: self.names[j].clone(),
                width: self.widths[j],
                rates: self.rows.iter().map(|r| r.rates[d]).collect(),
            })
            .filter(|d| d.rates.iter().any(|&p| p > 0.0))
            .collect()
    }

    /// Training logits `[K, batch, classes]`, updating BatchNorm's running statistics. `input`
    /// is the heads' inputs as runs of heads in stack order that share one (`[batch, features]`,
    /// how many heads); `keeps` holds one keep-scale `[K, batch, width]` per
    /// [`StackedHead::dropout_draws`] layer.
    ///
    /// A first Linear as narrow as [`WIDE_PRODUCT_MAX`] multiplies each shared input by its heads'
    /// weights side by side (`[batch, F] x [F, heads x out]`, one product instead of one per head):
    /// every output is still the fused multiply-add chain over its 512-block that the head's own
    /// product makes (`ablate_matmul`: the kernel and the width do not change it), and its weight
    /// gradient the chain over the batch, so the numbers are the same and gemm is not starved by
    /// a 4-wide output.
    pub fn forward(&mut self, input: &[(Tensor<2>, usize)], keeps: &[Tensor<3>]) -> Tensor<3> {
        let side_by_side = self.first_is_narrow_linear();
        let x = if side_by_side {
            self.first_linear_side_by_side(input)
        } else {
            broadcast_input(input)
        };
        self.forward_from(usize::from(side_by_side), x, keeps)
    }

    fn first_is_narrow_linear(&self) -> bool {
        matches!(
            self.layers.first(),
            Some(StackedLayer::Linear { blocks, .. }) if blocks[0].dims()[2] <= WIDE_PRODUCT_MAX
        )
    }

    fn first_linear_side_by_side(&self, input: &[(Tensor<2>, usize)]) -> Tensor<3> {
        let StackedLayer::Linear {
            blocks,
            bias,
            bias_on,
        } = &self.layers[0]
        else {
            unreachable!("called on a first Linear")
        };
        let k = self.len();
        let mut first = 0;
        let parts: Vec<Tensor<3>> = input
            .iter()
            .map(|(x, heads)| {
                let [batch, _] = x.dims();
                let rows = first..first + heads;
                first += heads;
                let mut start = 0;
                let y = blocks
                    .iter()
                    .map(|w| {
                        let [_, fb, out] = w.dims();
                        let w = if *heads == k {
                            w.clone()
                        } else {
                            w.clone().slice([rows.clone(), 0..fb, 0..out])
                        };
                        let wide = w.permute([1, 0, 2]).reshape([fb, heads * out]);
                        let part = x.clone().slice([0..batch, start..start + fb]).matmul(wide);
                        start += fb;
                        part
                    })
                    .reduce(|sum, part| sum + part)
                    .expect("a weight has at least one block");
                let out = blocks[0].dims()[2];
                y.reshape([batch, *heads, out]).swap_dims(0, 1)
            })
            .collect();
        let y = if parts.len() == 1 {
            parts.into_iter().next().expect("one part")
        } else {
            Tensor::cat(parts, 0)
        };
        match (bias, bias_on) {
            (Some(b), Some(on)) => y + b.clone() * on.clone(),
            (Some(b), None) => y + b.clone(),
            (None, _) => y,
        }
    }

    /// The layers from `start` on, `x` the stack's activations `[K, batch, width]`.
    fn forward_from(&mut self, start: usize, mut x: Tensor<3>, keeps: &[Tensor<3>]) -> Tensor<3> {
        let drawing: Vec<bool> = {
            let draws = self.dropout_draws();
            self.names
                .iter()
                .zip(&self.layers)
                .map(|(name, l)| {
                    matches!(l, StackedLayer::Dropout) && draws.iter().any(|d| &d.key == name)
                })
                .collect()
        };
        let mut keeps = keeps.iter();
        for (j, layer) in self.layers.iter_mut().enumerate().skip(start) {
            x = match layer {
                StackedLayer::Linear {
                    blocks,
                    bias,
                    bias_on,
                } => {
                    let y = stacked_product(x, blocks);
                    match (bias, bias_on) {
                        (Some(b), Some(on)) => y + b.clone() * on.clone(),
                        (Some(b), None) => y + b.clone(),
                        (None, _) => y,
                    }
                }
                StackedLayer::Relu { mixed: None } => relu(x),
                StackedLayer::Relu {
                    mixed: Some((on, off)),
                } => relu(x.clone()) * on.clone() + x * off.clone(),
                StackedLayer::Gelu => gelu(x),
                StackedLayer::BatchNorm {
                    gamma,
                    beta,
                    running_mean,
                    running_var,
                    epsilon,
                    momentum,
                } => {
                    // BatchNorm1d::forward_train, over axis 1 of each head.
                    let [_, batch, _] = x.dims();
                    let mean = x.clone().mean_dim(1);
                    let centered = x - mean.clone();
                    let var = centered.clone().square().mean_dim(1);
                    let output = centered / var.clone().add_scalar(*epsilon).sqrt() * gamma.clone()
                        + beta.clone();
                    let m = *momentum;
                    let unbiased = batch as f64 / (batch.saturating_sub(1).max(1)) as f64;
                    let mean = mean.detach();
                    let var = var.detach().mul_scalar(unbiased);
                    *running_mean =
                        (running_mean.clone().mul_scalar(1.0 - m) + mean.mul_scalar(m)).detach();
                    *running_var =
                        (running_var.clone().mul_scalar(1.0 - m) + var.mul_scalar(m)).detach();
                    output
                }
                StackedLayer::Dropout if drawing[j] => {
                    x * keeps
                        .next()
                        .expect("a keep-scale per drawing dropout layer")
                        .clone()
                }
                StackedLayer::Dropout => x,
            };
        }
        x
    }

    /// Per head, the largest |gradient| of its pre-BN biases in this step `[K]` (claim A); `None`
    /// when no head has one. A head whose own biases there are off reads 0 (its row is a masked
    /// zero): [`StackedHead::has_bias_before_bn`] tells which heads have a reading.
    pub fn bias_grad_max(&self, grads: &Gradients) -> Option<Tensor<1>> {
        let k = self.len();
        let maxima: Vec<Tensor<2>> = self
            .before_bn
            .iter()
            .filter_map(|&j| match &self.layers[j] {
                StackedLayer::Linear { bias: Some(b), .. } => Some(b),
                _ => None,
            })
            .map(|b| match b.grad(grads) {
                Some(g) => g.abs().max_dim(2).reshape([k, 1]),
                None => Tensor::zeros([k, 1], &b.device().inner()),
            })
            .collect();
        match maxima.len() {
            0 => None,
            1 => maxima.into_iter().next().map(|m| m.reshape([k])),
            _ => Some(Tensor::cat(maxima, 1).max_dim(1).reshape([k])),
        }
    }

    /// Whether head `row` has a bias before a BatchNorm (a claim-A reading).
    pub fn has_bias_before_bn(&self, row: usize) -> bool {
        !self.rows[row].head.biases_before_bn().is_empty()
    }

    /// The trainable tensors, in a fixed order (the optimizer's slots), each `[K, ..]`.
    pub fn params_mut(&mut self) -> Vec<&mut Tensor<3>> {
        let mut params = Vec::new();
        for layer in &mut self.layers {
            match layer {
                StackedLayer::Linear { blocks, bias, .. } => {
                    params.extend(blocks.iter_mut());
                    params.extend(bias.as_mut());
                }
                StackedLayer::BatchNorm { gamma, beta, .. } => {
                    params.push(gamma);
                    params.push(beta);
                }
                _ => {}
            }
        }
        params
    }

    /// Keeps the heads at `rows` (indices into the stack, in order), dropping the others.
    pub fn retain(&mut self, rows: &[usize]) {
        if rows.len() == self.len() {
            return;
        }
        let pick = |t: &Tensor<3>, grad: bool| {
            let device = t.device();
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(rows.iter().map(|&r| r as i64).collect(), [rows.len()]),
                &device,
            );
            let picked = t.clone().select(0, index).detach();
            if grad { picked.require_grad() } else { picked }
        };
        for layer in &mut self.layers {
            match layer {
                StackedLayer::Linear {
                    blocks,
                    bias,
                    bias_on,
                } => {
                    for b in blocks.iter_mut() {
                        *b = pick(b, true);
                    }
                    if let Some(b) = bias.as_mut() {
                        *b = pick(b, true);
                    }
                    if let Some(m) = bias_on.as_mut() {
                        *m = pick(m, false);
                    }
                }
                StackedLayer::Relu {
                    mixed: Some((on, off)),
                } => {
                    *on = pick(on, false);
                    *off = pick(off, false);
                }
                StackedLayer::BatchNorm {
                    gamma,
                    beta,
                    running_mean,
                    running_var,
                    ..
                } => {
                    *gamma = pick(gamma, true);
                    *beta = pick(beta, true);
                    *running_mean = pick(running_mean, false);
                    *running_var = pick(running_var, false);
                }
                _ => {}
            }
        }
        let mut kept = Vec::with_capacity(rows.len());
        for &r in rows {
            kept.push(self.rows[r].clone());
        }
        self.rows = kept;
    }

    /// Head `row` as its own [`SequentialHead`] (on the stack's device), with its current values:
    /// what training it alone would have left (evaluated, measured and recorded as such).
    pub fn head(&self, row: usize) -> SequentialHead {
        let Row { head, at, .. } = &self.rows[row];
        let mut head = head.clone();
        for (layer, place) in self.layers.iter().zip(at) {
            let Some(i) = *place else { continue };
            match (layer, &mut head.layers[i]) {
                (StackedLayer::Linear { blocks, bias, .. }, HeadLayer::Linear(linear)) => {
                    for (stacked, block) in blocks.iter().zip(linear.weight_blocks.iter_mut()) {
                        *block = Param::from_tensor(slice_row(stacked, row));
                    }
                    if let (Some(stacked), Some(own)) = (bias, linear.bias.as_mut()) {
                        *own = Param::from_tensor(vector_row(stacked, row));
                    }
                }
                (
                    StackedLayer::BatchNorm {
                        gamma,
                        beta,
                        running_mean,
                        running_var,
                        ..
                    },
                    HeadLayer::BatchNorm(bn),
                ) => {
                    bn.gamma = Param::from_tensor(vector_row(gamma, row));
                    bn.beta = Param::from_tensor(vector_row(beta, row));
                    bn.running_mean = RunningState::new(vector_row(running_mean, row));
                    bn.running_var = RunningState::new(vector_row(running_var, row));
                }
                _ => {}
            }
        }
        head
    }
}

/// Whether stacking heads of `config`'s layer list is faster than training them one at a time on
/// `device`. On a device backend always: a head's step is a few dozen kernel launches whatever its
/// size, so K heads per launch is up to K times less. On flex only when the first Linear is as
/// narrow as [`WIDE_PRODUCT_MAX`] (a linear probe): its heads share one product, and its step is
/// per-operation overhead that the stack pays once. A wider first Linear (model1's 1280 x 1024)
/// already keeps gemm near its peak per head, so a stack of them is as fast per cell as one alone
/// (measured: `ablate bench --no-grid`, docs/performance.md) and only makes fewer, larger units
/// of work for the workers to share.
pub fn stacking_pays(config: &HeadConfig, device: &Device) -> bool {
    if !ablate_matmul::is_flex(device) {
        return true;
    }
    matches!(
        config.layers.first(),
        Some((_, Layer::Linear { out, .. })) if config.width(*out) <= WIDE_PRODUCT_MAX
    )
}

/// The widest first Linear whose heads multiply side by side ([`StackedHead::forward`]): the
/// classes of a linear probe. Wider layers (a hidden layer of 1024) keep gemm busy per head.
pub const WIDE_PRODUCT_MAX: usize = 64;

/// The heads' inputs `[K, batch, features]`: each shared input repeated for its heads.
fn broadcast_input(input: &[(Tensor<2>, usize)]) -> Tensor<3> {
    let parts: Vec<Tensor<3>> = input
        .iter()
        .map(|(x, heads)| {
            let [batch, dim] = x.dims();
            x.clone().unsqueeze_dim::<3>(0).expand([*heads, batch, dim])
        })
        .collect();
    Tensor::cat(parts, 0)
}

/// `x [K, batch, in] @ W [K, in, out]`, the weight in row blocks: the blocks' products added left
/// to right, as [`ablate_matmul::BlockedLinear`] adds them.
fn stacked_product(x: Tensor<3>, blocks: &[Tensor<3>]) -> Tensor<3> {
    if blocks.len() == 1 {
        return x.matmul(blocks[0].clone());
    }
    let [k, batch, _] = x.dims();
    let mut start = 0;
    blocks
        .iter()
        .map(|w| {
            let rows = w.dims()[1];
            let part = x
                .clone()
                .slice([0..k, 0..batch, start..start + rows])
                .matmul(w.clone());
            start += rows;
            part
        })
        .reduce(|sum, part| sum + part)
        .expect("a weight has at least one block")
}

/// A trainable stacked tensor.
fn leaf(t: Tensor<3>) -> Tensor<3> {
    t.detach().require_grad()
}

/// `[K, 1, 1]`: 1 where `on`, else 0.
fn switch_mask(on: &[bool], device: &Device) -> Tensor<3> {
    let values: Vec<f32> = on.iter().map(|&o| if o { 1.0 } else { 0.0 }).collect();
    Tensor::from_data(TensorData::new(values, [on.len(), 1, 1]), device)
}

/// Row `row` of `[K, a, b]` as `[a, b]`.
fn slice_row(t: &Tensor<3>, row: usize) -> Tensor<2> {
    let [_, a, b] = t.dims();
    t.clone()
        .slice([row..row + 1, 0..a, 0..b])
        .reshape([a, b])
        .detach()
}

/// Row `row` of `[K, 1, w]` as `[w]`.
fn vector_row(t: &Tensor<3>, row: usize) -> Tensor<1> {
    let [_, _, w] = t.dims();
    slice_row(t, row).reshape([w])
}

/// Replaces a row's parameters by one-element tensors: the stack holds its values.
struct Placeholders;

impl ModuleMapper for Placeholders {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let device = tensor.device();
        Param::from_mapped_value(id, Tensor::zeros([1; D], &device), mapper)
    }
}

/// Per stacked layer, its index in one head's own list (`None`: a ReLU the head leaves out).
type Places = Vec<Option<usize>>;

/// The layer list the stack runs (every head's layers, with a ReLU wherever some head has one)
/// and, per head, where each of those layers sits in its own list.
fn union_of(configs: &[HeadConfig]) -> (Vec<(String, Layer)>, Vec<Places>) {
    // A head's layers without its ReLUs, each marked with whether a ReLU follows it.
    let core = |c: &HeadConfig| -> Vec<(usize, bool)> {
        let mut out: Vec<(usize, bool)> = Vec::new();
        for (i, (_, layer)) in c.layers.iter().enumerate() {
            match layer {
                Layer::Relu => {
                    out.last_mut()
                        .expect("a stacked head's ReLU follows a layer")
                        .1 = true
                }
                _ => out.push((i, false)),
            }
        }
        out
    };
    let cores: Vec<Vec<(usize, bool)>> = configs.iter().map(core).collect();
    let same = |a: &Layer, b: &Layer| match (a, b) {
        (Layer::Linear { out: x, .. }, Layer::Linear { out: y, .. }) => x == y,
        (Layer::Dropout { .. }, Layer::Dropout { .. }) => true,
        _ => a == b,
    };
    let first = &configs[0];
    for (c, config) in cores.iter().zip(configs) {
        assert!(
            c.len() == cores[0].len()
                && c.iter().zip(&cores[0]).all(|(&(i, _), &(f, _))| {
                    config.layers[i].0 == first.layers[f].0
                        && same(&config.layers[i].1, &first.layers[f].1)
                })
                && (config.d_input, config.hidden, config.classes)
                    == (first.d_input, first.hidden, first.classes),
            "heads of one stack differ in more than biases, ReLUs and dropout rates"
        );
    }
    let mut union = Vec::new();
    let mut places: Vec<Places> = vec![Vec::new(); configs.len()];
    for j in 0..cores[0].len() {
        union.push(first.layers[cores[0][j].0].clone());
        for (r, c) in cores.iter().enumerate() {
            places[r].push(Some(c[j].0));
        }
        if let Some(r) = cores.iter().position(|c| c[j].1) {
            union.push(configs[r].layers[cores[r][j].0 + 1].clone());
            for (r, c) in cores.iter().enumerate() {
                places[r].push(c[j].1.then_some(c[j].0 + 1));
            }
        }
    }
    (union, places)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablate_spec::Width;

    fn config(layers: Vec<Layer>) -> HeadConfig {
        let named = layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| (format!("l{i}"), l))
            .collect();
        HeadConfig::new(1280, 1024, 4, named)
    }

    #[test]
    fn on_flex_only_a_narrow_first_linear_stacks() {
        let linear = |out| Layer::Linear { out, bias: true };
        let flex = Device::flex();
        let probe = config(vec![linear(Width::Classes)]);
        let mlp = config(vec![
            linear(Width::Hidden),
            Layer::Relu,
            Layer::BatchNorm,
            linear(Width::Classes),
        ]);
        let bn_first = config(vec![Layer::BatchNorm, linear(Width::Classes)]);
        assert!(stacking_pays(&probe, &flex));
        assert!(stacking_pays(
            &config(vec![linear(Width::Fixed(64))]),
            &flex
        ));
        assert!(!stacking_pays(
            &config(vec![linear(Width::Fixed(65))]),
            &flex
        ));
        assert!(!stacking_pays(&mlp, &flex));
        assert!(!stacking_pays(&bn_first, &flex));
    }
}
