//! Matrix products whose rounding does not depend on the machine.
//!
//! burn-flex multiplies with `gemm`, which cuts an inner dimension longer than its block length into
//! blocks, and derives that length from the L1 data cache and the SIMD kernel it picks at run time (at
//! least 512): the same product rounds differently on different machines (README, Across machines).
//! A product whose inner dimension is at most 512 is never cut, and with every kernel is, bit for
//! bit, a fused multiply-add chain along the inner dimension from +0 (the test below checks it on the
//! machine it runs on). So [`matmul`] cuts longer inner dimensions itself, into blocks of 512, and
//! adds the blocks' products left to right: the rounding is then a property of the shapes alone.
//!
//! That promise is `flex`'s alone. On a device backend (wgpu, cuda) a product is one kernel whose
//! reduction order is the device's own (it reproduces on the same device and driver, not across
//! them), and cutting it would only add launches: every function here is then the plain burn op.

use std::ops::Range;

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::module::conv2d;
use burn::tensor::{Device, Gradients, Tensor};

/// The longest inner dimension multiplied in one piece: gemm's shortest block length.
pub const MAX_BLOCK: usize = 512;

/// Blocks of 512 from the start, the last one shorter. Not gemm's own even split (`1280` would be
/// 427 + 427 + 426 on a machine whose block length is 512): with blocks gemm never makes, a test
/// against the scalar definition fails on every machine if the cutting here is lost.
pub fn blocks(len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..len.div_ceil(MAX_BLOCK).max(1)).map(move |i| i * MAX_BLOCK..((i + 1) * MAX_BLOCK).min(len))
}

/// Whether `device` (with or without autodiff) is burn-flex, the CPU backend whose products are cut
/// here. Every CPU-only shortcut of the workspace (cut products, the host-side fused Adam, the
/// backbone's image-by-image split over threads) asks this one question.
pub fn is_flex(device: &Device) -> bool {
    // Devices compare by the hardware they stand for, autodiff aside.
    *device == Device::flex()
}

/// `lhs [m, k] @ rhs [k, n]` with the inner dimension cut into [`blocks`] (on flex).
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    let [m, k] = lhs.dims();
    let [_, n] = rhs.dims();
    if k <= MAX_BLOCK || !is_flex(&lhs.device()) {
        return lhs.matmul(rhs);
    }
    sum_in_order(blocks(k).map(|block| {
        lhs.clone()
            .slice([0..m, block.clone()])
            .matmul(rhs.clone().slice([block, 0..n]))
    }))
}

/// The blocks' products added left to right: the order that defines the rounding.
fn sum_in_order<const D: usize>(parts: impl Iterator<Item = Tensor<D>>) -> Tensor<D> {
    parts
        .reduce(|sum, part| sum + part)
        .expect("a cut dimension has at least one block")
}

/// burn-nn's `Linear::forward` through [`matmul`], for inference (a backbone's own classifier).
/// Trained layers are [`BlockedLinear`], which also cuts a weight gradient's rows.
pub fn linear(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let y = matmul(x, layer.weight.val());
    match &layer.bias {
        Some(bias) => y + bias.val().unsqueeze(),
        None => y,
    }
}

/// burn-nn's `Linear` with its weight `[d_input, d_output]` kept in the row blocks of [`blocks`]:
/// the forward pass multiplies block by block, as [`matmul`] does, without slicing a parameter
/// (burn's backward of a slice materializes a full-size zero gradient per block, which cost more
/// than the faster kernels gained). The blocks are updated as separate parameters; an element-wise
/// optimizer gives the same values as on the whole weight.
#[derive(Module, Debug)]
pub struct BlockedLinear {
    pub weight_blocks: Vec<Param<Tensor<2>>>,
    pub bias: Option<Param<Tensor<1>>>,
}

impl BlockedLinear {
    /// The same layer, its weight cut into blocks (the values unchanged); one block, the whole
    /// weight, on a device backend.
    pub fn from_linear(linear: Linear) -> Self {
        let weight = linear.weight.val();
        let [rows, cols] = weight.dims();
        let weight_blocks = if is_flex(&weight.device()) {
            blocks(rows)
                .map(|block| Param::from_tensor(weight.clone().slice([block, 0..cols]).detach()))
                .collect()
        } else {
            vec![Param::from_tensor(weight.detach())]
        };
        Self {
            weight_blocks,
            bias: linear.bias,
        }
    }

