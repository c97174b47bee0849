//! The vocabulary of head variants: one table of the grid's switches.
//!
//! Every switch a head variant can have is one row of [`SWITCHES`]: its key (the `[grid]` axis, the
//! claim selector key and the results column), which heads have it, its type, its default, and how it
//! prints in a variant name. Names, their parser, records, selectors, the grid expansion, the results
//! columns and the report's setup all iterate this table; adding a switch is one row here plus the
//! code that gives it meaning (the head module and the trainer).

use std::fmt;

use crate::heads::HeadKind;
use crate::layer::{Layer, LayerRole};
use crate::train::TrainSetting;

/// A switch of the grid. The discriminant is the switch's row in [`SWITCHES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Switch {
    BiasBeforeBn,
    Relu,
    Dropout,
    DropoutPosition,
    LastBias,
    InputDropout,
    WeightDecay,
    Lr,
    Epochs,
    Fit,
    Backbone,
    HeldFixed,
    BackboneLr,
    BackboneBn,
}

/// The value of one switch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Flag(bool),
    Number(f64),
    /// One of the switch's [`Word`]s.
    Word(&'static str),
    /// Not set by the grid: the cell uses the `[train]` setting the switch names as its fallback.
    Unset,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Value::Flag(b) => write!(f, "{b}"),
            Value::Number(x) => write!(f, "{x}"),
            Value::Word(w) => f.write_str(w),
            Value::Unset => f.write_str("[train]"),
        }
    }
}

/// What values a switch takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Flag,
    Number(Range),
    Word(&'static [Word]),
}

/// The allowed range of a numeric switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// A dropout rate: `[0, 1)`.
    Rate,
    /// `>= 0`.
    NonNegative,
    /// `> 0` (a learning rate).
    Positive,
    /// A whole number `>= 1` (epochs).
    Count,
}

impl Range {
    pub fn contains(self, x: f64) -> bool {
        match self {
            Range::Rate => (0.0..1.0).contains(&x),
            Range::NonNegative => x.is_finite() && x >= 0.0,
            Range::Positive => x.is_finite() && x > 0.0,
            Range::Count => x.is_finite() && x >= 1.0 && x.fract() == 0.0,
        }
    }

    /// How the range reads in an error.
    pub fn describe(self) -> &'static str {
        match self {
            Range::Rate => "in [0, 1)",
            Range::NonNegative => ">= 0",
            Range::Positive => "> 0",
            Range::Count => "whole numbers >= 1",
        }
    }
}

/// One value of a word switch and its token in variant names (empty: not printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    pub value: &'static str,
    pub token: &'static str,
}

/// A value a switch does not take; the message says what it takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// One row of the vocabulary.
#[derive(Debug)]
pub struct SwitchSpec {
    pub switch: Switch,
    /// The `[grid]` key, the claim selector key and the results column.
    pub key: &'static str,
    /// A few words for tables and figures ("bias before BN").
    pub label: &'static str,
    /// The layer it acts on (`None`: it applies to every head). A head without that layer does
    /// not have the switch: it prints nothing for it, and an axis naming it for that head is
    /// refused with the head's layers listed.
    pub acts_on: Option<LayerRole>,
    /// The value a head's preset gives it, read off the first layer of [`SwitchSpec::acts_on`]
    /// (fastai's Linears have no bias); `None`: [`SwitchSpec::default`] for every head.
    pub preset: Option<fn(&Layer) -> Value>,
    pub kind: Kind,
    /// The value of a head whose axis the grid leaves out.
    pub default: Value,
    /// Flags print `<prefix>0|1`, numbers `<prefix><x>` in variant names (`bias1`, `drop0.25`).
    pub prefix: &'static str,
    /// A value left out of variant names and cell records (so names and records made before the
    /// switch existed read back unchanged); read back when its token is absent.
    pub omitted: Option<Value>,
    /// Only multiplies the variants where this other switch is on (a flag set or a number above 0);
    /// elsewhere the switch stays at its default (dropout's position means nothing without dropout).
    pub only_with: Option<Switch>,
    /// `[train]` key the cell falls back to when the grid does not set the switch ([`Value::Unset`]).
    pub fallback: Option<TrainSetting>,
    /// How the value reads in a plain label (`dropout 0.5`, `no bias`); `None` where there is
    /// nothing worth saying (the usual value, or the `[train]` fallback).
    pub plain: fn(Value) -> Option<String>,
    /// A claim selector that does not name this switch matches only its default: cells made to
    /// measure something apart (the seed's parts) never enter a comparison by accident.
    pub pinned: bool,
}

