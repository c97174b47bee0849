//! The two activations of the families.

use burn::tensor::Tensor;
use burn::tensor::activation::silu;

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