    /// The whole weight, `[d_input, d_output]`.
    pub fn weight(&self) -> Tensor<2> {
        Tensor::cat(self.weight_blocks.iter().map(Param::val).collect(), 0)
    }

    /// The whole weight's gradient, when every block has one.
    pub fn weight_grad(&self, grads: &Gradients) -> Option<Tensor<2>> {
        let parts: Option<Vec<_>> = self.weight_blocks.iter().map(|w| w.grad(grads)).collect();
        parts.map(|parts| Tensor::cat(parts, 0))
    }

    /// `x [rows, d_input] -> [rows, d_output]`. While training, more than 512 rows go through in
    /// row blocks, so the weight's gradient, a product over the rows, is made of pieces of at most
    /// 512 too; the forward values are the same either way. (Not on a device backend.)
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [rows, dim] = x.dims();
        let device = x.device();
        if rows > MAX_BLOCK && device.is_autodiff() && is_flex(&device) {
            let parts = blocks(rows)
                .map(|block| self.forward_rows(x.clone().slice([block, 0..dim])))
                .collect();
            return Tensor::cat(parts, 0);
        }
        self.forward_rows(x)
    }

    fn forward_rows(&self, x: Tensor<2>) -> Tensor<2> {
        let [rows, dim] = x.dims();
        let y = if self.weight_blocks.len() == 1 {
            x.matmul(self.weight_blocks[0].val())
        } else {
            sum_in_order(
                blocks(dim)
                    .zip(&self.weight_blocks)
                    .map(|(block, weight)| x.clone().slice([0..rows, block]).matmul(weight.val())),
            )
        };
        match &self.bias {
            Some(bias) => y + bias.val().unsqueeze(),
            None => y,
        }
    }
}

