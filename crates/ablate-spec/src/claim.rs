//! Claims: the forum's sentences, each tied to a contrast between two sets of head variants that the
//! report measures and judges. Claims only read results, so they are not part of the config hash.

use serde::{Deserialize, Serialize};

use crate::cell::{DropoutPosition, HeadVariant};
use crate::experiment::HeadKind;

/// One claim of the thread, as declared in `[[claims]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Short label used in tables and file names (`A`, `B`, ...).
    pub id: String,
    /// The sentence being checked, in the thread's words.
    pub says: String,
    /// What is compared; `a - b` per paired seed.
    #[serde(default)]
    pub metric: Metric,
    /// The variants on the left of the difference.
    pub a: Selector,
    /// The variants on the right of the difference.
    pub b: Selector,
    /// The direction the claim predicts for `a - b`, or `identical` for an exactness check.
    pub expect: Expect,
    /// Which variants are compared: every matching pair (averaged per seed), `a` against the
    /// strongest `b`, or the tuned `a` against the tuned `b` (see [`Compare`]).
    #[serde(default)]
    pub compare: Compare,
    /// Only judge at these training sizes (default: every size of the grid).
    #[serde(default)]
    pub train_per_class: Option<Vec<usize>>,
    /// Margin of practical equivalence, in the metric's units (0.01 = one accuracy point): a claim
    /// whose whole 95% interval lies inside (-rope, rope) is judged `equivalent`.
    #[serde(default = "default_rope")]
    pub rope: f64,
    /// `identical` only: largest per-epoch |train-loss difference| still counted as identical.
    #[serde(default = "default_loss_tolerance")]
    pub loss_tolerance: f64,
    /// `identical` only: largest gradient (absolute value) of the `a` side's pre-BN bias still counted as zero.
    #[serde(default = "default_grad_tolerance")]
    pub grad_tolerance: f64,
}

fn default_rope() -> f64 {
    0.01
}
fn default_loss_tolerance() -> f64 {
    1e-5
}
fn default_grad_tolerance() -> f64 {
    1e-6
}

/// A column of the runs table (or one derived from it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    #[default]
    ValAcc,
    TrainAcc,
    /// On the test split: never used to choose anything.
    TestAcc,
    ValLoss,
    TrainLoss,
    TestLoss,
    /// `train_acc - val_acc`.
    Gap,
    /// Trainable parameters, counted as PyTorch does.
    Params,
    /// mlp heads: BN's running variance over the variance of its eval-mode input (variance shift).
    BnVarRatio,
}

impl Metric {
    pub fn column(&self) -> &'static str {
        match self {
            Metric::ValAcc => "val_acc",
            Metric::TrainAcc => "train_acc",
            Metric::TestAcc => "test_acc",
            Metric::ValLoss => "val_loss",
            Metric::TrainLoss => "train_loss",
            Metric::TestLoss => "test_loss",
            Metric::Gap => "gap",
            Metric::Params => "params",
            Metric::BnVarRatio => "bn_var_ratio",
        }
    }

    /// Accuracy-like metrics are shown in percentage points.
    pub fn is_accuracy(&self) -> bool {
        matches!(
            self,
            Metric::ValAcc | Metric::TrainAcc | Metric::TestAcc | Metric::Gap
        )
    }

    /// Losses: lower is better.
    pub fn is_loss(&self) -> bool {
        matches!(self, Metric::ValLoss | Metric::TrainLoss | Metric::TestLoss)
    }

    /// The metric on the validation split instead of test, for results without a test split.
    pub fn on_val(self) -> Self {
        match self {
            Metric::TestAcc => Metric::ValAcc,
            Metric::TestLoss => Metric::ValLoss,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `a - b > 0`.
    Higher,
    /// `a - b < 0`.
    Lower,
    /// Training of `a` and `b` is the same to within the tolerances (losses, zero bias gradient).
    Identical,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Every `a` variant against every `b` variant that differs only in what the selectors name.
    #[default]
    All,
    /// The paired `b` variants reduced, per training size, to the one of best mean validation
    /// accuracy (the strongest opponent).
    Best,
    /// Selection protocol: per training size, each side reduced to its variant of best mean
    /// validation accuracy (its tuned hyperparameters), then the two compared on `metric`, which
    /// should be a test metric: val chose, so val would flatter both.
    Tuned,
}

/// A set of head variants: every field that is given must match; fields left out match anything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias_before_bn: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relu: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_bias: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout_position: Option<DropoutPosition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_dropout: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
}

