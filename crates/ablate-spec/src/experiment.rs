//! The experiment file: raw TOML shapes (serde, unknown keys refused) and the validated
//! [`Experiment`]: the hashed [`Config`] (one validator per section, beside its type), the claims
//! the report judges, the report's prose, and the file it came from.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cell::Cell;
use crate::claim::{Claim, validate_claims};
use crate::config::Config;
use crate::data::{BackboneSpec, DataSpec};
use crate::declared::{DeclaredHead, DeclaredHeads, declare};
use crate::error::SpecError;
use crate::finetune::FinetuneSpec;
use crate::grid::GridSpec;
use crate::report::ReportSpec;
use crate::thread::{ANSWER_CLAIM, Unmeasured, measurable, thread_claims};
use crate::train::TrainSpec;
use crate::variant::HeadVariant;

/// A validated experiment: every value is in range, every grid axis is non-empty and duplicate-free,
/// every claim has pairs to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// What trains, and what the config hash covers.
    pub config: Config,
    /// What the report judges. Claims only read results, so they are left out of the config hash:
    /// editing a claim never invalidates trained cells.
    pub claims: Claims,
    /// The report's prose for this experiment (left out of the config hash, like the claims).
    pub report: ReportSpec,
    /// The file it was read from; relative paths inside it are taken from the working directory.
    pub source: PathBuf,
}

/// The claims of an experiment: the file's `[[claims]]`, or (when it declares none) the thread's
/// claims that the grid can measure, with the ones it cannot and what to add for them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    list: Vec<Claim>,
    /// False when the claims are the thread's defaults (no `[[claims]]` in the file).
    pub declared: bool,
    /// Default claims the grid cannot measure, with what to add to it.
    pub unmeasured: Vec<Unmeasured>,
}

