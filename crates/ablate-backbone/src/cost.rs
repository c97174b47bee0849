//! What one image costs a backbone, counted from the architecture table: multiply-adds, parameters,
//! the feature maps a training step keeps for its backward pass, and the layers (each at least one
//! kernel launch on a device). `ablate backbone cost` prints it; docs/gpu.md turns it into time and
//! memory on a GPU.

use crate::arch::{Arch, Family};

/// The cost of one image's forward pass at `size` x `size` pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardCost {
    /// Multiply-adds of the convolutions and the squeeze-excitation products (a FLOP is two).
    pub macs: u64,
    /// Trainable parameters: convolution weights and biases, BatchNorm's scale and shift (no
    /// classifier: the head replaces it).
    pub params: u64,
    /// Elements of every intermediate feature map (each convolution's, BatchNorm's and activation's
    /// output, the squeeze-excitation's scaled map, the residual sums): about what autodiff keeps
    /// for the backward pass of a training step, per image.
    pub activations: u64,
    /// Layers run: convolutions, BatchNorms, activations, pooling, squeeze-excitation steps and
    /// residual additions.
    pub layers: u64,
}

/// TF's "same" padding: the output side of a convolution with `stride`.
fn out_side(side: u64, stride: u64) -> u64 {
    side.div_ceil(stride)
}

/// A part of the network, for costs per part: what fine-tuning from a cut would still run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Stem,
    /// A row of the stage table (0-based, as [`crate::arch::BlockSpec::stage`]).
    Stage(usize),
    /// The head convolution, its BatchNorm and activation, and the pooling.
    Head,
}

impl ForwardCost {
    fn zero() -> Self {
        ForwardCost {
            macs: 0,
            params: 0,
            activations: 0,
            layers: 0,
        }
    }

    fn add(&mut self, other: &ForwardCost) {
        self.macs += other.macs;
        self.params += other.params;
        self.activations += other.activations;
        self.layers += other.layers;
    }

    /// The whole forward pass: the sum of [`ForwardCost::parts`].
    pub fn of(arch: &Arch, size: usize) -> Self {
        let mut total = Self::zero();
        for (_, part) in Self::parts(arch, size) {
            total.add(&part);
        }
        total
    }

    /// The cost of `parts` at and above `from` (the top of the network a cut leaves to train).
    pub fn from_part(arch: &Arch, size: usize, from: Part) -> Self {
        let mut total = Self::zero();
        for (_, part) in Self::parts(arch, size).iter().filter(|(p, _)| *p >= from) {
            total.add(part);
        }
        total
    }

    /// The cost per part, bottom to top: the stem, each stage, the head.
    pub fn parts(arch: &Arch, size: usize) -> Vec<(Part, ForwardCost)> {
        let mut parts = Vec::new();
        let se = arch.family == Family::B;
        let stem = arch.stem_filters() as u64;
        let mut side = out_side(size as u64, 2);
        let mut c = Self::zero();
        c.conv_bn(3, stem, 3, 1, side, true);
        parts.push((Part::Stem, c));
        for b in arch.blocks() {
            let mut c = Self::zero();
            let (cin, cout) = (b.input_filters as u64, b.output_filters as u64);
            let expanded = b.expanded() as u64;
            if b.expand_ratio != 1 {
                c.conv_bn(cin, expanded, 1, 1, side, true);
            }
            let out = out_side(side, b.stride as u64);
            c.conv_bn(expanded, expanded, b.kernel as u64, expanded, out, true);
            if let (true, Some(squeezed)) = (se, b.se_filters) {
                let squeezed = squeezed as u64;
                // Pool, reduce (with bias), swish, expand (with bias), sigmoid, scale the map.
                c.macs += 2 * expanded * squeezed;
                c.params += 2 * expanded * squeezed + squeezed + expanded;
                c.activations += expanded * out * out + 2 * (expanded + squeezed);
                c.layers += 6;
            }
            c.conv_bn(expanded, cout, 1, 1, out, false);
            if b.has_skip() {
                c.activations += cout * out * out;
                c.layers += 1;
            }
            side = out;
            match parts.last_mut() {
                Some((Part::Stage(s), sum)) if *s == b.stage => sum.add(&c),
                _ => parts.push((Part::Stage(b.stage), c)),
            }
        }
        let last = arch
            .blocks()
            .last()
            .map_or(stem, |b| b.output_filters as u64);
        let mut c = Self::zero();
        c.conv_bn(last, arch.feature_dim() as u64, 1, 1, side, true);
        // The pooled features.
        c.activations += arch.feature_dim() as u64;
        c.layers += 1;
        parts.push((Part::Head, c));
        parts
    }

