//! The forum thread's claims, judged by default when an experiment declares no `[[claims]]`: a user
//! who runs the grid on their own data came for exactly these verdicts. A claim the grid cannot
//! measure is listed with what to add to the grid.

use serde::{Deserialize, Serialize};

use crate::claim::{Claim, Compare, Expect, Metric, Selector};
use crate::grid::GridSpec;
use crate::heads::HeadKind;
use crate::switch::{Switch, Value};
use crate::variant::HeadVariant;

/// A default claim the grid lacks the variants for, and what to add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmeasured {
    pub id: String,
    pub says: String,
    /// E.g. "add `false` to `grid.relu`; add \"linear\" to `grid.head`".
    pub add: String,
}

/// The thread's claim the report's answer spells out per size (the two heads, each tuned on val,
/// compared on test): its question.
pub const ANSWER_CLAIM: &str = "D";

/// The thread's claims in their general form (both heads tuned where the thread compares them).
pub fn thread_claims() -> Vec<Claim> {
    let mlp = || Selector::head(HeadKind::MLP);
    let linear = || Selector::head(HeadKind::LINEAR);
    let bias = |relu: bool, on: bool| {
        mlp()
            .flag(Switch::BiasBeforeBn, on)
            .flag(Switch::Relu, relu)
    };
    let tuned = |claim: Claim| Claim {
        compare: Compare::Tuned,
        ..claim
    };
    vec![
        Claim::contrast(
            "A",
            "A bias in the Linear right before BatchNorm is useless: BN subtracts the batch mean, which cancels it.",
            Metric::TrainLoss,
            bias(false, true),
            bias(false, false),
            Expect::Identical,
        ),
        Claim::contrast(
            "B",
            "With a ReLU between the Linear and BatchNorm the bias is no longer redundant: turning it off hurts.",
            Metric::TestAcc,
            bias(true, true),
            bias(true, false),
            Expect::Higher,
        ),
        tuned(Claim::contrast(
            "C",
            "model2 (a single Linear) fits the training set worse than model1, each tuned on val.",
            Metric::TrainAcc,
            linear(),
            mlp(),
            Expect::Lower,
        )),
        tuned(Claim::contrast(
            "D",
            "model2 is naturally regularized and can reach better accuracy than model1, each tuned on val, judged on test.",
            Metric::TestAcc,
            linear(),
            mlp(),
            Expect::Higher,
        )),
        Claim::contrast(
            "E",
            "model2 has far fewer parameters than model1.",
            Metric::Params,
            linear(),
            mlp(),
            Expect::Lower,
        ),
    ]
}

/// Contrasts the report shows for context beside the claims (not claims of the thread): every
/// dropout rate p > 0 of the mlp variants against no dropout, on `metric` (test accuracy, or val
/// without a test split). None when the grid has no dropout-free mlp.
pub fn context_claims(variants: &[HeadVariant], metric: Metric) -> Vec<Claim> {
    let mut rates: Vec<f64> = variants
        .iter()
        .filter(|v| v.kind() == HeadKind::MLP)
        .map(|v| v.dropout())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    if !rates.contains(&0.0) {
        return Vec::new();
    }
    let mlp_with = |rate| Selector::head(HeadKind::MLP).number(Switch::Dropout, rate);
    rates
        .iter()
        .filter(|p| **p > 0.0)
        .map(|p| {
            Claim::contrast(
                format!("dropout{p}"),
                format!("dropout {p} instead of none (not a claim of the thread)"),
                metric,
                mlp_with(*p),
                mlp_with(0.0),
                Expect::Higher,
            )
        })
        .collect()
}

/// Splits `claims` into those the grid can measure and those it cannot, with what to add.
pub fn measurable(claims: Vec<Claim>, grid: &GridSpec) -> (Vec<Claim>, Vec<Unmeasured>) {
    let variants = grid.head_variants();
    let mut kept = Vec::new();
    let mut missing = Vec::new();
    for claim in claims {
        if !claim.pairs(&variants).is_empty() {
            kept.push(claim);
            continue;
        }
        let mut add: Vec<String> = Vec::new();
        for selector in [&claim.a, &claim.b] {
            for hint in additions(selector, grid) {
                if !add.contains(&hint) {
                    add.push(hint);
                }
            }
        }
        if add.is_empty() {
            add.push("variants that differ only in what the claim names".into());
        }
        missing.push(Unmeasured {
            id: claim.id.clone(),
            says: claim.says.clone(),
            add: add.join("; "),
        });
    }
    (kept, missing)
}

/// What the grid needs so that `selector` matches a variant.
fn additions(selector: &Selector, grid: &GridSpec) -> Vec<String> {
    let mut add = Vec::new();
    let heads: Vec<HeadKind> = match selector.head {
        Some(h) => vec![h],
        None => HeadKind::all().collect(),
    };
    if let Some(h) = selector.head
        && !grid.heads().contains(&h)
    {
        add.push(format!("add \"{h}\" to `grid.head`"));
    }
    for switch in Switch::all() {
        let Some(want) = selector.get(switch) else {
            continue;
        };
        let has = heads
            .iter()
            .any(|&h| switch.spec().has(h) && grid.values(switch, h).contains(&want));
        if !has {
            let shown = match want {
                Value::Word(w) => format!("\"{w}\""),
                other => other.to_string(),
            };
            add.push(format!("add {shown} to `grid.{}`", switch.key()));
        }
    }
    add
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Experiment;

    fn grid(axes: &str) -> GridSpec {
        let text = format!(
            "name = \"t\"\n[data]\nkind = \"features\"\npath = \"f.safetensors\"\n[grid]\n{axes}\ntrain_per_class = [10]\n"
        );
        Experiment::from_toml_str(&text, "t.toml".as_ref())
            .unwrap()
            .config
            .grid
    }

    /// Each grid, the default claims it can measure, and what the others need.
    #[test]
    fn a_grid_measures_what_it_has_and_says_what_to_add() {
        /// (grid axes, claims it measures, (claim, what to add) for some it does not).
        type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            (
                "head = [\"mlp\", \"linear\"]\nbias_before_bn = [true, false]\nrelu = [true, false]",
                &["A", "B", "C", "D", "E"],
                &[],
            ),
            (
                "head = [\"mlp\", \"linear\"]",
                &["C", "D", "E"],
                &[
                    (
                        "A",
                        "add false to `grid.relu`; add false to `grid.bias_before_bn`",
                    ),
                    ("B", "add false to `grid.bias_before_bn`"),
                ],
            ),
            (
                "head = [\"mlp\"]\nbias_before_bn = [true, false]",
                &["B"],
                &[
                    ("A", "add false to `grid.relu`"),
                    ("C", "add \"linear\" to `grid.head`"),
                ],
            ),
        ];
        for (axes, kept_ids, missing_ids) in cases {
            let (kept, missing) = measurable(thread_claims(), &grid(axes));
            let ids: Vec<&str> = kept.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, *kept_ids, "{axes}");
            for (id, add) in *missing_ids {
                let m = missing.iter().find(|m| m.id == *id).unwrap();
                assert_eq!(m.add, *add, "{axes}: {id}");
            }
        }
    }
}