/// The value of one switch of a head variant; `None` when the head does not have that switch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Switch {
    Head(HeadKind),
    Bool(bool),
    Rate(f64),
    Position(DropoutPosition),
}

const FIELDS: [&str; 8] = [
    "head",
    "bias_before_bn",
    "relu",
    "dropout",
    "last_bias",
    "dropout_position",
    "input_dropout",
    "weight_decay",
];

fn switches(v: &HeadVariant) -> [Option<Switch>; 8] {
    match *v {
        HeadVariant::Mlp {
            bias_before_bn,
            relu,
            dropout,
            last_bias,
            dropout_position,
            input_dropout,
            weight_decay,
        } => [
            Some(Switch::Head(HeadKind::Mlp)),
            Some(Switch::Bool(bias_before_bn)),
            Some(Switch::Bool(relu)),
            Some(Switch::Rate(dropout)),
            Some(Switch::Bool(last_bias)),
            Some(Switch::Position(dropout_position)),
            Some(Switch::Rate(input_dropout)),
            weight_decay.map(Switch::Rate),
        ],
        HeadVariant::Linear {
            last_bias,
            input_dropout,
            weight_decay,
        } => [
            Some(Switch::Head(HeadKind::Linear)),
            None,
            None,
            None,
            Some(Switch::Bool(last_bias)),
            None,
            Some(Switch::Rate(input_dropout)),
            weight_decay.map(Switch::Rate),
        ],
    }
}

impl Selector {
    /// The selector that matches `variant` and no other variant of a grid: every switch it has, set.
    pub fn exactly(variant: &HeadVariant) -> Self {
        match *variant {
            HeadVariant::Mlp {
                bias_before_bn,
                relu,
                dropout,
                last_bias,
                dropout_position,
                input_dropout,
                weight_decay,
            } => Selector {
                head: Some(HeadKind::Mlp),
                bias_before_bn: Some(bias_before_bn),
                relu: Some(relu),
                dropout: Some(dropout),
                last_bias: Some(last_bias),
                dropout_position: Some(dropout_position),
                input_dropout: Some(input_dropout),
                weight_decay,
            },
            HeadVariant::Linear {
                last_bias,
                input_dropout,
                weight_decay,
            } => Selector {
                head: Some(HeadKind::Linear),
                last_bias: Some(last_bias),
                input_dropout: Some(input_dropout),
                weight_decay,
                ..Default::default()
            },
        }
    }

    fn wanted(&self) -> [Option<Switch>; 8] {
        [
            self.head.map(Switch::Head),
            self.bias_before_bn.map(Switch::Bool),
            self.relu.map(Switch::Bool),
            self.dropout.map(Switch::Rate),
            self.last_bias.map(Switch::Bool),
            self.dropout_position.map(Switch::Position),
            self.input_dropout.map(Switch::Rate),
            self.weight_decay.map(Switch::Rate),
        ]
    }

    pub fn matches(&self, variant: &HeadVariant) -> bool {
        self.wanted()
            .iter()
            .zip(switches(variant))
            .all(|(want, have)| want.is_none() || *want == have)
    }

