//! The backbone's BatchNorms in their two modes, with PyTorch's semantics while training.
//!
//! burn-nn's `BatchNorm` updates its running variance with the biased batch variance; PyTorch
//! (lukemelas' models) updates it with the *unbiased* one, `count / (count - 1)` times larger, where count = batch x H x W
//! (for the head conv's BN of a 64 px image that is 2 x 2 per image: the difference is not rounding).

use burn::nn::BatchNorm;
use burn::tensor::Tensor;

/// Batch statistics (and a running-statistics update) on a training device when the layer trains;
/// running statistics otherwise: at inference, and where [`burn::module::Module::freeze`] froze the
/// layer while the rest of the network trains (timm's frozen BatchNorm).
pub(crate) fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    match (x.device().is_autodiff(), bn.training.is_enabled()) {
        (true, true) => batch(bn, x),
        (true, false) => running(bn, x),
        // burn's own inference path: the eval features stay exactly what the parity test checked.
        (false, _) => bn.forward(x),
    }
}

/// `(x - running_mean) / sqrt(running_var + eps) * gamma + beta`, differentiable in x only.
fn running(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    let channel = |t: Tensor<1>| t.to_device(&device).unsqueeze_dims::<4>(&[0, 2, 3]);
    let mean = channel(bn.running_mean.value());
    let std = channel(bn.running_var.value().add_scalar(bn.epsilon).sqrt());
    let scale = channel(bn.gamma.val()) / std;
    (x - mean) * scale + channel(bn.beta.val())
}

fn batch(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let [n, channels, h, w] = x.dims();
    let count = n * h * w;
    // Two passes (mean, then the mean square of the centred values): the one-pass E[x²] - E[x]²
    // loses digits where activations are large and vary little.
    let mean = x.clone().mean_dim(0).mean_dim(2).mean_dim(3);
    let centred = x - mean.clone();
    let var = centred.clone().square().mean_dim(0).mean_dim(2).mean_dim(3);
    let device = centred.device();
    let channel = |t: Tensor<1>| t.unsqueeze_dims::<4>(&[0, 2, 3]);
    let output = centred / var.clone().add_scalar(bn.epsilon).sqrt() * channel(bn.gamma.val())
        + channel(bn.beta.val());

    let m = bn.momentum;
    let unbiased = count as f64 / count.saturating_sub(1).max(1) as f64;
    let mean = mean.detach().reshape([channels]);
    let var = var.detach().reshape([channels]);
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - m) + mean.mul_scalar(m)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - m) + var.mul_scalar(m * unbiased)).detach());
    output
}
