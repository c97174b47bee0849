//! EfficientNet as data: the base stage table, the per-model coefficients, and the scaling rules
//! (lukemelas' `efficientnet_pytorch` / TF `efficientnet_builder` and `efficientnet_lite_builder`).

use crate::error::BackboneError;

/// One stage of the base (b0) network: `repeats` MBConv blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageArgs {
    pub repeats: usize,
    pub kernel: usize,
    pub stride: usize,
    pub expand_ratio: usize,
    pub input_filters: usize,
    pub output_filters: usize,
}

/// The b0 stage table (`r1_k3_s11_e1_i32_o16_se0.25`, ...), shared by both families.
pub const BASE_STAGES: [StageArgs; 7] = [
    stage(1, 3, 1, 1, 32, 16),
    stage(2, 3, 2, 6, 16, 24),
    stage(2, 5, 2, 6, 24, 40),
    stage(3, 3, 2, 6, 40, 80),
    stage(3, 5, 1, 6, 80, 112),
    stage(4, 5, 2, 6, 112, 192),
    stage(1, 3, 1, 6, 192, 320),
];

const fn stage(
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand_ratio: usize,
    input_filters: usize,
    output_filters: usize,
) -> StageArgs {
    StageArgs {
        repeats,
        kernel,
        stride,
        expand_ratio,
        input_filters,
        output_filters,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// b0-b7: squeeze-excitation (ratio 0.25), swish.
    B,
    /// lite0-lite4: no squeeze-excitation, ReLU6, stem and head not scaled.
    Lite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Swish,
    Relu6,
}

/// A named architecture with its compound-scaling coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arch {
    pub name: &'static str,
    pub family: Family,
    pub width: f64,
    pub depth: f64,
    /// Native input resolution (square).
    pub resolution: usize,
    /// Rate of the dropout lukemelas applies to the pooled features before `_fc`.
    pub dropout: f64,
}

const fn arch(
    name: &'static str,
    family: Family,
    width: f64,
    depth: f64,
    resolution: usize,
    dropout: f64,
) -> Arch {
    Arch {
        name,
        family,
        width,
        depth,
        resolution,
        dropout,
    }
}

/// Every supported architecture: two families as rows of one table.
pub const ARCHS: [Arch; 13] = [
    arch("efficientnet-b0", Family::B, 1.0, 1.0, 224, 0.2),
    arch("efficientnet-b1", Family::B, 1.0, 1.1, 240, 0.2),
    arch("efficientnet-b2", Family::B, 1.1, 1.2, 260, 0.3),
    arch("efficientnet-b3", Family::B, 1.2, 1.4, 300, 0.3),
    arch("efficientnet-b4", Family::B, 1.4, 1.8, 380, 0.4),
    arch("efficientnet-b5", Family::B, 1.6, 2.2, 456, 0.4),
    arch("efficientnet-b6", Family::B, 1.8, 2.6, 528, 0.5),
    arch("efficientnet-b7", Family::B, 2.0, 3.1, 600, 0.5),
    arch("efficientnet-lite0", Family::Lite, 1.0, 1.0, 224, 0.2),
    arch("efficientnet-lite1", Family::Lite, 1.0, 1.1, 240, 0.2),
    arch("efficientnet-lite2", Family::Lite, 1.1, 1.2, 260, 0.3),
    arch("efficientnet-lite3", Family::Lite, 1.2, 1.4, 280, 0.3),
    arch("efficientnet-lite4", Family::Lite, 1.4, 1.8, 300, 0.3),
];

/// One MBConv block after scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockSpec {
    pub input_filters: usize,
    pub output_filters: usize,
    pub kernel: usize,
    pub stride: usize,
    pub expand_ratio: usize,
    /// Channels of the squeeze-excitation bottleneck (`None` for lite).
    pub se_filters: Option<usize>,
    /// Row of [`BASE_STAGES`] the block belongs to (fine-tuning freezes whole stages).
    pub stage: usize,
}

impl BlockSpec {
    pub fn expanded(&self) -> usize {
        self.input_filters * self.expand_ratio
    }

    /// The residual connection exists when the block keeps shape.
    pub fn has_skip(&self) -> bool {
        self.stride == 1 && self.input_filters == self.output_filters
    }
}

impl Arch {
    /// Looks an architecture up by name (`efficientnet-b0` ... `efficientnet-lite4`).
    pub fn from_name(name: &str) -> Result<Arch, BackboneError> {
        ARCHS
            .iter()
            .find(|a| a.name == name)
            .copied()
            .ok_or_else(|| BackboneError::UnknownArch {
                name: name.to_string(),
                known: ARCHS.iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
            })
    }

