//! Dropout whose uniform draws come from the caller.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

/// Inverted dropout with rate `p`: keeps `x / (1 - p)` where the caller's uniform draw `u >= p`.
///
/// The trainer draws one `u` per (seed, size, epoch, step) and hands it to every variant, so two variants
/// with the same `p` drop the same units, and a unit dropped at rate 0.25 is also dropped at 0.5.
/// Without draws (evaluation) it is the identity.
///
/// # Shapes
/// - `x`, `uniform`: `[batch, features]`
#[derive(Module, Debug)]
pub struct PairedDropout {
    pub p: f64,
}

#[derive(Config, Debug)]
pub struct PairedDropoutConfig {
    pub p: f64,
}

impl PairedDropoutConfig {
    pub fn init(&self) -> PairedDropout {
        PairedDropout { p: self.p }
    }
}

impl PairedDropout {
    pub fn forward(&self, x: Tensor<2>, uniform: Option<Tensor<2>>) -> Tensor<2> {
        match uniform {
            Some(u) if self.p > 0.0 => {
                let keep = u
                    .greater_equal_elem(self.p)
                    .float()
                    .div_scalar(1.0 - self.p);
                x * keep
            }
            _ => x,
        }
    }
}

/// The keep-scale [`PairedDropout`] multiplies by where its uniform draw is `u`, as it computes it
/// (burn compares in f32 and divides by `1 - p` in f32): `1 / (1 - p)`, or 0 where `u < p`. The
/// stacked head's per-head masks are made with it.
pub fn keep_scale(u: f32, p: f64) -> f32 {
    let kept = if u >= p as f32 { 1.0f32 } else { 0.0 };
    kept / (1.0 - p) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn drops_where_the_draw_is_below_p_and_rescales() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 2.0, 3.0, 4.0]], &device);
        let u = Tensor::<2>::from_floats([[0.1, 0.3, 0.6, 0.9]], &device);
        let half = PairedDropoutConfig::new(0.5).init();
        let quarter = PairedDropoutConfig::new(0.25).init();
        let y = |d: &PairedDropout, u: Option<Tensor<2>>| {
            d.forward(x.clone(), u)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(y(&half, Some(u.clone())), vec![0.0, 0.0, 6.0, 8.0]);
        assert_eq!(
            y(&quarter, Some(u.clone())),
            vec![0.0, 2.0 / 0.75, 3.0 / 0.75, 4.0 / 0.75]
        );
        assert_eq!(y(&half, None), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            y(&PairedDropoutConfig::new(0.0).init(), Some(u)),
            vec![1.0, 2.0, 3.0, 4.0]
        );
    }

    /// `keep_scale` is the mask `forward` multiplies by, bit for bit, at rates whose f32 rounding
    /// goes either way and at draws on the boundary.
    #[test]
    fn keep_scale_is_the_forward_mask() {
        let device = Device::flex();
        for p in [0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.9] {
            let below = f32::from_bits((p as f32).to_bits() - 1);
            let draws = [0.0, below, p as f32, 0.5, 0.999, 0.123_456_79];
            let u = Tensor::<2>::from_floats([draws], &device);
            let ones = Tensor::<2>::ones([1, draws.len()], &device);
            let masked = PairedDropoutConfig::new(p)
                .init()
                .forward(ones, Some(u))
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let scales: Vec<f32> = draws.iter().map(|&u| keep_scale(u, p)).collect();
            assert_eq!(
                masked.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                scales.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "p = {p}"
            );
        }
    }
}
