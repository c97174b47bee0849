//! Claims: the forum's sentences, each tied to a contrast between two sets of head variants that the
//! report measures and judges. Claims only read results, so they are not part of the config hash.

use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::SpecError;
use crate::heads::HeadKind;
use crate::switch::{Switch, Value};
use crate::value_serde::ValueSeed;
use crate::variant::HeadVariant;

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
    /// `identical` only: compare the training losses over the first this many epochs (default: all;
    /// 0: the losses are shown but not judged). Where the twins' float rounding differs and training
    /// amplifies it (a fine-tuned backbone), losses part after a few steps although both sides
    /// compute one function; the bias gradient, checked over every epoch, is then the claim's
    /// measurable form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_epochs: Option<usize>,
    /// How to read this claim's evidence (Markdown), shown under its heading in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
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
    /// mlp heads: test accuracy with BN's statistics recomputed on the training rows without any
    /// dropout, minus the test accuracy as trained: what the variance shift costs (positive when
    /// the recomputed statistics do better).
    BnRefitGain,
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
            Metric::BnRefitGain => "bn_refit_gain",
        }
    }

    /// Accuracy-like metrics are shown in percentage points.
    pub fn is_accuracy(&self) -> bool {
        matches!(
            self,
            Metric::ValAcc | Metric::TrainAcc | Metric::TestAcc | Metric::Gap | Metric::BnRefitGain
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

/// A set of head variants: the head and every switch that is given must match; what is left out
/// matches anything. Keys are the vocabulary's (`head`, `bias_before_bn`, `relu`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    pub head: Option<HeadKind>,
    values: [Option<Value>; Switch::COUNT],
}

impl Selector {
    /// Every variant of `head`.
    pub fn head(head: HeadKind) -> Self {
        Self {
            head: Some(head),
            ..Default::default()
        }
    }

    /// The same selector that also requires `switch` to be `value`.
    pub fn with(mut self, switch: Switch, value: Value) -> Self {
        self.values[switch as usize] = Some(value);
        self
    }

    pub fn flag(self, switch: Switch, on: bool) -> Self {
        self.with(switch, Value::Flag(on))
    }

    pub fn number(self, switch: Switch, x: f64) -> Self {
        self.with(switch, Value::Number(x))
    }

    /// The value it requires of `switch`, if any.
    pub fn get(&self, switch: Switch) -> Option<Value> {
        self.values[switch as usize]
    }

    /// The selector that matches `variant` and no other variant of a grid: the head and every
    /// switch the grid sets for it (a switch left to `[train]` is so for the whole head).
    pub fn exactly(variant: &HeadVariant) -> Self {
        variant
            .switches()
            .filter(|(_, value)| *value != Value::Unset)
            .fold(Self::head(variant.kind()), |s, (spec, value)| {
                s.with(spec.switch, value)
            })
    }

    pub fn matches(&self, variant: &HeadVariant) -> bool {
        self.head.is_none_or(|h| h == variant.kind())
            && Switch::all().all(|s| match self.get(s) {
                Some(want) => variant.get(s) == Some(want),
                None => !s.spec().pinned || variant.get(s) == Some(s.spec().default),
            })
    }

    /// Whether it names `switch`.
    fn names(&self, switch: Switch) -> bool {
        self.get(switch).is_some()
    }

    /// A readable form such as `head=mlp, bias_before_bn=true, relu=false`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .head
            .map(|h| format!("head={h}"))
            .into_iter()
            .chain(Switch::all().filter_map(|s| self.get(s).map(|v| format!("{}={v}", s.key()))))
            .collect();
        if parts.is_empty() {
            "any".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let set: Vec<(Switch, Value)> = Switch::all()
            .filter_map(|s| self.get(s).map(|v| (s, v)))
            .collect();
        let mut map = serializer.serialize_map(None)?;
        if let Some(head) = self.head {
            map.serialize_entry("head", &head)?;
        }
        for (switch, value) in set {
            map.serialize_entry(switch.key(), &value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SelectorVisitor;
        impl<'de> Visitor<'de> for SelectorVisitor {
            type Value = Selector;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of switches, e.g. `{ head = \"mlp\", relu = true }`")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Selector, A::Error> {
                let mut selector = Selector::default();
                while let Some(key) = map.next_key_seed(SelectorKeySeed)? {
                    match key {
                        None => selector.head = Some(map.next_value()?),
                        Some(switch) => {
                            let value = map.next_value_seed(ValueSeed(switch))?;
                            selector = selector.with(switch, value);
                        }
                    }
                }
                Ok(selector)
            }
        }
        deserializer.deserialize_map(SelectorVisitor)
    }
}

static SELECTOR_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    std::iter::once("head")
        .chain(Switch::all().map(Switch::key))
        .collect()
});

/// A selector key: `None` for `head`, else the switch; unknown keys fail at the key.
struct SelectorKeySeed;