/// A number as a reader writes it: `0.5`, `0.01`, `1e-3`, `3e-4`.
pub fn plain_number(x: f64) -> String {
    if x == 0.0 || x.abs() >= 0.01 {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A Linear's bias as a flag value.
fn bias_of(layer: &Layer) -> Value {
    Value::Flag(matches!(layer, Layer::Linear { bias: true, .. }))
}

/// The table. Row order is the order of variant names, of the grid's nested expansion (earlier rows
/// vary slowest), of the results columns and of an experiment's canonical (hashed) form.
pub static SWITCHES: [SwitchSpec; 14] = [
    SwitchSpec {
        switch: Switch::BiasBeforeBn,
        key: "bias_before_bn",
        label: "bias before BN",
        acts_on: Some(LayerRole::LinearBeforeBn),
        preset: Some(bias_of),
        kind: Kind::Flag,
        default: Value::Flag(true),
        prefix: "bias",
        omitted: None,
        only_with: None,
        fallback: None,
        plain: |v| {
            Some(
                if v == Value::Flag(false) {
                    "no bias"
                } else {
                    "bias"
                }
                .into(),
            )
        },
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::Relu,
        key: "relu",
        label: "ReLU",
        acts_on: Some(LayerRole::Relu),
        preset: Some(|_| Value::Flag(true)),
        kind: Kind::Flag,
        default: Value::Flag(true),
        prefix: "relu",
        omitted: None,
        only_with: None,
        fallback: None,
        plain: |v| {
            Some(
                if v == Value::Flag(false) {
                    "no ReLU"
                } else {
                    "ReLU"
                }
                .into(),
            )
        },
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::Dropout,
        key: "dropout",
        label: "dropout",
        acts_on: Some(LayerRole::LastDropout),
        preset: Some(|l| match l {
            Layer::Dropout { p } => Value::Number(*p),
            _ => Value::Number(0.0),
        }),
        kind: Kind::Number(Range::Rate),
        default: Value::Number(0.0),
        prefix: "drop",
        omitted: None,
        only_with: None,
        fallback: None,
        plain: |v| match v {
            Value::Number(x) if x > 0.0 => Some(format!("dropout {}", plain_number(x))),
            _ => Some("no dropout".into()),
        },
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::DropoutPosition,
        key: "dropout_position",
        label: "dropout position",
        acts_on: Some(LayerRole::DropoutAfterBn),
        preset: None,
        kind: Kind::Word(&[
            Word {
                value: "after_bn",
                token: "",
            },
            Word {
                value: "before_bn",
                token: "prebn",
            },
        ]),
        default: Value::Word("after_bn"),
        prefix: "",
        omitted: Some(Value::Word("after_bn")),
        only_with: Some(Switch::Dropout),
        fallback: None,
        plain: |v| (v == Value::Word("before_bn")).then(|| "dropout before BN".into()),
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::LastBias,
        key: "last_bias",
        label: "last-layer bias",
        acts_on: Some(LayerRole::LastLinear),
        preset: Some(bias_of),
        kind: Kind::Flag,
        default: Value::Flag(true),
        prefix: "last",
        omitted: None,
        only_with: None,
        fallback: None,
        plain: |v| (v == Value::Flag(false)).then(|| "no last-layer bias".into()),
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::InputDropout,
        key: "input_dropout",
        label: "input dropout",
        acts_on: None,
        preset: None,
        kind: Kind::Number(Range::Rate),
        default: Value::Number(0.0),
        prefix: "in",
        omitted: Some(Value::Number(0.0)),
        only_with: None,
        fallback: None,
        plain: |v| match v {
            Value::Number(x) if x > 0.0 => Some(format!("input dropout {}", plain_number(x))),
            _ => None,
        },
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::WeightDecay,
        key: "weight_decay",
        label: "weight decay",
        acts_on: None,
        preset: None,
        kind: Kind::Number(Range::NonNegative),
        default: Value::Unset,
        prefix: "wd",
        omitted: Some(Value::Unset),
        only_with: None,
        fallback: Some(TrainSetting::WeightDecay),
        plain: |v| match v {
            Value::Number(x) if x > 0.0 => Some(format!("L2 {}", plain_number(x))),
            _ => None,
        },
        pinned: false,
    },
    // The training budget: a head tuned on val is tuned over these too (issue 14: model2 at the
    // asker's 20 epochs of Adam had not converged, so its L2 sweep could not matter).
    SwitchSpec {
        switch: Switch::Lr,
        key: "lr",
        label: "learning rate",
        acts_on: None,
        preset: None,
        kind: Kind::Number(Range::Positive),
        default: Value::Unset,
        prefix: "lr",
        omitted: Some(Value::Unset),
        only_with: None,
        fallback: Some(TrainSetting::Lr),
        plain: |v| match v {
            Value::Number(x) => Some(format!("lr {}", plain_number(x))),
            _ => None,
        },
        pinned: false,
    },
    SwitchSpec {
        switch: Switch::Epochs,
        key: "epochs",
        label: "epochs",
        acts_on: None,
        preset: None,
        kind: Kind::Number(Range::Count),
        default: Value::Unset,
        prefix: "ep",
        omitted: Some(Value::Unset),
        only_with: None,
        fallback: Some(TrainSetting::Epochs),
        plain: |v| match v {
            Value::Number(x) => Some(format!("{x} epochs")),
            _ => None,
        },
        pinned: false,
    },
    // How model2 is fitted: `[train]`'s optimizer for its epochs, or full-batch L-BFGS to
    // convergence (the linear probe of Kornblith, Shlens & Le 2019). `lr`, `epochs` and input dropout
    // mean nothing to the converged fit; weight decay is its L2 penalty.
    SwitchSpec {
        switch: Switch::Fit,
        key: "fit",
        label: "fit",
        acts_on: Some(LayerRole::OnlyLinear),
        preset: None,
        kind: Kind::Word(&[
            Word {
                value: "steps",
                token: "",
            },
            Word {
                value: "lbfgs",
                token: "lbfgs",
            },
        ]),
        default: Value::Word("steps"),
        prefix: "",
        omitted: Some(Value::Word("steps")),
        only_with: None,
        fallback: None,
        plain: |v| (v == Value::Word("lbfgs")).then(|| "L-BFGS to convergence".into()),
        pinned: false,
    },
    // The regime (issue 15): heads on the pretrained backbone's frozen features, or the whole
    // network trained with the head, as the asker did (`model._fc = head`, everything trained;
    // `[finetune]` says how the backbone trains).
    SwitchSpec {
        switch: Switch::Backbone,
        key: "backbone",
        label: "backbone",
        acts_on: None,
        preset: None,
        kind: Kind::Word(&[
            Word {
                value: "frozen",
                token: "",
            },
            Word {
                value: "finetune",
                token: "ft",
            },
        ]),
        default: Value::Word("frozen"),
        prefix: "",
        omitted: Some(Value::Word("frozen")),
        only_with: None,
        fallback: None,
        plain: |v| (v == Value::Word("finetune")).then(|| "fine-tuned".into()),
        pinned: false,
    },
    // What the seed varies (issue 34): every part (the default), or all but one part held at seed
    // 0's draw, so that the report can split the seed spread into the training subset's share and
    // the initialisation's and batch order's (with the dropout masks). Pinned: these cells are
    // only ever compared by the report's seed split.
    SwitchSpec {
        switch: Switch::HeldFixed,
        key: "held_fixed",
        label: "held fixed across seeds",
        acts_on: None,
        preset: None,
        kind: Kind::Word(&[
            Word {
                value: "nothing",
                token: "",
            },
            Word {
                value: "subset",
                token: "fixsubset",
            },
            Word {
                value: "init_order",
                token: "fixinit",
            },
        ]),
        default: Value::Word("nothing"),
        prefix: "",
        omitted: Some(Value::Word("nothing")),
        only_with: None,
        fallback: None,
        plain: |v| match v {
            Value::Word("subset") => Some("seed 0's training subset".into()),
            Value::Word("init_order") => Some("seed 0's init and batch order".into()),
            _ => None,
        },
        pinned: true,
    },
    // The fine-tuned backbone's learning rate (issue 35: the recipe is tuned on val, not one
    // guess), `[finetune] backbone_lr` where the grid leaves it out. Frozen cells have none.
    SwitchSpec {
        switch: Switch::BackboneLr,
        key: "backbone_lr",
        label: "backbone learning rate",
        acts_on: None,
        preset: None,
        kind: Kind::Number(Range::Positive),
        default: Value::Unset,
        prefix: "blr",
        omitted: Some(Value::Unset),
        only_with: Some(Switch::Backbone),
        fallback: Some(TrainSetting::BackboneLr),
        plain: |v| match v {
            Value::Number(x) => Some(format!("backbone lr {}", plain_number(x))),
            _ => None,
        },
        pinned: false,
    },
    // How the fine-tuned backbone's BatchNorms normalize while training (issue 35; the thread is
    // about BatchNorm): on the batch's statistics, as the asker's `model.train()` does, or on the
    // pretrained running statistics with their scale and shift still training (BatchNorm kept in
    // eval mode, a common fine-tuning recipe).
    SwitchSpec {
        switch: Switch::BackboneBn,
        key: "backbone_bn",
        label: "backbone BatchNorm",
        acts_on: None,
        preset: None,
        kind: Kind::Word(&[
            Word {
                value: "batch",
                token: "",
            },
            Word {
                value: "running",
                token: "bnrun",
            },
        ]),
        default: Value::Word("batch"),
        prefix: "",
        omitted: Some(Value::Word("batch")),
        only_with: Some(Switch::Backbone),
        fallback: None,
        plain: |v| {
            (v == Value::Word("running")).then(|| "backbone BN on running statistics".into())
        },
        // Pinned: the recipe is judged by the claims that name it; "tuned" means tuned over
        // batch-statistics cells, so sweeping it never silently changes what a tuned head is.
        pinned: true,
    },
];

impl Switch {
    /// Every switch, in table order.
    pub fn all() -> impl Iterator<Item = Switch> {
        SWITCHES.iter().map(|s| s.switch)
    }

    pub const COUNT: usize = SWITCHES.len();

    pub fn spec(self) -> &'static SwitchSpec {
        &SWITCHES[self as usize]
    }

    pub fn key(self) -> &'static str {
        self.spec().key
    }

    pub fn from_key(key: &str) -> Option<Switch> {
        SWITCHES.iter().find(|s| s.key == key).map(|s| s.switch)
    }

    /// The switches `head` has, in table order.
    pub fn of(head: HeadKind) -> impl Iterator<Item = Switch> {
        SWITCHES
            .iter()
            .filter(move |s| s.has(head))
            .map(|s| s.switch)
    }
}