impl Deref for Claims {
    type Target = [Claim];
    fn deref(&self) -> &[Claim] {
        &self.list
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    /// Declared by [`HeadsFirst`] before the rest is read.
    #[serde(default)]
    heads: DeclaredHeads,
    name: String,
    data: DataSpec,
    #[serde(default)]
    backbone: Option<BackboneSpec>,
    #[serde(default)]
    train: TrainSpec,
    #[serde(default)]
    finetune: Option<FinetuneSpec>,
    grid: GridSpec,
    /// Absent: the thread's claims; `claims = []`: none.
    #[serde(default)]
    claims: Option<Vec<Claim>>,
    #[serde(default)]
    report: ReportSpec,
}

/// The file's `[heads]` alone (every other key ignored), read before the rest; each head is read
/// on its own, so that a bad one is named. In word order, as a manifest declares them (a declared
/// head's colour is its place in the process's declarations).
#[derive(Deserialize)]
struct HeadsFirst {
    #[serde(default)]
    heads: std::collections::BTreeMap<String, toml::Value>,
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|error| SpecError::Read {
            path: path.to_owned(),
            error,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses and validates experiment text; `path` is only used in messages and as [`Experiment::source`].
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self, SpecError> {
        // The grid, claims and prose name declared heads by word: declare them first. A file that
        // does not parse here fails below with the parser's message.
        if let Ok(first) = toml::from_str::<HeadsFirst>(text) {
            for (word, value) in first.heads {
                let key = format!("heads.{word}");
                let invalid = |problem: String| SpecError::Invalid {
                    path: path.to_owned(),
                    key: key.clone(),
                    problem,
                };
                let head: DeclaredHead = value
                    .try_into()
                    .map_err(|e: toml::de::Error| invalid(one_line(&e.to_string())))?;
                declare(&word, &head).map_err(invalid)?;
            }
        }
        let raw: RawExperiment = toml::from_str(text).map_err(|err| SpecError::Parse {
            path: path.to_owned(),
            // toml's message spans several lines (a caret under the key); one line reads better in logs.
            message: did_you_mean(&one_line(&err.to_string())),
        })?;
        let config = Config {
            heads: raw.heads,
            name: raw.name,
            data: raw.data,
            backbone: raw.backbone,
            train: raw.train,
            finetune: raw.finetune,
            grid: raw.grid,
        };
        Self::from_parts(config, raw.claims, raw.report, path)
    }

    /// An experiment from its parts, validated as a file is: a results manifest's config, claims
    /// (`None`: the thread's defaults that the grid measures) and prose. `path` names the source
    /// in messages.
    pub fn from_parts(
        config: Config,
        claims: Option<Vec<Claim>>,
        report: ReportSpec,
        path: &Path,
    ) -> Result<Self, SpecError> {
        let config = config.validated(path)?;
        let variants = config.head_variants();
        let invalid = |key: &str, problem: String| SpecError::Invalid {
            path: path.to_owned(),
            key: key.to_string(),
            problem,
        };
        let claims = match claims {
            Some(list) => {
                validate_claims(&list, &variants, &config.grid.train_per_class, path)?;
                Claims {
                    list,
                    declared: true,
                    unmeasured: Vec::new(),
                }
            }
            // The grid is valid now, so it can be expanded to see which default claims it measures.
            None => {
                let (list, unmeasured) = measurable(thread_claims(), &config.grid);
                Claims {
                    list,
                    declared: false,
                    unmeasured,
                }
            }
        };
        report.validate(&variants, &claims, &invalid)?;
        Ok(Experiment {
            config,
            claims,
            report,
            source: path.to_owned(),
        })
    }

    /// The claim the report's answer spells out per size: `[report] answer`, or with the thread's
    /// default claims its head claim ([`ANSWER_CLAIM`]) when the grid measures it.
    pub fn answer_claim(&self) -> Option<&Claim> {
        let id = match &self.report.answer {
            Some(id) => id.as_str(),
            None if !self.claims.declared => ANSWER_CLAIM,
            None => return None,
        };
        self.claims.iter().find(|c| c.id == id)
    }

    /// The experiment's name (its results folder).
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// See [`Config::cells`].
    pub fn cells(&self) -> Vec<Cell> {
        self.config.cells()
    }

    /// See [`Config::head_variants`].
    pub fn head_variants(&self) -> Vec<HeadVariant> {
        self.config.head_variants()
    }

    /// See [`Config::config_hash`].
    pub fn config_hash(&self) -> String {
        self.config.config_hash()
    }
}

/// serde's "unknown field `epochz`, expected one of `lr`, `epochs`, ..." (or "unknown variant"),
/// with "did you mean `epochs`?" added when one of the expected names is a small edit away.
fn did_you_mean(message: &str) -> String {
    let quoted = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let Some(at) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| message.find(p))
    else {
        return message.to_string();
    };
    let names = quoted(&message[at..]);
    let Some((given, expected)) = names.split_first() else {
        return message.to_string();
    };
    let closest = expected
        .iter()
        .map(|name| (strsim::levenshtein(given, name), name))
        .min_by_key(|(distance, _)| *distance);
    match closest {
        // At most a third of the word changed (and at least one edit allowed): a typo, not a
        // different key.
        Some((distance, name)) if distance <= (given.chars().count() / 3).max(1) => {
            format!("{message}; did you mean `{name}`?")
        }
        _ => message.to_string(),
    }
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        // Drop the source excerpt (`2 | [data`) and caret lines; keep the position and the message.
        .filter(|l| !l.is_empty() && !l.contains('|'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::Switch;

    const BASE: &str = r#"
name = "t"
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0.0, 0.25, 0.5]
last_bias = [true]
train_per_class = [25, 100, 1000]
seeds = [0, 1, 2, 3, 4]
"#;

    fn parse(text: &str) -> Result<Experiment, SpecError> {
        Experiment::from_toml_str(text, Path::new("exp.toml"))
    }

    /// An experiment from a manifest's stored config, with the thread's claims.
    fn from_json(json: &serde_json::Value, path: &str) -> Result<Experiment, SpecError> {
        let config: Config = serde_json::from_value(json.clone()).unwrap();
        Experiment::from_parts(config, None, ReportSpec::default(), Path::new(path))
    }

    #[test]
    fn forum_grid_counts_cells_per_head() {
        let e = parse(BASE).unwrap();
        // mlp: 2 bias x 2 relu x 3 dropout = 12 variants; linear: 1. Times 3 sizes x 5 seeds.
        assert_eq!(e.head_variants().len(), 13);
        assert_eq!(e.cells().len(), 13 * 15);
        let ids: std::collections::BTreeSet<String> = e.cells().iter().map(Cell::id).collect();
        assert_eq!(ids.len(), e.cells().len(), "cell ids are unique");
    }

    /// `[[grid.also]]`: a block adds its own product, shares sizes and seeds, repeats nothing; a
    /// grid without blocks hashes as before blocks existed.
    #[test]
    fn grid_blocks_add_their_products_once() {
        let blocks = BASE.to_string()
            + r#"
[[grid.also]]
head = ["mlp"]
lr = [0.0003, 0.003]

[[grid.also]]
head = ["linear"]
fit = ["lbfgs"]
weight_decay = [0.0, 0.01]

[[grid.also]]
head = ["linear"]
"#;
        let e = parse(&blocks).unwrap();
        // 13 main variants; +2 mlp at other learning rates; +2 converged linear; the last block's
        // linear is the main grid's again.
        assert_eq!(e.head_variants().len(), 13 + 2 + 2);
        let names: Vec<String> = e.head_variants().iter().map(HeadVariant::name).collect();
        assert!(names.contains(&"mlp-bias1-relu1-drop0-last1-lr0.003".to_string()));
        assert!(names.contains(&"linear-last1-wd0.01-lbfgs".to_string()));
        assert_eq!(e.cells().len(), 17 * 15);
        assert_ne!(e.config_hash(), parse(BASE).unwrap().config_hash());
        // The canonical form without blocks has no `also` key.
        let json = serde_json::to_value(&parse(BASE).unwrap().config.grid).unwrap();
        assert!(json.get("also").is_none(), "{json}");
        // Read back from its canonical JSON, the grid is the same.
        let json = serde_json::to_value(&e.config).unwrap();
        let round = from_json(&json, "m.json").unwrap();
        assert_eq!(round.head_variants(), e.head_variants());
        assert_eq!(round.config_hash(), e.config_hash());
    }

    /// Bad blocks are refused with the key at fault.
    #[test]
    fn bad_grid_blocks_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (
                "head = [\"mlp\"]\nseeds = [0]",
                "shares the grid's `train_per_class` and `seeds`",
            ),
            ("head = [\"mlp\"]\nwarmup = [1]", "unknown field `warmup`"),
            ("relu = [false]", "missing field `head`"),
            (
                "head = [\"linear\"]\nfit = [\"lbfgs\"]\nlr = [0.01]",
                "grid.also[0].lr",
            ),
            (
                "head = [\"linear\"]\nfit = [\"lbfgs\"]\ninput_dropout = [0.2]",
                "grid.also[0].input_dropout",
            ),
            ("head = [\"mlp\"]\nepochs = [2.5]", "grid.also[0].epochs"),
            ("head = [\"mlp\"]\nlr = [0.0]", "grid.also[0].lr"),
        ];
        for (block, expected) in cases {
            let text = format!("{BASE}\n[[grid.also]]\n{block}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{block}: {err}");
        }
    }

