//! The thread's model2.

use ablate_matmul::BlockedLinear;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::head::{HeadModel, linear_params, linear_squared_norm};
use crate::init::keyed_linear;

#[derive(Config, Debug)]
pub struct LinearHeadConfig {
    pub d_input: usize,
    pub classes: usize,
    #[config(default = true)]
    pub bias: bool,
}

/// `Linear(F->C, bias)`.
///
/// # Shapes
/// - input: `[batch, d_input]`, output: `[batch, classes]`
#[derive(Module, Debug)]
pub struct LinearHead {
    pub fc: BlockedLinear,
}

impl LinearHeadConfig {
    pub fn init(&self, seed: u64, device: &Device) -> LinearHead {
        LinearHead {
            fc: BlockedLinear::from_linear(keyed_linear(
                "fc",
                self.d_input,
                self.classes,
                self.bias,
                seed,
                device,
            )),
        }
    }
}

impl HeadModel for LinearHead {
    fn forward(&self, x: Tensor<2>, _dropout_draws: Option<Tensor<2>>) -> Tensor<2> {
        self.fc.forward(x)
    }

    fn trainable_params(&self) -> usize {
        linear_params(&self.fc)
    }

    fn squared_norm(&self) -> Tensor<1> {
        linear_squared_norm(&self.fc)
    }
}
