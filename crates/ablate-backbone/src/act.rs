//! The two activations of the families.

use burn::tensor::Tensor;
use burn::tensor::activation::{relu, silu};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `x * sigmoid(x)` (b-series).
    Swish,
    /// `min(max(x, 0), 6)` (lite).
    Relu6,
}

impl Act {
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Swish => silu(x),
            // Inference: burn-flex's `clamp` is a scalar loop (its checks of the bounds for NaN
            // stay inside it), a sixth of lite0's forward; `relu` then `clamp_max` are two
            // vectorized passes giving the same values (NaN kept; -0 becomes +0, which the sums
            // downstream, all started at +0, cannot tell apart: the features are bit-identical).
            // Training keeps `clamp`, whose gradient at exactly 0 is not relu's.
            Act::Relu6 if !x.device().is_autodiff() => relu(x).clamp_max(6.0),
            Act::Relu6 => x.clamp(0.0, 6.0),
        }
    }
}

impl From<crate::arch::Activation> for Act {
    fn from(a: crate::arch::Activation) -> Self {
        match a {
            crate::arch::Activation::Swish => Act::Swish,
            crate::arch::Activation::Relu6 => Act::Relu6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// The inference path (`relu` then `clamp_max`) and the training path (`clamp`) give the same
    /// value for every input class: inside, below, above, at both bounds, signed zeros, infinities
    /// and NaN. Only the sign of a zero may differ (`-0` comes out `+0`).
    #[test]
    fn relu6_inference_path_matches_clamp() {
        let inputs = [
            -7.5,
            -1e-30,
            -0.0,
            0.0,
            1e-38,
            0.3,
            5.999_999_5,
            6.0,
            6.000_001,
            1e9,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
        ];
        let inference = values(Act::Relu6.forward(Tensor::from_floats(inputs, &Device::flex())));
        let training =
            values(Act::Relu6.forward(Tensor::from_floats(inputs, &Device::flex().autodiff())));
        for ((x, a), b) in inputs.iter().zip(&inference).zip(&training) {
            let same = a == b || (a.is_nan() && b.is_nan());
            assert!(same, "relu6({x}): inference {a}, training {b}");
        }
        assert!(inference[12].is_nan(), "NaN must propagate");
        assert_eq!(inference[7], 6.0);
    }
}
