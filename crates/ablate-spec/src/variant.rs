//! A head variant: a head kind with every switch of [`SWITCHES`](crate::SWITCHES) set, its name
//! (`mlp-bias1-relu0-drop0.25-last1`), the parser of that name, and its record form.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::heads::HeadKind;
use crate::layer::{Layer, layer_names};
use crate::switch::{Switch, SwitchSpec, Value};
use crate::value_serde::ValueSeed;

/// Where the mlp head's dropout sits relative to its BatchNorm (the `dropout_position` switch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DropoutPosition {
    /// `BN -> Dropout -> Linear`: the thread's order; BN never sees dropped units.
    #[default]
    AfterBn,
    /// `[ReLU] -> Dropout -> BN`: BN's running variance learns the dropped-out variance, which eval
    /// does not have (Li et al., CVPR 2019, "variance shift").
    BeforeBn,
}

/// A head with every switch of the grid set. Switches the head does not have hold their default
/// and read as absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadVariant {
    head: HeadKind,
    values: [Value; Switch::COUNT],
}

impl HeadVariant {
    /// `head` with every switch at its default.
    pub fn new(head: HeadKind) -> Self {
        let mut values = [Value::Unset; Switch::COUNT];
        for s in Switch::all() {
            values[s as usize] = s.spec().default_for(head);
        }
        Self { head, values }
    }

    pub fn mlp() -> Self {
        Self::new(HeadKind::MLP)
    }

    pub fn linear() -> Self {
        Self::new(HeadKind::LINEAR)
    }

    /// The same variant with `switch` set to `value`.
    ///
    /// # Panics
    /// When the head does not have the switch or the value is not of its kind: variants made from
    /// user input go through the checked paths (grid expansion, name parsing, records).
    pub fn with(mut self, switch: Switch, value: Value) -> Self {
        let spec = switch.spec();
        assert!(spec.has(self.head), "{}", spec.absent_from(self.head));
        if let Err(e) = spec.check(value) {
            panic!("`{}` {e}", spec.key);
        }
        self.values[switch as usize] = value;
        self
    }

    /// Shorthands for tests and code: `with(switch, Value::Flag(b))` etc.
    pub fn flag(self, switch: Switch, on: bool) -> Self {
        self.with(switch, Value::Flag(on))
    }

    pub fn number(self, switch: Switch, x: f64) -> Self {
        self.with(switch, Value::Number(x))
    }

    pub fn kind(&self) -> HeadKind {
        self.head
    }

    /// The switch's value; `None` when the head does not have it.
    pub fn get(&self, switch: Switch) -> Option<Value> {
        switch
            .spec()
            .has(self.head)
            .then(|| self.values[switch as usize])
    }

    /// The switch's value when the head has it and the grid sets it (`None` for an absent switch
    /// and for [`Value::Unset`]): what two variants are compared on when pairing them.
    pub fn set_value(&self, switch: Switch) -> Option<Value> {
        self.get(switch).filter(|v| *v != Value::Unset)
    }