    #[test]
    fn dropout_position_axis_multiplies_only_real_dropout() {
        let e = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ndropout_position = [\"after_bn\", \"before_bn\"]",
        ))
        .unwrap();
        // 2 bias x 2 relu x (dropout 0 once + 2 rates x 2 positions) + linear.
        assert_eq!(e.head_variants().len(), 2 * 2 * (1 + 2 * 2) + 1);
        // The default is left out of the hash: the grid without the key hashes as before.
        let plain = parse(BASE).unwrap();
        let explicit = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ndropout_position = [\"after_bn\"]",
        ))
        .unwrap();
        assert_eq!(plain.config_hash(), explicit.config_hash());
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ndropout_position = [\"middle\"]",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("middle") && err.contains("line"), "{err}");
    }

    #[test]
    fn input_dropout_multiplies_both_heads_and_keeps_old_hashes() {
        let e = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [0.2, 0.0]",
        ))
        .unwrap();
        assert_eq!(e.head_variants().len(), 13 * 2);
        let explicit = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [0.0]",
        ))
        .unwrap();
        assert_eq!(explicit.config_hash(), parse(BASE).unwrap().config_hash());
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [1.0]",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("grid.input_dropout"), "{err}");
    }

    #[test]
    fn weight_decay_axis_multiplies_both_heads_and_is_set_once() {
        let e = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\nweight_decay = [0.0, 1e-4, 1e-2]",
        ))
        .unwrap();
        assert_eq!(e.head_variants().len(), 13 * 3);
        assert!(
            e.cells()
                .iter()
                .any(|c| c.id() == "linear-last1-wd0.0001-n25-s0")
        );
        let cases: &[(&str, &[&str])] = &[
            ("weight_decay = [-1.0]", &["grid.weight_decay", ">= 0"]),
            ("weight_decay = [0.1, 0.1]", &["grid.weight_decay", "twice"]),
        ];
        for (axis, needles) in cases {
            let err =
                parse(&BASE.replace("last_bias = [true]", &format!("last_bias = [true]\n{axis}")))
                    .unwrap_err()
                    .to_string();
            for needle in *needles {
                assert!(err.contains(needle), "{axis}: {err}");
            }
        }
        // Per head: a wide sweep for the cheap linear head, none for the mlp; the hash of a shared
        // list is the hash of the same list written as before per-head values existed.
        let per_head = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = { linear = [true, false] }\nweight_decay = { linear = [0.0, 1e-4, 1e-2] }",
        ))
        .unwrap();
        let variants = per_head.head_variants();
        assert_eq!(variants.len(), 12 + 2 * 3);
        assert!(variants[..12].iter().all(|v| v.weight_decay().is_none()));
        assert!(
            per_head
                .cells()
                .iter()
                .any(|c| c.id() == "linear-last0-wd0.01-n25-s0")
        );
        let shared = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [0.2]",
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&shared.config.grid.axes[&Switch::InputDropout]).unwrap(),
            serde_json::json!([0.2])
        );
        assert_eq!(
            serde_json::to_value(&per_head.config.grid.axes[&Switch::WeightDecay]).unwrap(),
            serde_json::json!({ "linear": [0.0, 1e-4, 1e-2] })
        );
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\nweight_decay = { linear = [-0.1] }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("grid.weight_decay") && err.contains(">= 0"),
            "{err}"
        );
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\nweight_decay = { conv = [0.1] }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 12") && err.contains("unknown head `conv`"),
            "{err}"
        );
        let both = BASE
            .replace(
                "last_bias = [true]",
                "last_bias = [true]\nweight_decay = [0.1]",
            )
            .replace("[grid]", "[train]\nweight_decay = 0.5\n[grid]");
        assert!(parse(&both).unwrap_err().to_string().contains("keep one"));
    }

    #[test]
    fn defaults_are_pytorch_adam() {
        let e = parse(BASE).unwrap();
        assert_eq!(e.config.train, TrainSpec::default());
        assert_eq!(e.config.train.eps, 1e-8);
    }

    #[test]
    fn json_form_round_trips() {
        let e = parse(BASE).unwrap();
        let json = serde_json::to_value(&e.config).unwrap();
        let back = from_json(&json, "manifest.json").unwrap();
        assert_eq!(back.config_hash(), e.config_hash());
        assert_eq!(back.cells(), e.cells());
    }

    #[test]
    fn config_hash_follows_content() {
        let a = parse(BASE).unwrap();
        let b = parse(&BASE.replace("seeds = [0, 1, 2, 3, 4]", "seeds = [0, 1]")).unwrap();
        assert_eq!(a.config_hash(), parse(BASE).unwrap().config_hash());
        assert_ne!(a.config_hash(), b.config_hash());
    }

    const CLAIMS: &str = r#"
