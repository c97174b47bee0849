//! One cell of the grid: a head variant trained on one training-set size with one seed.

use serde::{Deserialize, Serialize};

use crate::experiment::HeadKind;

/// Where the mlp head's dropout sits relative to its BatchNorm.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DropoutPosition {
    /// `BN -> Dropout -> Linear`: the thread's order; BN never sees dropped units.
    #[default]
    AfterBn,
    /// `[ReLU] -> Dropout -> BN`: BN's running variance learns the dropped-out variance, which eval
    /// does not have (Li et al., CVPR 2019, "variance shift").
    BeforeBn,
}

impl DropoutPosition {
    pub fn is_after_bn(&self) -> bool {
        *self == DropoutPosition::AfterBn
    }
}

/// A head with every switch of the grid set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "head", rename_all = "lowercase")]
pub enum HeadVariant {
    /// `Linear(F->hidden, bias_before_bn) -> [ReLU] -> BatchNorm1d -> Dropout(dropout) -> Linear(hidden->C, last_bias)`.
    Mlp {
        bias_before_bn: bool,
        relu: bool,
        dropout: f64,
        last_bias: bool,
        /// Left out of records (and names) when `after_bn`, so results made before the axis existed
        /// read back unchanged.
        #[serde(default, skip_serializing_if = "DropoutPosition::is_after_bn")]
        dropout_position: DropoutPosition,
        /// Dropout on the input features in training (the backbone's own dropout before `_fc`);
        /// left out of records and names when 0.
        #[serde(default, skip_serializing_if = "is_zero")]
        input_dropout: f64,
        /// L2 weight decay from the grid's `weight_decay` axis; `None` (no axis) trains with
        /// `[train] weight_decay` and leaves records and names as before the axis existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight_decay: Option<f64>,
    },
    /// `[Dropout(input_dropout)] -> Linear(F->C, last_bias)`.
    Linear {
        last_bias: bool,
        #[serde(default, skip_serializing_if = "is_zero")]
        input_dropout: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight_decay: Option<f64>,
    },
}

fn is_zero(p: &f64) -> bool {
    *p == 0.0
}

impl HeadVariant {
    pub fn kind(&self) -> HeadKind {
        match self {
            HeadVariant::Mlp { .. } => HeadKind::Mlp,
            HeadVariant::Linear { .. } => HeadKind::Linear,
        }
    }

    /// A stable, readable name such as `mlp-bias1-relu0-drop0.25-last1` or `linear-last1`; dropout
    /// before BN adds `-prebn` after the rate (`mlp-bias1-relu1-drop0.5-prebn-last1`), input dropout
    /// adds `-in<p>` at the end (`linear-last1-in0.2`).
    pub fn name(&self) -> String {
        let input = self.input_dropout();
        let mut suffix = if input == 0.0 {
            String::new()
        } else {
            format!("-in{input}")
        };
        if let Some(wd) = self.weight_decay() {
            suffix += &format!("-wd{wd}");
        }
        let base = match *self {
            HeadVariant::Mlp {
                bias_before_bn,
                relu,
                dropout,
                last_bias,
                dropout_position,
                ..
            } => format!(
                "mlp-bias{}-relu{}-drop{}{}-last{}",
                u8::from(bias_before_bn),
                u8::from(relu),
                dropout,
                if dropout_position.is_after_bn() {
                    ""
                } else {
                    "-prebn"
                },
                u8::from(last_bias)
            ),
            HeadVariant::Linear { last_bias, .. } => format!("linear-last{}", u8::from(last_bias)),
        };
        base + &suffix
    }

    /// The weight decay of the grid's axis (`None`: the `[train]` value).
    pub fn weight_decay(&self) -> Option<f64> {
        match *self {
            HeadVariant::Mlp { weight_decay, .. } | HeadVariant::Linear { weight_decay, .. } => {
                weight_decay
            }
        }
    }

    /// The input dropout rate (0 when none).
    pub fn input_dropout(&self) -> f64 {
        match *self {
            HeadVariant::Mlp { input_dropout, .. } | HeadVariant::Linear { input_dropout, .. } => {
                input_dropout
            }
        }
    }

    /// The dropout rate of the hidden layer (0 for `linear`, which has none).
    pub fn dropout(&self) -> f64 {
        match *self {
            HeadVariant::Mlp { dropout, .. } => dropout,
            HeadVariant::Linear { .. } => 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub head: HeadVariant,
    pub train_per_class: usize,
    pub seed: u64,
}

impl Cell {
    /// Unique within an experiment and safe as a file name: `<variant>-n<size>-s<seed>`.
    pub fn id(&self) -> String {
        format!(
            "{}-n{}-s{}",
            self.head.name(),
            self.train_per_class,
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_as_their_switches() {
        let cases = [
            (
                HeadVariant::Mlp {
                    bias_before_bn: true,
                    relu: false,
                    dropout: 0.25,
                    last_bias: true,
                    dropout_position: DropoutPosition::AfterBn,
                    input_dropout: 0.0,
                    weight_decay: None,
                },
                "mlp-bias1-relu0-drop0.25-last1-n100-s3",
            ),
            (
                HeadVariant::Mlp {
                    bias_before_bn: false,
                    relu: true,
                    dropout: 0.0,
                    last_bias: false,
                    dropout_position: DropoutPosition::AfterBn,
                    input_dropout: 0.0,
                    weight_decay: None,
                },
                "mlp-bias0-relu1-drop0-last0-n100-s3",
            ),
            (
                HeadVariant::Mlp {
                    bias_before_bn: true,
                    relu: true,
                    dropout: 0.5,
                    last_bias: true,
                    dropout_position: DropoutPosition::BeforeBn,
                    input_dropout: 0.2,
                    weight_decay: None,
                },
                "mlp-bias1-relu1-drop0.5-prebn-last1-in0.2-n100-s3",
            ),
            (
                HeadVariant::Linear {
                    last_bias: true,
                    input_dropout: 0.0,
                    weight_decay: None,
                },
                "linear-last1-n100-s3",
            ),
            (
                HeadVariant::Linear {
                    last_bias: false,
                    input_dropout: 0.2,
                    weight_decay: None,
                },
                "linear-last0-in0.2-n100-s3",
            ),
            (
                HeadVariant::Linear {
                    last_bias: true,
                    input_dropout: 0.0,
                    weight_decay: Some(0.001),
                },
                "linear-last1-wd0.001-n100-s3",
            ),
        ];
        for (head, id) in cases {
            let cell = Cell {
                head,
                train_per_class: 100,
                seed: 3,
            };
            assert_eq!(cell.id(), id);
        }
    }

    /// Records written before the axis existed have no `dropout_position`; after_bn is not written.
    #[test]
    fn dropout_position_is_optional_in_records() {
        let old =
            r#"{"head":"mlp","bias_before_bn":true,"relu":true,"dropout":0.5,"last_bias":true}"#;
        let v: HeadVariant = serde_json::from_str(old).unwrap();
        assert!(matches!(
            v,
            HeadVariant::Mlp {
                dropout_position: DropoutPosition::AfterBn,
                ..
            }
        ));
        assert_eq!(serde_json::to_string(&v).unwrap(), old);
    }
}