/// A 1x1 convolution (the backbones' expand, project, squeeze-excitation and head convolutions) with
/// its input channels, its inner dimension, cut into [`blocks`] and the blocks' outputs added left to
/// right, then the bias. Any other convolution (a larger kernel, a stride, groups), one with at
/// most 512 input channels, or one on a device backend, is the layer's own forward.
pub fn conv1x1(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let unpadded = matches!(
        layer.padding,
        PaddingConfig2d::Same | PaddingConfig2d::Valid
    );
    let pointwise = unpadded
        && layer.kernel_size == [1, 1]
        && layer.stride == [1, 1]
        && layer.dilation == [1, 1]
        && layer.groups == 1;
    if channels <= MAX_BLOCK || !pointwise || !is_flex(&x.device()) {
        return layer.forward(x);
    }
    let weight = layer.weight.val();
    let [out_channels, ..] = weight.dims();
    let y = if x.device().is_autodiff() {
        // Training: burn's convolution, whose backward is the one burn's tests cover.
        let options = burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        sum_in_order(blocks(channels).map(|block| {
            conv2d(
                x.clone()
                    .slice([0..batch, block.clone(), 0..height, 0..width]),
                weight.clone().slice([0..out_channels, block, 0..1, 0..1]),
                None,
                options.clone(),
            )
        }))
    } else {
        // Inference: the same products as `[out, channels] @ [channels, positions]` matrices.
        // burn-flex's convolution copies a strided weight block to contiguous memory on every call,
        // and inference runs image by image; its matmul reads the strided blocks in place.
        let positions = height * width;
        let weight = weight.reshape([1, out_channels, channels]);
        let x = x.reshape([batch, channels, positions]);
        sum_in_order(blocks(channels).map(|block| {
            weight
                .clone()
                .slice([0..1, 0..out_channels, block.clone()])
                .matmul(x.clone().slice([0..batch, block, 0..positions]))
        }))
        .reshape([batch, out_channels, height, width])
    };
    match &layer.bias {
        Some(bias) => y + bias.val().reshape([1, out_channels, 1, 1]),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Flex, with autodiff or without, is flex; the CPU shortcuts key on it.
    #[test]
    fn flex_is_recognised_with_and_without_autodiff() {
        assert!(is_flex(&Device::flex()));
        assert!(is_flex(&Device::flex().autodiff()));
    }

    #[test]
    fn blocks_are_512_from_the_start() {
        let lengths = |k: usize| blocks(k).map(|b| b.len()).collect::<Vec<_>>();
        for (k, expected) in [
            (1, vec![1]),
            (512, vec![512]),
            (513, vec![512, 1]),
            (1024, vec![512, 512]),
            (1152, vec![512, 512, 128]),
            (1280, vec![512, 512, 256]),
            (2048, vec![512, 512, 512, 512]),
        ] {
            assert_eq!(lengths(k), expected, "k = {k}");
        }
    }

    /// Reproducible values in [-1, 1): a linear congruential generator, so the expected values below
    /// need no tensor code.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// The scalar definition of one output of a blocked product: per block of the inner dimension
    /// a fused multiply-add chain from +0, the blocks added left to right.
    fn blocked_dot(k: usize, term: impl Fn(usize) -> (f32, f32)) -> f32 {
        blocks(k)
            .map(|block| {
                block.fold(0.0f32, |acc, t| {
                    let (a, b) = term(t);
                    a.mul_add(b, acc)
                })
            })
            .reduce(|sum, chain| sum + chain)
            .expect("at least one block")
    }

    fn vec_of<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    fn count_differing(actual: &[f32], expected: &[f32]) -> usize {
        assert_eq!(actual.len(), expected.len());
        actual
            .iter()
            .zip(expected)
            .filter(|(a, e)| a.to_bits() != e.to_bits())
            .count()
    }

    /// The products equal, bit for bit, the scalar definition. Thin and wide shapes, inner
    /// dimensions below, at and above a block: gemm's small-matrix and blocked paths.
    #[test]
    fn products_equal_the_scalar_definition() {
        let device = Device::flex();
        for (m, k, n) in [
            (64, 1280, 1024),
            (3, 1025, 4),
            (7, 512, 130),
            (200, 2048, 16),
            (1, 3072, 128),
            (64, 64, 1024),
        ] {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let product = vec_of(matmul(
                Tensor::from_data(TensorData::new(a.clone(), [m, k]), &device),
                Tensor::from_data(TensorData::new(b.clone(), [k, n]), &device),
            ));
            let expected: Vec<f32> = (0..m * n)
                .map(|o| blocked_dot(k, |t| (a[(o / n) * k + t], b[t * n + o % n])))
                .collect();
            let differing = count_differing(&product, &expected);
            assert_eq!(
                differing,
                0,
                "{m}x{k} @ {k}x{n}: {differing} of {} outputs differ",
                m * n
            );
        }
    }

    fn linear_layer(d_input: usize, d_output: usize, device: &Device) -> Linear {
        Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(values(d_input * d_output, 3), [d_input, d_output]),
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(values(d_output, 4), [d_output]),
                device,
            ))),
        }
    }

    /// `BlockedLinear` keeps the layer's values and computes the blocked product plus the bias, in
    /// inference and while training, with few rows and with more than a block of them (the path
    /// that cuts the rows).
    #[test]
    fn blocked_linear_is_the_blocked_product_plus_bias() {
        let (d_input, d_output) = (1100, 6);
        for device in [Device::flex(), Device::flex().autodiff()] {
            let linear = linear_layer(d_input, d_output, &device);
            let (weight, bias) = (
                vec_of(linear.weight.val()),
                vec_of(linear.bias.as_ref().unwrap().val()),
            );
            let blocked = BlockedLinear::from_linear(linear);
            assert_eq!(blocked.weight_blocks.len(), 3);
            assert_eq!(count_differing(&vec_of(blocked.weight()), &weight), 0);
            for rows in [5, 1030] {
                let x = values(rows * d_input, 5);
                let y = vec_of(blocked.forward(Tensor::from_data(
                    TensorData::new(x.clone(), [rows, d_input]),
                    &device,
                )));
                let expected: Vec<f32> = (0..rows * d_output)
                    .map(|o| {
                        let (r, j) = (o / d_output, o % d_output);
                        blocked_dot(d_input, |t| (x[r * d_input + t], weight[t * d_output + j]))
                            + bias[j]
                    })
                    .collect();
                let differing = count_differing(&y, &expected);
                assert_eq!(
                    differing, 0,
                    "{rows} rows on {device:?}: {differing} differ"
                );
            }
        }
    }

    /// While training, the weight's gradient `x^T dy` is a sum over the rows: with more than a block
    /// of rows it is the blocks' chains, which burn's autodiff accumulates from the last block to
    /// the first (the order is fixed by the graph, not by the machine).
    #[test]
    fn weight_gradient_sums_row_blocks() {
        let device = Device::flex().autodiff();
        let (rows, d_input, d_output) = (1030, 40, 3);
        let blocked = BlockedLinear::from_linear(linear_layer(d_input, d_output, &device));
        let (x, dy) = (values(rows * d_input, 6), values(rows * d_output, 7));
        let y = blocked.forward(Tensor::from_data(
            TensorData::new(x.clone(), [rows, d_input]),
            &device,
        ));
        // The loss sum(y * dy) has the gradient dy with respect to y.
        let loss =
            (y * Tensor::from_data(TensorData::new(dy.clone(), [rows, d_output]), &device)).sum();
        let grads = loss.backward();
        let gradient = vec_of(blocked.weight_grad(&grads).unwrap());
        let expected: Vec<f32> = (0..d_input * d_output)
            .map(|o| {
                let (i, j) = (o / d_output, o % d_output);
                let chains: Vec<f32> = blocks(rows)
                    .map(|block| {
                        block.fold(0.0f32, |acc, r| {
                            x[r * d_input + i].mul_add(dy[r * d_output + j], acc)
                        })
                    })
                    .collect();
                chains
                    .into_iter()
                    .rev()
                    .reduce(|sum, chain| sum + chain)
                    .unwrap()
            })
            .collect();
        let differing = count_differing(&gradient, &expected);
        assert_eq!(differing, 0, "{differing} of {} differ", d_input * d_output);
    }

    /// A pointwise convolution over more than a block of channels is the blocked product over the
    /// channels at every position, plus the bias; with fewer channels, burn's own convolution gives
    /// the same chain. Enough output channels and positions for gemm's blocked kernels, which would
    /// cut 1280 channels into 640 + 640 or 427 + 427 + 426 (a few outputs take a path that does not).
    #[test]
    fn conv1x1_is_the_blocked_product_over_channels() {
        let (batch, height, width, out_channels) = (2, 8, 16, 64);
        for (device, channels) in [
            (Device::flex(), 300),
            (Device::flex(), 1280),
            (Device::flex().autodiff(), 1280),
        ] {
            let mut layer =
                burn::nn::conv::Conv2dConfig::new([channels, out_channels], [1, 1]).init(&device);
            let weight = values(out_channels * channels, 8);
            let bias = values(out_channels, 9);
            layer.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(weight.clone(), [out_channels, channels, 1, 1]),
                &device,
            ));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bias.clone(), [out_channels]),
                &device,
            )));
            let x = values(batch * channels * height * width, 10);
            let y = vec_of(conv1x1(
                &layer,
                Tensor::from_data(
                    TensorData::new(x.clone(), [batch, channels, height, width]),
                    &device,
                ),
            ));
            let positions = height * width;
            let expected: Vec<f32> = (0..batch * out_channels * positions)
                .map(|o| {
                    let (b, c_out, p) = (
                        o / (out_channels * positions),
                        (o / positions) % out_channels,
                        o % positions,
                    );
                    blocked_dot(channels, |c| {
                        (
                            x[(b * channels + c) * positions + p],
                            weight[c_out * channels + c],
                        )
                    }) + bias[c_out]
                })
                .collect();
            let differing = count_differing(&y, &expected);
            assert_eq!(
                differing, 0,
                "{channels} channels on {device:?}: {differing} differ"
            );
        }
    }
}