    /// A convolution `cin -> cout`, `k`x`k`, in `groups`, over `side`^2 outputs, then BatchNorm and
    /// (when `act`) the activation.
    fn conv_bn(&mut self, cin: u64, cout: u64, k: u64, groups: u64, side: u64, act: bool) {
        let positions = side * side;
        let weights = cout * (cin / groups) * k * k;
        self.macs += weights * positions;
        self.params += weights + 2 * cout; // no convolution bias before BN; BN's scale and shift
        let maps = if act { 3 } else { 2 };
        self.activations += maps * cout * positions;
        self.layers += maps;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::Device;

    use crate::EfficientNet;

    /// Parameters as the reference models count them (timm's and torchvision's totals less the
    /// 1000-class classifier, `1000 * F + 1000`): lite0 4,652,008, b0 5,288,548, b5 30,389,784. And
    /// the network this crate builds has exactly these plus BatchNorm's running mean and variance
    /// (burn counts them; as many as BN's scale and shift), so the table cannot drift from the model.
    #[test]
    fn params_match_the_reference_models_and_the_built_network() {
        for (name, total) in [
            ("efficientnet-lite0", 4_652_008u64),
            ("efficientnet-b0", 5_288_548),
            ("efficientnet-b5", 30_389_784),
        ] {
            let arch = Arch::from_name(name).unwrap();
            let cost = ForwardCost::of(&arch, 224);
            let classifier = 1000 * arch.feature_dim() as u64 + 1000;
            assert_eq!(cost.params, total - classifier, "{name}");
            if name != "efficientnet-b5" {
                let model = EfficientNet::new(&arch, false, &Device::flex());
                let bn_affine = cost.params - conv_and_se_params(&arch);
                assert_eq!(model.num_params() as u64, cost.params + bn_affine, "{name}");
            }
        }
    }

    /// The parameters that are not BatchNorm's: every convolution's weights and the SE biases.
    fn conv_and_se_params(arch: &Arch) -> u64 {
        let mut bn = 2 * arch.stem_filters() as u64 + 2 * arch.feature_dim() as u64;
        for b in arch.blocks() {
            let expanded = b.expanded() as u64;
            if b.expand_ratio != 1 {
                bn += 2 * expanded;
            }
            bn += 2 * expanded + 2 * b.output_filters as u64;
        }
        ForwardCost::of(arch, 224).params - bn
    }

    /// The parts add up to the whole, bottom to top, and the top from the last stage up is a small
    /// share of the multiply-adds (what fine-tuning from a cut saves).
    #[test]
    fn parts_add_up_and_the_top_is_cheap() {
        let arch = Arch::from_name("efficientnet-lite0").unwrap();
        let parts = ForwardCost::parts(&arch, 224);
        assert_eq!(parts.first().map(|p| p.0), Some(Part::Stem));
        assert_eq!(parts.last().map(|p| p.0), Some(Part::Head));
        assert_eq!(parts.len(), 2 + 7, "stem, 7 stages, head");
        let whole = ForwardCost::of(&arch, 224);
        assert_eq!(ForwardCost::from_part(&arch, 224, Part::Stem), whole);
        let top = ForwardCost::from_part(&arch, 224, Part::Stage(6));
        assert!(top.macs * 5 < whole.macs, "{} of {}", top.macs, whole.macs);
        assert!(top.macs > 0 && top.params > whole.params / 5);
    }

    /// Multiply-adds as the EfficientNet papers give them: b0 0.39 G at 224 px, b5 9.9 G at 456 px
    /// (Tan & Le 2019, table 2, where "FLOPs" counts multiply-adds); lite0 0.40 G (TF's lite README).
    #[test]
    fn multiply_adds_match_the_papers() {
        for (name, size, giga) in [
            ("efficientnet-b0", 224, 0.39),
            ("efficientnet-b5", 456, 9.9),
            ("efficientnet-lite0", 224, 0.40),
        ] {
            let macs = ForwardCost::of(&Arch::from_name(name).unwrap(), size).macs as f64 / 1e9;
            assert!(
                (macs / giga - 1.0).abs() < 0.05,
                "{name} at {size} px: {macs:.3} G multiply-adds, the paper {giga} G"
            );
        }
    }
}