impl<'de> DeserializeSeed<'de> for SelectorKeySeed {
    type Value = Option<Switch>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for SelectorKeySeed {
    type Value = Option<Switch>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`head` or a switch")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        if key == "head" {
            return Ok(None);
        }
        Switch::from_key(key)
            .map(Some)
            .ok_or_else(|| de::Error::unknown_field(key, SELECTOR_KEYS.as_slice()))
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
            loss_epochs: None,
            notes: None,
        }
    }

    /// The `(a, b)` variant pairs this claim compares ([`variant_pairs`]).
    pub fn pairs(&self, variants: &[HeadVariant]) -> Vec<(HeadVariant, HeadVariant)> {
        variant_pairs(&self.a, &self.b, self.compare, variants)
    }
}

/// The `(a, b)` variant pairs a contrast of `a` against `b` compares, from the grid's variants: `a`
/// and `b` must agree on every switch that both have and that neither selector sets, so a pair
/// differs only in what the contrast is about (bias on vs off at the same ReLU, dropout and
/// last-layer bias). `compare = "tuned"` pairs every `a` with every `b`: each side is tuned on its
/// own.
pub fn variant_pairs(
    a: &Selector,
    b: &Selector,
    compare: Compare,
    variants: &[HeadVariant],
) -> Vec<(HeadVariant, HeadVariant)> {
    let (sel_a, sel_b) = (a, b);
    if compare == Compare::Tuned {
        let mut pairs = Vec::new();
        for a in variants.iter().filter(|v| sel_a.matches(v)) {
            for b in variants.iter().filter(|v| sel_b.matches(v) && *v != a) {
                pairs.push((*a, *b));
            }
        }
        return pairs;
    }
    let mut pairs = Vec::new();
    for a in variants.iter().filter(|v| sel_a.matches(v)) {
        for b in variants.iter().filter(|v| sel_b.matches(v)) {
            let same_head = sel_a.head.is_some() || sel_b.head.is_some() || a.kind() == b.kind();
            // A switch left to `[train]` (unset) is a value of its own within one head (an unset
            // `lr` is not `lr = 0.003` of another block); across heads it only says the other
            // head's grid did not sweep it.
            let cross_head = a.kind() != b.kind();
            let agree = Switch::all().all(|s| {
                let (va, vb) = (a.get(s), b.get(s));
                let unset = |v: Option<Value>| v == Some(Value::Unset);
                sel_a.names(s)
                    || sel_b.names(s)
                    || va.is_none()
                    || vb.is_none()
                    || va == vb
                    || (cross_head && (unset(va) || unset(vb)))
            });
            if same_head && agree && a != b {
                pairs.push((*a, *b));
            }
        }
    }
    pairs
}