    /// A readable form such as `bias_before_bn=true, relu=false`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = FIELDS
            .iter()
            .zip(self.wanted())
            .filter_map(|(name, want)| {
                want.map(|w| match w {
                    Switch::Head(HeadKind::Mlp) => format!("{name}=mlp"),
                    Switch::Head(HeadKind::Linear) => format!("{name}=linear"),
                    Switch::Bool(b) => format!("{name}={b}"),
                    Switch::Rate(p) => format!("{name}={p}"),
                    Switch::Position(DropoutPosition::AfterBn) => format!("{name}=after_bn"),
                    Switch::Position(DropoutPosition::BeforeBn) => format!("{name}=before_bn"),
                })
            })
            .collect();
        if parts.is_empty() {
            "any".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Claim {
    /// A contrast `a - b` on `metric` with every optional setting at its file default (compare all,
    /// every size, margin 0.01, the exactness tolerances), as the report builds its own contrasts.
    pub fn contrast(
        id: impl Into<String>,
        says: impl Into<String>,
        metric: Metric,
        a: Selector,
        b: Selector,
        expect: Expect,
    ) -> Self {
        Self {
            id: id.into(),
            says: says.into(),
            metric,
            a,
            b,
            expect,
            compare: Compare::default(),
            train_per_class: None,
            rope: default_rope(),
            loss_tolerance: default_loss_tolerance(),
            grad_tolerance: default_grad_tolerance(),
        }
    }

    /// The `(a, b)` variant pairs this claim compares, from the grid's variants: `a` and `b` must
    /// agree on every switch that both have and that neither selector sets, so a pair differs only in
    /// what the claim is about (bias on vs off at the same ReLU, dropout and last-layer bias).
    /// `compare = "tuned"` pairs every `a` with every `b`: each side is tuned on its own.
    pub fn pairs(&self, variants: &[HeadVariant]) -> Vec<(HeadVariant, HeadVariant)> {
        if self.compare == Compare::Tuned {
            let mut pairs = Vec::new();
            for a in variants.iter().filter(|v| self.a.matches(v)) {
                for b in variants.iter().filter(|v| self.b.matches(v) && *v != a) {
                    pairs.push((*a, *b));
                }
            }
            return pairs;
        }
        let (wa, wb) = (self.a.wanted(), self.b.wanted());
        let mut pairs = Vec::new();
        for a in variants.iter().filter(|v| self.a.matches(v)) {
            for b in variants.iter().filter(|v| self.b.matches(v)) {
                let agree = (0..FIELDS.len()).all(|i| {
                    let (sa, sb) = (switches(a)[i], switches(b)[i]);
                    wa[i].is_some() || wb[i].is_some() || sa.is_none() || sb.is_none() || sa == sb
                });
                if agree && a != b {
                    pairs.push((*a, *b));
                }
            }
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp(bias_before_bn: bool, relu: bool, dropout: f64) -> HeadVariant {
        HeadVariant::Mlp {
            bias_before_bn,
            relu,
            dropout,
            last_bias: true,
            dropout_position: DropoutPosition::AfterBn,
            input_dropout: 0.0,
            weight_decay: None,
        }
    }

    fn claim(a: Selector, b: Selector) -> Claim {
        Claim::contrast("X", "", Metric::ValAcc, a, b, Expect::Higher)
    }

    fn grid() -> Vec<HeadVariant> {
        let mut v = Vec::new();
        for bias in [true, false] {
            for relu in [true, false] {
                for p in [0.0, 0.5] {
                    v.push(mlp(bias, relu, p));
                }
            }
        }
        v.push(HeadVariant::Linear {
            last_bias: true,
            input_dropout: 0.0,
            weight_decay: None,
        });
        v
    }

    #[test]
    fn pairs_differ_only_in_what_the_claim_names() {
        let bias_with_relu = claim(
            Selector {
                bias_before_bn: Some(true),
                relu: Some(true),
                ..Default::default()
            },
            Selector {
                bias_before_bn: Some(false),
                relu: Some(true),
                ..Default::default()
            },
        );
        assert_eq!(
            bias_with_relu.pairs(&grid()),
            vec![
                (mlp(true, true, 0.0), mlp(false, true, 0.0)),
                (mlp(true, true, 0.5), mlp(false, true, 0.5)),
            ]
        );

        // The linear head has no mlp switches, so it pairs with every mlp variant.
        let linear_vs_mlp = claim(
            Selector {
                head: Some(HeadKind::Linear),
                ..Default::default()
            },
            Selector {
                head: Some(HeadKind::Mlp),
                ..Default::default()
            },
        );
        assert_eq!(linear_vs_mlp.pairs(&grid()).len(), 8);

        let dropout = claim(
            Selector {
                dropout: Some(0.5),
                ..Default::default()
            },
            Selector {
                dropout: Some(0.0),
                ..Default::default()
            },
        );
        let pairs = dropout.pairs(&grid());
        assert_eq!(pairs.len(), 4);
        assert!(pairs.contains(&(mlp(false, true, 0.5), mlp(false, true, 0.0))));
    }

    #[test]
    fn an_exact_selector_matches_its_variant_only() {
        let variants = grid();
        for v in &variants {
            let s = Selector::exactly(v);
            let matched: Vec<&HeadVariant> = variants.iter().filter(|w| s.matches(w)).collect();
            assert_eq!(matched, vec![v]);
        }
    }

    #[test]
    fn selectors_match_and_describe() {
        let s = Selector {
            relu: Some(false),
            dropout: Some(0.25),
            ..Default::default()
        };
        assert!(s.matches(&mlp(true, false, 0.25)));
        assert!(!s.matches(&mlp(true, true, 0.25)));
        assert!(!s.matches(&HeadVariant::Linear {
            last_bias: true,
            input_dropout: 0.0,
            weight_decay: None,
        }));
        assert_eq!(s.describe(), "relu=false, dropout=0.25");
        assert_eq!(Selector::default().describe(), "any");
    }
}