impl SwitchSpec {
    /// Whether `head` has the layer the switch acts on (every head has a switch that acts on none).
    pub fn has(&self, head: HeadKind) -> bool {
        self.acts_on
            .is_none_or(|role| !role.find(head.layers()).is_empty())
    }

    /// The value of `head` where the grid leaves the axis out: what its preset says, else
    /// [`SwitchSpec::default`].
    pub fn default_for(&self, head: HeadKind) -> Value {
        let layers = head.layers();
        match (self.acts_on, self.preset) {
            (Some(role), Some(preset)) => role
                .find(layers)
                .first()
                .map_or(self.default, |&i| preset(&layers[i])),
            _ => self.default,
        }
    }

    /// Why `head` does not have the switch: what it acts on and the head's layers.
    pub fn absent_from(&self, head: HeadKind) -> String {
        let acts = self.acts_on.map_or("", LayerRole::describe);
        format!(
            "`{}` acts on {acts}, and the {head} head has none: {}",
            self.key,
            crate::layer::layers_line(head.layers())
        )
    }

    /// The word of a word switch whose value is `text`.
    pub fn word(&self, text: &str) -> Option<&'static Word> {
        match self.kind {
            Kind::Word(words) => words.iter().find(|w| w.value == text),
            _ => None,
        }
    }

    /// Whether `value` is of this switch's kind and in its range (`Unset` only where there is a
    /// fallback). The error says what is expected.
    pub fn check(&self, value: Value) -> Result<(), ValueError> {
        match (self.kind, value) {
            (Kind::Flag, Value::Flag(_)) => Ok(()),
            (Kind::Number(range), Value::Number(x)) if range.contains(x) => Ok(()),
            (Kind::Number(range), Value::Number(x)) => Err(ValueError(format!(
                "values must be {}, got {x}",
                range.describe()
            ))),
            (Kind::Word(_), Value::Word(w)) if self.word(w).is_some() => Ok(()),
            (_, Value::Unset) if self.fallback.is_some() => Ok(()),
            _ => Err(ValueError(format!(
                "takes {}, got {value}",
                self.expecting()
            ))),
        }
    }

    /// What the switch takes, in words.
    pub fn expecting(&self) -> String {
        match self.kind {
            Kind::Flag => "true or false".into(),
            Kind::Number(range) => format!("numbers {}", range.describe()),
            Kind::Word(words) => words
                .iter()
                .map(|w| format!("`{}`", w.value))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }

    /// The value's token in a variant name (`None`: not printed).
    pub fn token(&self, value: Value) -> Option<String> {
        if self.omitted == Some(value) {
            return None;
        }
        match value {
            Value::Flag(b) => Some(format!("{}{}", self.prefix, u8::from(b))),
            Value::Number(x) => Some(format!("{}{x}", self.prefix)),
            Value::Word(w) => self
                .word(w)
                .map(|w| w.token.to_string())
                .filter(|t| !t.is_empty()),
            Value::Unset => None,
        }
    }

    /// The value a name token stands for, if it is one of this switch's tokens.
    pub fn parse_token(&self, token: &str) -> Option<Value> {
        match self.kind {
            Kind::Flag => match token.strip_prefix(self.prefix)? {
                "1" => Some(Value::Flag(true)),
                "0" => Some(Value::Flag(false)),
                _ => None,
            },
            Kind::Number(range) => {
                let x: f64 = token.strip_prefix(self.prefix)?.parse().ok()?;
                range.contains(x).then_some(Value::Number(x))
            }
            Kind::Word(words) => words
                .iter()
                .find(|w| !w.token.is_empty() && w.token == token)
                .map(|w| Value::Word(w.value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_switch_order_with_unique_keys_and_prefixes() {
        for (i, spec) in SWITCHES.iter().enumerate() {
            assert_eq!(spec.switch as usize, i, "{} is out of place", spec.key);
            assert_eq!(Switch::from_key(spec.key), Some(spec.switch));
            assert!(
                spec.check(spec.default).is_ok(),
                "{}: bad default",
                spec.key
            );
            if let Some(v) = spec.omitted {
                assert!(spec.check(v).is_ok(), "{}: bad omitted value", spec.key);
            }
            assert_eq!(spec.fallback.is_some(), spec.default == Value::Unset);
        }
        // No token of one switch parses as another's: names can be read back unambiguously.
        for a in &SWITCHES {
            for b in SWITCHES.iter().filter(|b| b.switch != a.switch) {
                let samples = [
                    Value::Flag(true),
                    Value::Number(0.5),
                    Value::Word("before_bn"),
                ];
                for v in samples.into_iter().filter(|v| a.check(*v).is_ok()) {
                    if let Some(token) = a.token(v) {
                        assert_eq!(b.parse_token(&token), None, "{token} ({})", b.key);
                    }
                }
            }
        }
    }

    /// Each value and its token, both ways.
    #[test]
    fn tokens_round_trip() {
        let cases: &[(Switch, Value, Option<&str>)] = &[
            (Switch::BiasBeforeBn, Value::Flag(true), Some("bias1")),
            (Switch::Relu, Value::Flag(false), Some("relu0")),
            (Switch::Dropout, Value::Number(0.25), Some("drop0.25")),
            (Switch::Dropout, Value::Number(0.0), Some("drop0")),
            (
                Switch::DropoutPosition,
                Value::Word("before_bn"),
                Some("prebn"),
            ),
            (Switch::DropoutPosition, Value::Word("after_bn"), None),
            (Switch::LastBias, Value::Flag(false), Some("last0")),
            (Switch::InputDropout, Value::Number(0.2), Some("in0.2")),
            (Switch::InputDropout, Value::Number(0.0), None),
            (Switch::WeightDecay, Value::Number(1e-5), Some("wd0.00001")),
            (Switch::WeightDecay, Value::Unset, None),
            (Switch::Lr, Value::Number(0.003), Some("lr0.003")),
            (Switch::Lr, Value::Unset, None),
            (Switch::Epochs, Value::Number(40.0), Some("ep40")),
            (Switch::Fit, Value::Word("lbfgs"), Some("lbfgs")),
            (Switch::Fit, Value::Word("steps"), None),
            (Switch::HeldFixed, Value::Word("subset"), Some("fixsubset")),
            (
                Switch::HeldFixed,
                Value::Word("init_order"),
                Some("fixinit"),
            ),
            (Switch::HeldFixed, Value::Word("nothing"), None),
            (Switch::BackboneLr, Value::Number(3e-4), Some("blr0.0003")),
            (Switch::BackboneLr, Value::Unset, None),
            (Switch::BackboneBn, Value::Word("running"), Some("bnrun")),
            (Switch::BackboneBn, Value::Word("batch"), None),
        ];
        for &(switch, value, token) in cases {
            let spec = switch.spec();
            assert_eq!(spec.token(value).as_deref(), token, "{}", spec.key);
            if let Some(token) = token {
                assert_eq!(spec.parse_token(token), Some(value), "{token}");
            }
        }
        assert_eq!(Switch::Dropout.spec().parse_token("drop1.5"), None);
        assert!(Switch::Dropout.spec().check(Value::Number(1.0)).is_err());
        assert!(Switch::Relu.spec().check(Value::Number(1.0)).is_err());
        assert!(Switch::WeightDecay.spec().check(Value::Unset).is_ok());
        assert!(Switch::Dropout.spec().check(Value::Unset).is_err());
        assert!(Switch::Lr.spec().check(Value::Number(0.0)).is_err());
        assert!(Switch::Epochs.spec().check(Value::Number(2.5)).is_err());
        assert!(Switch::Epochs.spec().check(Value::Number(0.0)).is_err());
    }
}