/// Claims as an experiment file or a results manifest declares them: ids that name files, each
/// side matching variants of the grid, pairs to compare, sizes of the grid, rules in range.
pub(crate) fn validate_claims(
    claims: &[Claim],
    variants: &[HeadVariant],
    grid_sizes: &[usize],
    source: &Path,
) -> Result<(), SpecError> {
    for (i, claim) in claims.iter().enumerate() {
        let bad = |problem: String| SpecError::Claim {
            path: source.to_owned(),
            id: if claim.id.is_empty() {
                format!("#{}", i + 1)
            } else {
                claim.id.clone()
            },
            problem,
        };
        if claim.id.is_empty()
            || !claim
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(bad(
                "`id` must be letters, digits, '-' or '_' (it names files)".into(),
            ));
        }
        if claims[..i].iter().any(|c| c.id == claim.id) {
            return Err(bad("`id` is used by an earlier claim".into()));
        }
        for (side, selector) in [("a", &claim.a), ("b", &claim.b)] {
            if !variants.iter().any(|v| selector.matches(v)) {
                return Err(bad(format!(
                    "`{side}` ({}) matches no head variant of the grid",
                    selector.describe()
                )));
            }
        }
        if let Some(v) = variants
            .iter()
            .find(|v| claim.a.matches(v) && claim.b.matches(v))
        {
            return Err(bad(format!(
                "`a` and `b` both match {}; a contrast needs two disjoint sets",
                v.name()
            )));
        }
        if claim.pairs(variants).is_empty() {
            return Err(bad(
                "no `a` variant has a `b` variant that differs only in the switches the claim names"
                    .into(),
            ));
        }
        if let Some(sizes) = &claim.train_per_class {
            if sizes.is_empty() {
                return Err(bad("`train_per_class` must list at least one size".into()));
            }
            if let Some(n) = sizes.iter().find(|n| !grid_sizes.contains(n)) {
                return Err(bad(format!(
                    "`train_per_class` lists {n}, which is not in `grid.train_per_class`"
                )));
            }
        }
        if !(claim.rope.is_finite() && claim.rope > 0.0) {
            return Err(bad(format!("`rope` must be > 0, got {}", claim.rope)));
        }
        if claim.expect == Expect::Identical && claim.compare != Compare::All {
            return Err(bad(
                "`identical` compares every pair; `compare` must be left at \"all\"".into(),
            ));
        }
        if claim.expect == Expect::Identical
            && !(claim.loss_tolerance > 0.0 && claim.grad_tolerance > 0.0)
        {
            return Err(bad(
                "`loss_tolerance` and `grad_tolerance` must be > 0".into()
            ));
        }
        if claim.loss_epochs.is_some() && claim.expect != Expect::Identical {
            return Err(bad(
                "`loss_epochs` only applies to `expect = \"identical\"`".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp(bias_before_bn: bool, relu: bool, dropout: f64) -> HeadVariant {
        HeadVariant::mlp()
            .flag(Switch::BiasBeforeBn, bias_before_bn)
            .flag(Switch::Relu, relu)
            .number(Switch::Dropout, dropout)
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
        v.push(HeadVariant::linear());
        v
    }

    /// A switch left to `[train]` is its own value within a head (the asker's budget does not pair
    /// with another block's learning rate); across heads it pairs with anything.
    #[test]
    fn unset_budget_pairs_only_with_unset_within_a_head() {
        let base = mlp(true, false, 0.0);
        let variants = vec![
            base,
            mlp(false, false, 0.0),
            base.number(Switch::Lr, 0.003),
            mlp(false, false, 0.0).number(Switch::Lr, 0.003),
            HeadVariant::linear().number(Switch::WeightDecay, 0.0),
        ];
        let bias = claim(
            Selector::default().flag(Switch::BiasBeforeBn, true),
            Selector::default().flag(Switch::BiasBeforeBn, false),
        );
        assert_eq!(
            bias.pairs(&variants),
            vec![(variants[0], variants[1]), (variants[2], variants[3])]
        );
        let heads = claim(
            Selector::head(HeadKind::LINEAR),
            Selector::head(HeadKind::MLP).flag(Switch::BiasBeforeBn, true),
        );
        // The linear variant sets weight decay, the mlp ones leave it to [train]: they pair.
        assert_eq!(heads.pairs(&variants).len(), 2);
    }

    #[test]
    fn pairs_differ_only_in_what_the_claim_names() {
        let bias_with_relu = claim(
            Selector::default()
                .flag(Switch::BiasBeforeBn, true)
                .flag(Switch::Relu, true),
            Selector::default()
                .flag(Switch::BiasBeforeBn, false)
                .flag(Switch::Relu, true),
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
            Selector::head(HeadKind::LINEAR),
            Selector::head(HeadKind::MLP),
        );
        assert_eq!(linear_vs_mlp.pairs(&grid()).len(), 8);

        // A weight decay the grid sets for one head only (unset for the other) does not split pairs.
        let mut with_decay = grid();
        with_decay.pop();
        with_decay.push(HeadVariant::linear().number(Switch::WeightDecay, 0.0));
        assert_eq!(linear_vs_mlp.pairs(&with_decay).len(), 8);

        // A switch both heads have pairs within a head: last-layer bias on vs off never pairs an mlp
        // with a linear head.
        let mut lasts = grid();
        lasts.push(HeadVariant::linear().flag(Switch::LastBias, false));
        lasts.push(mlp(true, true, 0.0).flag(Switch::LastBias, false));
        let last_bias = claim(
            Selector::default().flag(Switch::LastBias, true),
            Selector::default().flag(Switch::LastBias, false),
        );
        assert_eq!(
            last_bias.pairs(&lasts),
            vec![
                (mlp(true, true, 0.0), lasts[10]),
                (HeadVariant::linear(), lasts[9]),
            ]
        );

        let dropout = claim(
            Selector::default().number(Switch::Dropout, 0.5),
            Selector::default().number(Switch::Dropout, 0.0),
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
            assert_eq!(matched, vec![v], "{}", s.describe());
        }
    }

    /// A pinned switch (`held_fixed`) is matched only at its default unless a selector names it:
    /// the seed split's cells never join a claim or a tuning by accident.
    #[test]
    fn a_selector_that_does_not_name_a_pinned_switch_matches_its_default_only() {
        let held = HeadVariant::linear().with(Switch::HeldFixed, Value::Word("subset"));
        assert!(Selector::head(HeadKind::LINEAR).matches(&HeadVariant::linear()));
        assert!(!Selector::head(HeadKind::LINEAR).matches(&held));
        assert!(
            Selector::head(HeadKind::LINEAR)
                .with(Switch::HeldFixed, Value::Word("subset"))
                .matches(&held)
        );
        assert!(Selector::exactly(&held).matches(&held));
    }

    #[test]
    fn selectors_match_describe_and_read() {
        let s = Selector::default()
            .flag(Switch::Relu, false)
            .number(Switch::Dropout, 0.25);
        assert!(s.matches(&mlp(true, false, 0.25)));
        assert!(!s.matches(&mlp(true, true, 0.25)));
        assert!(!s.matches(&HeadVariant::linear()));
        assert_eq!(s.describe(), "relu=false, dropout=0.25");
        assert_eq!(Selector::default().describe(), "any");
        let read: Selector = serde_json::from_str(r#"{"dropout": 0.25, "relu": false}"#).unwrap();
        assert_eq!(read, s);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"relu":false,"dropout":0.25}"#
        );
        for (bad, needle) in [
            (r#"{"colour": 1}"#, "unknown field `colour`"),
            (r#"{"relu": 1}"#, "relu"),
            (r#"{"dropout_position": "middle"}"#, "`middle`"),
        ] {
            let err = serde_json::from_str::<Selector>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
