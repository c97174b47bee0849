//! PyTorch's `nn.Linear` initialisation, drawn from a stream keyed by (seed, parameter name).

use ablate_spec::seeding::stream;
use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

/// A `Linear(d_input -> d_output)` whose weight and bias are `U(-1/sqrt(d_input), 1/sqrt(d_input))`,
/// as PyTorch initialises them, drawn from the streams `init/<name>.weight` and `init/<name>.bias`.
///
/// The bias stream does not depend on whether the weight was drawn first, and the weight does not
/// depend on whether there is a bias: a variant with the bias switched off has the same weight.
pub fn keyed_linear(
    name: &str,
    d_input: usize,
    d_output: usize,
    bias: bool,
    seed: u64,
    device: &Device,
) -> Linear {
    let bound = 1.0 / (d_input as f64).sqrt();
    // burn's Linear stores the weight as [d_input, d_output].
    let weight = uniform(
        seed,
        &format!("init/{name}.weight"),
        d_input * d_output,
        bound,
    );
    let weight = Tensor::<2>::from_data(TensorData::new(weight, [d_input, d_output]), device);
    let bias = bias.then(|| {
        let values = uniform(seed, &format!("init/{name}.bias"), d_output, bound);
        Param::from_tensor(Tensor::<1>::from_data(
            TensorData::new(values, [d_output]),
            device,
        ))
    });
    Linear {
        weight: Param::from_tensor(weight),
        bias,
    }
}

fn uniform(seed: u64, key: &str, len: usize, bound: f64) -> Vec<f32> {
    let mut rng = stream(seed, key);
    (0..len)
        .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_key_not_the_bias_switch() {
        let device = Device::flex();
        let with = keyed_linear("fc1", 6, 5, true, 3, &device);
        let without = keyed_linear("fc1", 6, 5, false, 3, &device);
        let other = keyed_linear("fc2", 6, 5, true, 3, &device);
        let w = with.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(
            w,
            without
                .weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        );
        assert_ne!(
            w,
            other.weight.val().into_data().try_to_vec::<f32>().unwrap()
        );
        assert!(without.bias.is_none());
        let bound = 1.0 / 6f32.sqrt();
        assert!(w.iter().all(|v| v.abs() <= bound));
        // 30 draws from U(-b, b) spread over most of the interval.
        let (lo, hi) = w
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(lo < -bound / 2.0 && hi > bound / 2.0, "{lo} {hi}");
    }
}