    /// The head's switches and their values, in table order.
    pub fn switches(&self) -> impl Iterator<Item = (&'static SwitchSpec, Value)> + '_ {
        Switch::of(self.head).map(|s| (s.spec(), self.values[s as usize]))
    }

    /// A flag switch's value (false when the head does not have it).
    pub fn is_on(&self, switch: Switch) -> bool {
        self.get(switch) == Some(Value::Flag(true))
    }

    /// A number switch's value (`None` when the head does not have it or the grid leaves it unset).
    pub fn number_of(&self, switch: Switch) -> Option<f64> {
        match self.get(switch) {
            Some(Value::Number(x)) => Some(x),
            _ => None,
        }
    }

    /// Whether `switch` is on: a set flag, a number above 0, a word other than its default.
    pub fn is_active(&self, switch: Switch) -> bool {
        match self.get(switch) {
            Some(Value::Flag(b)) => b,
            Some(Value::Number(x)) => x > 0.0,
            // A word is on away from its default (`backbone = "finetune"`).
            Some(v @ Value::Word(_)) => v != switch.spec().default_for(self.head),
            _ => false,
        }
    }

    /// The head's layers with the variant's switches applied, each with its name (the key of its
    /// initial weights and dropout draws, [`layer_names`], taken on the preset's list so that a
    /// switch never renames a layer): the bias switches set their Linears' biases, `relu = false`
    /// leaves the ReLUs out, `dropout` sets the rate of the dropout before the output Linear and
    /// `dropout_position = "before_bn"` moves it in front of the BatchNorm before it.
    pub fn layers(&self) -> Vec<(String, Layer)> {
        use crate::layer::LayerRole;
        let preset = self.head.layers();
        let names = layer_names(preset);
        let at = |role: LayerRole| role.find(preset);
        let before_bn = at(LayerRole::LinearBeforeBn);
        let relus = at(LayerRole::Relu);
        let last_dropout = at(LayerRole::LastDropout);
        let last_linear = at(LayerRole::LastLinear);
        let moved = self.dropout_position() == DropoutPosition::BeforeBn;
        let mut layers: Vec<(String, Layer)> = Vec::with_capacity(preset.len());
        for (i, (name, layer)) in names.into_iter().zip(preset).enumerate() {
            let mut layer = *layer;
            if let Layer::Linear { bias, .. } = &mut layer {
                if before_bn.contains(&i)
                    && let Some(Value::Flag(b)) = self.get(Switch::BiasBeforeBn)
                {
                    *bias = b;
                }
                if last_linear.contains(&i)
                    && let Some(Value::Flag(b)) = self.get(Switch::LastBias)
                {
                    *bias = b;
                }
            }
            if relus.contains(&i) && !self.is_on(Switch::Relu) {
                continue;
            }
            if last_dropout.contains(&i) {
                let p = self.dropout();
                if moved {
                    // In front of the BatchNorm just emitted (DropoutAfterBn: it follows one).
                    let bn = layers.pop().expect("a dropout after BN follows the BN");
                    layers.push((name, Layer::Dropout { p }));
                    layers.push(bn);
                } else {
                    layers.push((name, Layer::Dropout { p }));
                }
                continue;
            }
            layers.push((name, layer));
        }
        layers
    }

    /// The dropout rate of the layer before the output Linear (0 for a head without one).
    pub fn dropout(&self) -> f64 {
        self.number_of(Switch::Dropout).unwrap_or(0.0)
    }

    pub fn dropout_position(&self) -> DropoutPosition {
        match self.get(Switch::DropoutPosition) {
            Some(Value::Word("before_bn")) => DropoutPosition::BeforeBn,
            _ => DropoutPosition::AfterBn,
        }
    }

    /// The input dropout rate (0 when none).
    pub fn input_dropout(&self) -> f64 {
        self.number_of(Switch::InputDropout).unwrap_or(0.0)
    }

    /// The weight decay of the grid's axis (`None`: the `[train]` value).
    pub fn weight_decay(&self) -> Option<f64> {
        self.number_of(Switch::WeightDecay)
    }

    /// Whether the head is fitted to convergence by full-batch L-BFGS (`fit = "lbfgs"`) instead of
    /// `[train]`'s optimizer steps.
    pub fn converged(&self) -> bool {
        self.get(Switch::Fit) == Some(Value::Word("lbfgs"))
    }

    /// Whether the backbone trains with the head (`backbone = "finetune"`) instead of giving frozen
    /// features.
    pub fn finetuned(&self) -> bool {
        self.get(Switch::Backbone) == Some(Value::Word("finetune"))
    }

    /// A stable, readable name: the head, then the token of every switch it has, in table order
    /// (`mlp-bias1-relu0-drop0.25-last1`, `mlp-bias1-relu1-drop0.5-prebn-last1-in0.2`,
    /// `linear-last1-wd0.001`). Values a switch leaves out of names are not printed.
    pub fn name(&self) -> String {
        let mut name = self.head.as_str().to_string();
        for (spec, value) in self.switches() {
            if let Some(token) = spec.token(value) {
                name.push('-');
                name.push_str(&token);
            }
        }
        name
    }

    /// What each switch says in words, in table order (`bias`, `ReLU`, `dropout 0.5`,
    /// `lr 1e-4`); the usual values say nothing.
    pub fn phrases(&self) -> Vec<String> {
        self.switches()
            .filter_map(|(spec, value)| (spec.plain)(value))
            .collect()
    }

    /// A label for people: the thread's name of the head, then its settings in words
    /// (`model1: bias, ReLU, dropout 0.5, input dropout 0.2, lr 1e-4, 20 epochs`).
    pub fn plain_name(&self) -> String {
        let thread = self.head.info().label;
        match self.phrases().join(", ") {
            p if p.is_empty() => thread.to_string(),
            p => format!("{thread}: {p}"),
        }
    }
}

/// Labels for people for several variants shown together: each variant's [`plain_name`] without
/// the phrases every variant of its head in the list shares (they say nothing to tell them apart).
/// Two variants that would read alike keep their full [`name`]s, so labels stay unique.
///
/// [`plain_name`]: HeadVariant::plain_name
/// [`name`]: HeadVariant::name
pub fn plain_labels(variants: &[HeadVariant]) -> Vec<String> {
    let phrases: Vec<Vec<String>> = variants.iter().map(HeadVariant::phrases).collect();
    let mut labels: Vec<String> = variants
        .iter()
        .zip(&phrases)
        .map(|(v, own)| {
            let same_head: Vec<&Vec<String>> = variants
                .iter()
                .zip(&phrases)
                .filter(|(w, _)| w.kind() == v.kind())
                .map(|(_, p)| p)
                .collect();
            let telling: Vec<&str> = own
                .iter()
                .filter(|p| same_head.len() < 2 || !same_head.iter().all(|q| q.contains(p)))
                .map(String::as_str)
                .collect();
            let thread = v.kind().info().label;
            if telling.is_empty() {
                thread.to_string()
            } else {
                format!("{thread}: {}", telling.join(", "))
            }
        })
        .collect();
    for i in 0..labels.len() {
        if labels.iter().filter(|l| **l == labels[i]).count() > 1 {
            let label = labels[i].clone();
            for (j, v) in variants.iter().enumerate() {
                if labels[j] == label {
                    labels[j] = v.name();
                }
            }
        }
    }
    labels
}

impl fmt::Display for HeadVariant {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Why a variant name could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a head variant name: {problem}")]
pub struct VariantNameError {
    pub name: String,
    pub problem: String,
}

/// The inverse of [`HeadVariant::name`].
impl FromStr for HeadVariant {
    type Err = VariantNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| VariantNameError {
            name: name.to_string(),
            problem,
        };
        let mut tokens = name.split('-').peekable();
        let head = tokens.next().unwrap_or_default();
        let head = HeadKind::from_word(head).ok_or_else(|| {
            fail(format!(
                "unknown head `{head}` (the heads are {})",
                HeadKind::words()
            ))
        })?;
        let mut variant = HeadVariant::new(head);
        for switch in Switch::of(head) {
            let spec = switch.spec();
            let parsed = tokens.peek().and_then(|t| spec.parse_token(t));
            let value = match (parsed, spec.omitted) {
                (Some(value), _) => {
                    tokens.next();
                    value
                }
                (None, Some(value)) => value,
                (None, None) => {
                    return Err(fail(match tokens.peek() {
                        Some(t) => format!("`{t}` is not a value of `{}`", spec.key),
                        None => format!("`{}` is missing", spec.key),
                    }));
                }
            };
            variant.values[switch as usize] = value;
        }
        match tokens.next() {
            Some(t) => Err(fail(format!("`{t}` is not a switch of {head}"))),
            None => Ok(variant),
        }
    }
}

/// Records hold `{"head": "mlp", "bias_before_bn": true, ...}`: every switch the head has, but for
/// values a switch leaves out of names, so records written before a switch existed read the same.
impl Serialize for HeadVariant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shown: Vec<(&SwitchSpec, Value)> = self
            .switches()
            .filter(|(spec, value)| spec.omitted != Some(*value))
            .collect();
        let mut map = serializer.serialize_map(Some(1 + shown.len()))?;
        map.serialize_entry("head", &self.head)?;
        for (spec, value) in shown {
            map.serialize_entry(spec.key, &crate::value_serde::Plain(value))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for HeadVariant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VariantVisitor;
        impl<'de> Visitor<'de> for VariantVisitor {
            type Value = HeadVariant;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a head variant (`head` and its switches)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeadVariant, A::Error> {
                // The head may come after its switches: collect, then check.
                let mut head: Option<HeadKind> = None;
                let mut given: Vec<(Switch, Value)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "head" {
                        head = Some(map.next_value()?);
                        continue;
                    }
                    let switch = Switch::from_key(&key)
                        .ok_or_else(|| de::Error::custom(format!("unknown switch `{key}`")))?;
                    given.push((switch, map.next_value_seed(ValueSeed(switch))?));
                }
                let head = head.ok_or_else(|| de::Error::missing_field("head"))?;
                let mut variant = HeadVariant::new(head);
                for switch in Switch::of(head) {
                    let spec = switch.spec();
                    variant.values[switch as usize] = match given.iter().find(|(s, _)| *s == switch)
                    {
                        Some((_, v)) => *v,
                        None => spec
                            .omitted
                            .ok_or_else(|| de::Error::missing_field(spec.key))?,
                    };
                }
                if let Some((s, _)) = given.iter().find(|(s, _)| !s.spec().has(head)) {
                    return Err(de::Error::custom(format!(
                        "{head} has no `{}` switch",
                        s.key()
                    )));
                }
                Ok(variant)
            }
        }
        deserializer.deserialize_map(VariantVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp(bias: bool, relu: bool, dropout: f64) -> HeadVariant {
        HeadVariant::mlp()
            .flag(Switch::BiasBeforeBn, bias)
            .flag(Switch::Relu, relu)
            .number(Switch::Dropout, dropout)
    }

    /// A person's label says each setting in words; shown together, labels drop what every
    /// variant of a head shares and stay unique.
    #[test]
    fn plain_labels_say_the_settings_and_tell_variants_apart() {
        let asker = mlp(true, true, 0.5)
            .number(Switch::InputDropout, 0.2)
            .number(Switch::Lr, 1e-4)
            .number(Switch::Epochs, 20.0);
        assert_eq!(
            asker.plain_name(),
            "model1: bias, ReLU, dropout 0.5, input dropout 0.2, lr 1e-4, 20 epochs"
        );
        let linear = HeadVariant::linear()
            .flag(Switch::LastBias, false)
            .number(Switch::WeightDecay, 0.001);
        assert_eq!(linear.plain_name(), "model2: no last-layer bias, L2 1e-3");
        let no_bias = mlp(false, true, 0.5)
            .number(Switch::InputDropout, 0.2)
            .number(Switch::Lr, 1e-4)
            .number(Switch::Epochs, 20.0);
        assert_eq!(
            plain_labels(&[asker, no_bias, linear]),
            [
                "model1: bias",
                "model1: no bias",
                "model2: no last-layer bias, L2 1e-3"
            ]
        );
        // Weight decay 0 and the [train] fallback both say nothing: the full names keep them apart.
        let zero = HeadVariant::linear().number(Switch::WeightDecay, 0.0);
        let unset = HeadVariant::linear();
        assert_eq!(plain_labels(&[zero, unset]), [zero.name(), unset.name()]);
    }

    /// Each variant, its name, and back.
    #[test]
    fn names_read_as_their_switches_and_parse_back() {
        let cases = [
            (mlp(true, false, 0.25), "mlp-bias1-relu0-drop0.25-last1"),
            (
                mlp(false, true, 0.0).flag(Switch::LastBias, false),
                "mlp-bias0-relu1-drop0-last0",
            ),
            (
                mlp(true, true, 0.5)
                    .with(Switch::DropoutPosition, Value::Word("before_bn"))
                    .number(Switch::InputDropout, 0.2),
                "mlp-bias1-relu1-drop0.5-prebn-last1-in0.2",
            ),
            (
                mlp(false, true, 0.5).number(Switch::WeightDecay, 0.01),
                "mlp-bias0-relu1-drop0.5-last1-wd0.01",
            ),
            (HeadVariant::linear(), "linear-last1"),
            (
                HeadVariant::linear()
                    .flag(Switch::LastBias, false)
                    .number(Switch::InputDropout, 0.2),
                "linear-last0-in0.2",
            ),
            (
                HeadVariant::linear().number(Switch::WeightDecay, 0.001),
                "linear-last1-wd0.001",
            ),
            (
                HeadVariant::linear().number(Switch::WeightDecay, 0.0),
                "linear-last1-wd0",
            ),
        ];
        for (variant, name) in cases {
            assert_eq!(variant.name(), name);
            assert_eq!(name.parse::<HeadVariant>(), Ok(variant), "{name}");
        }
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        let cases = [
            ("cnn-last1", "unknown head `cnn`"),
            (
                "mlp-bias2-relu0-drop0-last1",
                "`bias2` is not a value of `bias_before_bn`",
            ),
            ("mlp-bias1-relu0-drop0", "`last_bias` is missing"),
            ("linear-last1-bias1", "`bias1` is not a switch of linear"),
            (
                "mlp-bias1-relu0-drop1.5-last1",
                "`drop1.5` is not a value of `dropout`",
            ),
        ];
        for (name, needle) in cases {
            let err = name.parse::<HeadVariant>().unwrap_err().to_string();
            assert!(err.contains(needle), "{name}: {err}");
        }
    }

    /// Records written before a switch existed lack it; values left out of names are not written.
    #[test]
    fn records_round_trip_and_read_older_ones() {
        let old =
            r#"{"head":"mlp","bias_before_bn":true,"relu":true,"dropout":0.5,"last_bias":true}"#;
        let v: HeadVariant = serde_json::from_str(old).unwrap();
        assert_eq!(v, mlp(true, true, 0.5));
        assert_eq!(v.dropout_position(), DropoutPosition::AfterBn);
        assert_eq!(serde_json::to_string(&v).unwrap(), old);
        let linear = HeadVariant::linear().number(Switch::WeightDecay, 1e-4);
        let json = serde_json::to_string(&linear).unwrap();
        assert_eq!(
            json,
            r#"{"head":"linear","last_bias":true,"weight_decay":0.0001}"#
        );
        assert_eq!(serde_json::from_str::<HeadVariant>(&json).unwrap(), linear);
        for (bad, needle) in [
            (
                r#"{"head":"linear","relu":true,"last_bias":true}"#,
                "no `relu`",
            ),
            (r#"{"head":"mlp","relu":true}"#, "bias_before_bn"),
            (r#"{"head":"linear","last_bias":true,"colour":1}"#, "colour"),
        ] {
            let err = serde_json::from_str::<HeadVariant>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    fn preset(word: &str) -> HeadVariant {
        HeadVariant::new(HeadKind::from_word(word).unwrap())
    }

    /// The switches act on the layers they name, by place, and keep each layer's name.
    #[test]
    fn switches_rewrite_the_layers_they_name() {
        use crate::layer::{Layer::*, Width};
        let fc = |out, bias| Linear { out, bias };
        let names = |v: &HeadVariant| v.layers().into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let layers = |v: &HeadVariant| v.layers().into_iter().map(|(_, l)| l).collect::<Vec<_>>();
        let asker = mlp(true, true, 0.5);
        assert_eq!(
            layers(&asker),
            [
                fc(Width::Hidden, true),
                Relu,
                BatchNorm,
                Dropout { p: 0.5 },
                fc(Width::Classes, true)
            ]
        );
        // No ReLU, no bias; dropout before BN keeps its name `dropout` (its draws' key).
        let v = mlp(false, false, 0.25).with(Switch::DropoutPosition, Value::Word("before_bn"));
        assert_eq!(
            layers(&v),
            [
                fc(Width::Hidden, false),
                Dropout { p: 0.25 },
                BatchNorm,
                fc(Width::Classes, true)
            ]
        );
        assert_eq!(names(&v), ["fc1", "dropout", "bn", "fc2"]);
        assert_eq!(names(&HeadVariant::linear()), ["fc"]);
        // A preset's own values are its defaults: fastai's Linears have no bias, its last dropout
        // is 0.5, and the name says so.
        let fastai = preset("fastai");
        assert_eq!(fastai.name(), "fastai-bias0-relu1-drop0.5-last0");
        assert_eq!(fastai.name().parse::<HeadVariant>().unwrap(), fastai);
        assert_eq!(
            layers(&fastai.number(Switch::Dropout, 0.0))[..6],
            [
                BatchNorm,
                Dropout { p: 0.25 },
                fc(Width::Fixed(512), false),
                Relu,
                BatchNorm,
                Dropout { p: 0.0 }
            ]
        );
        assert_eq!(preset("timm").name(), "timm-drop0.2-last1");
        // Switches a head has no layer for are not its switches.
        let ln = preset("mlp_ln_gelu");
        assert_eq!(ln.get(Switch::BiasBeforeBn), None);
        assert_eq!(ln.get(Switch::Relu), None);
        assert_eq!(ln.get(Switch::DropoutPosition), None);
        assert_eq!(preset("mlp_bn_relu").get(Switch::DropoutPosition), None);
        assert!(preset("timm").get(Switch::Fit).is_none());
        assert!(HeadVariant::linear().get(Switch::Fit).is_some());
    }

    /// A grid axis no head of its block has is refused, naming the layers of each.
    #[test]
    fn an_axis_without_a_layer_is_refused_with_the_heads_layers() {
        let text = r#"
name = "x"
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["linear", "mlp_ln_gelu"]
relu = [true, false]
train_per_class = [10]
seeds = [0]
"#;
        let err = crate::Experiment::from_toml_str(text, "x.toml".as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("grid.relu"), "{err}");
        assert!(
            err.contains("Linear(→H) → GELU → LayerNorm → Dropout(0) → Linear(→C)"),
            "{err}"
        );
        let per_head = text.replace("relu = [true, false]", "relu = { mlp_ln_gelu = [false] }");
        let err = crate::Experiment::from_toml_str(&per_head, "x.toml".as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("acts on a ReLU"), "{err}");
    }
}