[[claims]]
id = "A"
says = "a bias right before BN is useless"
a = { bias_before_bn = true, relu = false }
b = { bias_before_bn = false, relu = false }
expect = "identical"

[[claims]]
id = "D"
says = "model2 can win on validation"
a = { head = "linear" }
b = { head = "mlp" }
expect = "higher"
compare = "best"
train_per_class = [25]
"#;

    /// A mistyped key or value gets the closest expected name, and only when it is close.
    #[test]
    fn a_typo_gets_a_did_you_mean() {
        let err = parse(&BASE.replace("seeds = ", "seedz = "))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `seeds`?"), "{err}");
        let err = parse(&BASE.replace("[grid]", "[train]\nepochz = 3\n[grid]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `epochz`") && err.contains("did you mean `epochs`?"),
            "{err}"
        );
        let err = parse(&BASE.replace("[grid]", "[train]\nfoo = 3\n[grid]"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    /// The answer's claim: the thread's D by default, the declared one by `[report] answer`, and a
    /// name that is not a two-head tuned claim is refused with the key.
    #[test]
    fn the_answer_claim_is_named_or_the_threads() {
        let defaults = parse(BASE).unwrap();
        assert_eq!(defaults.answer_claim().map(|c| c.id.as_str()), Some("D"));
        // Declared claims: none unless named.
        let declared = parse(&format!("{BASE}{CLAIMS}")).unwrap();
        assert_eq!(declared.answer_claim(), None);
        let tuned = format!("{BASE}{CLAIMS}").replace("compare = \"best\"", "compare = \"tuned\"");
        let named = parse(&tuned.replace("[grid]", "[report]\nanswer = \"D\"\n[grid]")).unwrap();
        assert_eq!(named.answer_claim().map(|c| c.id.as_str()), Some("D"));
        for (answer, why) in [("Z", "does not declare"), ("A", "each tuned")] {
            let text = tuned.replace("[grid]", &format!("[report]\nanswer = {answer:?}\n[grid]"));
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("report.answer") && err.contains(why), "{err}");
        }
    }

    #[test]
    fn claims_are_read_checked_and_left_out_of_the_hash() {
        let plain = parse(BASE).unwrap();
        let e = parse(&format!("{BASE}{CLAIMS}")).unwrap();
        assert_eq!(e.claims.len(), 2);
        assert_eq!(e.claims[1].compare, crate::Compare::Best);
        assert_eq!(e.claims[0].metric, crate::Metric::ValAcc);
        assert_eq!(e.config_hash(), plain.config_hash());
        assert_eq!(e.claims[0].loss_epochs, None, "every epoch by default");
        let first = parse(&format!("{BASE}{CLAIMS}").replace(
            "expect = \"identical\"",
            "expect = \"identical\"\nloss_epochs = 1",
        ))
        .unwrap();
        assert_eq!(first.claims[0].loss_epochs, Some(1));

        let cases: &[(&str, &str, &[&str])] = &[
            ("id = \"D\"", "id = \"A\"", &["claim `A`", "earlier"]),
            ("id = \"D\"", "id = \"D/1\"", &["`id`"]),
            (
                "b = { head = \"mlp\" }",
                "b = { head = \"mlp\", dropout = 0.3 }",
                &["claim `D`", "`b`", "dropout=0.3", "matches no head variant"],
            ),
            (
                "b = { head = \"mlp\" }",
                "b = { last_bias = true }",
                &["claim `D`", "both match linear-last1"],
            ),
            (
                "train_per_class = [25]",
                "train_per_class = [50]",
                &["claim `D`", "50"],
            ),
            ("expect = \"higher\"", "expect = \"bigger\"", &["bigger"]),
            (
                "compare = \"best\"",
                "compare = \"best\"\nsign = 1",
                &["sign"],
            ),
            (
                "compare = \"best\"",
                "compare = \"best\"\nloss_epochs = 1",
                &["claim `D`", "`loss_epochs`", "identical"],
            ),
        ];
        for (from, to, needles) in cases {
            let text = format!("{BASE}{CLAIMS}");
            assert!(text.contains(from), "case edits missing text {from:?}");
            let err = parse(&text.replacen(from, to, 1))
                .expect_err(to)
                .to_string();
            assert!(!err.contains('\n'), "error is one line: {err}");
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
    }

    /// An image experiment that fine-tunes: the regime is an axis, `[finetune]` is checked and
    /// hashed, and what cannot fine-tune is refused at its key.
    #[test]
    fn finetuning_is_an_axis_with_its_own_settings() {
        const IMAGES: &str = r#"
name = "ft"
[data]
kind = "idx"
path = "/usr/share/datasets/fashion-mnist"
classes = [0, 2]
train_pool_per_class = 100
val_per_class = 10
[backbone]
arch = "efficientnet-lite0"
weights = "w.pth"
image_size = 64
[grid]
head = ["mlp", "linear"]
backbone = ["frozen", "finetune"]
train_per_class = [25]
seeds = [0]
"#;
        let e = parse(IMAGES).unwrap();
        let names: Vec<String> = e.head_variants().iter().map(|v| v.name()).collect();
        assert_eq!(
            names,
            [
                "mlp-bias1-relu1-drop0-last1",
                "mlp-bias1-relu1-drop0-last1-ft",
                "linear-last1",
                "linear-last1-ft"
            ]
        );
        assert_eq!(
            e.config.finetune,
            Some(FinetuneSpec::default()),
            "defaults recorded"
        );
        let tuned =
            parse(&IMAGES.replace("[grid]", "[finetune]\nbackbone_lr = 1e-5\n[grid]")).unwrap();
        assert_ne!(
            tuned.config_hash(),
            e.config_hash(),
            "the backbone's lr is hashed"
        );
        // The fine-tuning recipe's axes multiply the fine-tuned variants only.
        let recipe = parse(&IMAGES.replace(
            "train_per_class",
            "backbone_lr = [1e-4, 1e-3]\nbackbone_bn = [\"batch\", \"running\"]\ntrain_per_class",
        ))
        .unwrap();
        let names: Vec<String> = recipe.head_variants().iter().map(|v| v.name()).collect();
        assert_eq!(
            names,
            [
                "mlp-bias1-relu1-drop0-last1",
                "mlp-bias1-relu1-drop0-last1-ft-blr0.0001",
                "mlp-bias1-relu1-drop0-last1-ft-blr0.0001-bnrun",
                "mlp-bias1-relu1-drop0-last1-ft-blr0.001",
                "mlp-bias1-relu1-drop0-last1-ft-blr0.001-bnrun",
                "linear-last1",
                "linear-last1-ft-blr0.0001",
                "linear-last1-ft-blr0.0001-bnrun",
                "linear-last1-ft-blr0.001",
                "linear-last1-ft-blr0.001-bnrun",
            ]
        );
        let tuned_lr = |name: &str| {
            let v = recipe
                .head_variants()
                .into_iter()
                .find(|v| v.name() == name)
                .unwrap();
            recipe
                .config
                .finetune
                .clone()
                .unwrap_or_default()
                .for_variant(&v)
                .backbone_lr
        };
        assert_eq!(tuned_lr("linear-last1-ft-blr0.001"), 1e-3);
        let frozen = parse(&IMAGES.replace("backbone = [\"frozen\", \"finetune\"]\n", "")).unwrap();
        assert_eq!(frozen.config.finetune, None);

        let cases: &[(&str, &str, &[&str])] = &[
            (
                "[grid]",
                "[finetune]\nfreeze_stages = 8\n[grid]",
                &["finetune.freeze_stages", "7 stages"],
            ),
            (
                "[grid]",
                "[finetune]\ndrop_connect = 1.0\n[grid]",
                &["finetune.drop_connect"],
            ),
            (
                "[grid]",
                "[finetune]\ncut_cache = true\n[grid]",
                &["finetune.cut_cache", "freeze_stages"],
            ),
            (
                "[grid]",
                "[finetune]\nbackbone_lr = 0\n[grid]",
                &["finetune.backbone_lr"],
            ),
            (
                "[grid]\nhead = [\"mlp\", \"linear\"]\nbackbone = [\"frozen\", \"finetune\"]",
                "[finetune]\nbackbone_lr = 1e-5\n[grid]\nhead = [\"mlp\", \"linear\"]",
                &["`finetune`", "no effect"],
            ),
            (
                "backbone = [\"frozen\", \"finetune\"]",
                "backbone = [\"frozen\", \"thawed\"]",
                &["`backbone`", "thawed", "finetune"],
            ),
            (
                "train_per_class = [25]",
                "fit = { linear = [\"lbfgs\"] }\ntrain_per_class = [25]",
                &["grid.fit", "lbfgs", "linear-last1-lbfgs-ft"],
            ),
            (
                "image_size = 64",
                "image_size = 16",
                &["backbone.image_size", "at least 32"],
            ),
        ];
        for (from, to, needles) in cases {
            assert!(IMAGES.contains(from), "case edits missing text {from:?}");
            let err = parse(&IMAGES.replacen(from, to, 1))
                .expect_err(to)
                .to_string();
            assert!(!err.contains('\n'), "error is one line: {err}");
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
        // Features only: nothing to fine-tune.
        let err = parse(&BASE.replace(
            "seeds = [0, 1, 2, 3, 4]",
            "seeds = [0]\nbackbone = [\"finetune\"]",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("grid.backbone") && err.contains("features only"),
            "{err}"
        );
    }

    /// No `[[claims]]`: the thread's claims the grid can measure; `claims = []`: none.
    #[test]
    fn without_claims_the_thread_claims_are_judged() {
        let defaults = parse(BASE).unwrap();
        assert!(!defaults.claims.declared);
        let ids: Vec<&str> = defaults.claims.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["A", "B", "C", "D", "E"]);
        assert!(defaults.claims.unmeasured.is_empty());
        let none = parse(&BASE.replacen("[data]", "claims = []\n[data]", 1)).unwrap();
        assert!(none.claims.declared && none.claims.is_empty());
        let narrow = parse(&BASE.replace("relu = [true, false]", "relu = [true]")).unwrap();
        assert_eq!(narrow.claims.unmeasured.len(), 1);
        assert_eq!(narrow.claims.unmeasured[0].id, "A");
        assert!(narrow.claims.unmeasured[0].add.contains("`grid.relu`"));
        let highlight = |variant: &str| {
            parse(&format!(
                "{BASE}[report]\nhighlight = [{{ label = \"mine\", variant = {variant} }}]\n"
            ))
        };
        assert!(highlight("{ head = \"linear\" }").is_ok());
        let err = highlight("{ head = \"mlp\", relu = true }")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("report.highlight") && err.contains("matches 6 variants"),
            "{err}"
        );
        let titled = parse(&format!("{BASE}[report]\ntitle = \"Mine\"\n")).unwrap();
        assert_eq!(titled.report.title.as_deref(), Some("Mine"));
        assert_eq!(titled.config_hash(), defaults.config_hash());
    }

    const IDX: &str = r#"
name = "fm"
[data]
kind = "idx"
path = "/usr/share/datasets/fashion-mnist"
classes = [0, 2, 4, 6]
class_names = ["T-shirt/top", "Pullover", "Coat", "Shirt"]
train_pool_per_class = 1000
val_per_class = 500
[backbone]
arch = "efficientnet-lite0"
weights = "assets/efficientnet-lite0-57934424.pth"
[grid]
head = ["linear"]
train_per_class = [25, 1000]
"#;

    #[test]
    fn image_data_needs_a_backbone_and_consistent_counts() {
        let e = parse(IDX).unwrap();
        assert!(matches!(&e.config.data, DataSpec::Idx(d) if d.classes == [0, 2, 4, 6]));
        assert_eq!(e.config.backbone.as_ref().unwrap().batch_size, 32);
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "[backbone]\narch = \"efficientnet-lite0\"\nweights = \"assets/efficientnet-lite0-57934424.pth\"\n",
                "",
                &["`backbone`", "needed"],
            ),
            (
                "class_names = [\"T-shirt/top\", \"Pullover\", \"Coat\", \"Shirt\"]",
                "class_names = [\"a\"]",
                &["data.class_names"],
            ),
            (
                "train_per_class = [25, 1000]",
                "train_per_class = [25, 1001]",
                &["grid.train_per_class", "1001"],
            ),
            (
                "classes = [0, 2, 4, 6]",
                "classes = [0, 2, 2, 6]",
                &["data.classes", "twice"],
            ),
            (
                "val_per_class = 500",
                "val_per_class = 500\nval_fraction = 0.2",
                &["val_fraction"],
            ),
            (
                "val_per_class = 500",
                "val_per_class = 500\ntest_per_class = 0",
                &["data.test_per_class", "at least 1"],
            ),
            ("kind = \"idx\"", "kind = \"mnist\"", &["mnist"]),
            (
                "arch = \"efficientnet-lite0\"",
                "arch = \"efficientnet-lite0\"\nbatch_size = 0",
                &["backbone.batch_size"],
            ),
        ];
        for (from, to, needles) in cases {
            assert!(IDX.contains(from), "case edits missing text {from:?}");
            let err = parse(&IDX.replacen(from, to, 1)).expect_err(to).to_string();
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
        let with_backbone = BASE.replace(
            "[grid]",
            "[backbone]\narch = \"efficientnet-b0\"\nweights = \"w.pth\"\n[grid]",
        );
        assert!(
            parse(&with_backbone)
                .unwrap_err()
                .to_string()
                .contains("no effect")
        );
    }

    /// Each bad input and the words its one-line error must contain.
    #[test]
    fn bad_inputs_name_the_key() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "dropout = [0.0, 0.25, 0.5]",
                "dropout = [1.0]",
                &["grid.dropout", "[0, 1)"],
            ),
            (
                "dropout = [0.0, 0.25, 0.5]",
                "dropout = [-0.1]",
                &["grid.dropout"],
            ),
            (
                "seeds = [0, 1, 2, 3, 4]",
                "seeds = []",
                &["grid.seeds", "at least one"],
            ),
            (
                "seeds = [0, 1, 2, 3, 4]",
                "seeds = [1, 1]",
                &["grid.seeds", "twice"],
            ),
            (
                "train_per_class = [25, 100, 1000]",
                "train_per_class = [0]",
                &["grid.train_per_class"],
            ),
            (
                "head = [\"mlp\", \"linear\"]",
                "head = [\"mlp\", \"cnn\"]",
                &["unknown head `cnn`", "`fastai`"],
            ),
            (
                "last_bias = [true]",
                "last_bias = [true]\nlast_bais = [true]",
                &["last_bais", "line 12"],
            ),
            ("name = \"t\"", "name = \"a/b\"", &["`name`"]),
            ("[grid]", "[train]\nlr = -1\n[grid]", &["train.lr"]),
            (
                "[grid]",
                "[train]\nbatch_size = 1\n[grid]",
                &["train.batch_size"],
            ),
            ("[grid]", "[train]\nepochs = 0\n[grid]", &["train.epochs"]),
            (
                "[grid]",
                "[train]\noptimizer = \"rmsprop\"\n[grid]",
                &["rmsprop"],
            ),
            (
                "[grid]",
                "[train]\nweight_decay = -0.1\n[grid]",
                &["train.weight_decay"],
            ),
            ("[grid]", "[train]\nlr = 0.1\nlr2 = 3\n[grid]", &["lr2"]),
            ("name = \"t\"", "name = t", &["exp.toml", "line 2"]),
        ];
        for (from, to, needles) in cases {
            assert!(BASE.contains(from), "case edits missing text {from:?}");
            let err = parse(&BASE.replacen(from, to, 1))
                .expect_err(to)
                .to_string();
            assert!(!err.contains('\n'), "error is one line: {err}");
            assert!(err.starts_with("exp.toml"), "error names the file: {err}");
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
    }
}