    pub fn activation(&self) -> Activation {
        match self.family {
            Family::B => Activation::Swish,
            Family::Lite => Activation::Relu6,
        }
    }

    /// Channels out of the stem (32 scaled by width; fixed for lite).
    pub fn stem_filters(&self) -> usize {
        match self.family {
            Family::B => round_filters(32, self.width),
            Family::Lite => 32,
        }
    }

    /// Channels of the pooled feature vector (1280 scaled by width; fixed for lite).
    pub fn feature_dim(&self) -> usize {
        match self.family {
            Family::B => round_filters(1280, self.width),
            Family::Lite => 1280,
        }
    }

    /// The scaled blocks, in order: filters rounded to multiples of 8, repeats ceil-scaled by depth
    /// (lite keeps the first and last stage's repeats, as TF's `fix_head_stem`).
    pub fn blocks(&self) -> Vec<BlockSpec> {
        let last = BASE_STAGES.len() - 1;
        let mut blocks = Vec::new();
        for (i, s) in BASE_STAGES.iter().enumerate() {
            let fixed = self.family == Family::Lite && (i == 0 || i == last);
            let input = if fixed && i == 0 {
                self.stem_filters()
            } else {
                round_filters(s.input_filters, self.width)
            };
            let output = round_filters(s.output_filters, self.width);
            let repeats = if fixed {
                s.repeats
            } else {
                round_repeats(s.repeats, self.depth)
            };
            for r in 0..repeats {
                let input_filters = if r == 0 { input } else { output };
                blocks.push(BlockSpec {
                    input_filters,
                    output_filters: output,
                    kernel: s.kernel,
                    stride: if r == 0 { s.stride } else { 1 },
                    expand_ratio: s.expand_ratio,
                    // lukemelas: max(1, int(input_filters * se_ratio)), on the block's input filters.
                    se_filters: (self.family == Family::B).then(|| (input_filters / 4).max(1)),
                    stage: i,
                });
            }
        }
        blocks
    }
}

/// lukemelas' `round_filters`: scale, round to a multiple of 8, never more than 10% below the scaled value.
pub fn round_filters(filters: usize, width: f64) -> usize {
    const DIVISOR: usize = 8;
    let scaled = filters as f64 * width;
    let rounded = ((scaled + DIVISOR as f64 / 2.0) as usize / DIVISOR * DIVISOR).max(DIVISOR);
    if (rounded as f64) < 0.9 * scaled {
        rounded + DIVISOR
    } else {
        rounded
    }
}

/// lukemelas' `round_repeats`: `ceil(depth * repeats)`.
pub fn round_repeats(repeats: usize, depth: f64) -> usize {
    (depth * repeats as f64).ceil() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Block counts, feature widths and stem widths as the PyTorch models have them
    /// (`len(model._blocks)`, `model._fc.in_features`, `model._conv_stem.out_channels`).
    #[test]
    fn scaled_shapes_match_the_reference_models() {
        let cases = [
            ("efficientnet-b0", 16, 1280, 32),
            ("efficientnet-b1", 23, 1280, 32),
            ("efficientnet-b2", 23, 1408, 32),
            ("efficientnet-b3", 26, 1536, 40),
            ("efficientnet-b4", 32, 1792, 48),
            ("efficientnet-b5", 39, 2048, 48),
            ("efficientnet-b6", 45, 2304, 56),
            ("efficientnet-b7", 55, 2560, 64),
            ("efficientnet-lite0", 16, 1280, 32),
        ];
        for (name, blocks, features, stem) in cases {
            let a = Arch::from_name(name).unwrap();
            assert_eq!(a.blocks().len(), blocks, "{name} blocks");
            assert_eq!(a.feature_dim(), features, "{name} features");
            assert_eq!(a.stem_filters(), stem, "{name} stem");
        }
        // b5's last stage: 320 * 1.6 = 512 filters.
        assert_eq!(
            Arch::from_name("efficientnet-b5")
                .unwrap()
                .blocks()
                .last()
                .unwrap()
                .output_filters,
            512
        );
    }

    #[test]
    fn unknown_arch_lists_the_known_ones() {
        let err = Arch::from_name("efficientnet-b9").unwrap_err().to_string();
        assert!(
            err.contains("efficientnet-b9") && err.contains("efficientnet-lite4"),
            "{err}"
        );
    }
}
