//! Does a contrast's sign depend on another switch? For each switch the claim holds fixed on both
//! sides (the asker's input dropout 0.2 in claim D) or leaves free across its pairs (dropout in claim
//! B), the claim is judged again within each of the switch's values (both sides set to it), and the
//! strata are compared per size.

use ablate_spec::{Claim, Expect, Switch, Value};

use crate::contrast::{ClaimResult, judge_claim};
use crate::error::ReportError;
use crate::results::Results;
use crate::stats::Interval;

/// One switch's strata for a claim.
#[derive(Debug, Clone)]
pub struct Strata {
    pub switch: Switch,
    /// The value the claim itself uses, when it fixes one.
    pub declared: Option<Value>,
    /// Per value: per size, the paired difference with its 95% interval.
    pub by_value: Vec<(Value, Vec<(u64, Interval)>)>,
    /// Sizes where two strata's intervals exclude 0 on opposite sides: the sign depends on the switch.
    pub flips: Vec<u64>,
    /// Sizes where one stratum's interval excludes 0 and another's mean lies on the other side,
    /// without a second significant stratum (a lean, not a finding).
    pub leans: Vec<u64>,
}

/// The strata of every switch along which `claim` can be split (at least two values with pairs).
pub fn strata(results: &Results, claim: &Claim) -> Result<Vec<Strata>, ReportError> {
    // A tuned comparison chooses each side over every switch; split by one, it would need a choice
    // per stratum, which is another claim.
    if claim.expect == Expect::Identical || claim.compare == ablate_spec::Compare::Tuned {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for switch in Switch::all() {
        let (a, b) = (claim.a.get(switch), claim.b.get(switch));
        let declared = match (a, b) {
            (Some(x), Some(y)) if x == y => Some(x),
            (None, None) => None,
            // The claim is about this switch (a and b differ in it): not a stratum.
            _ => continue,
        };
        let mut values: Vec<Value> = Vec::new();
        for v in &results.variants {
            if let Some(x) = v.set_value(switch)
                && !values.contains(&x)
            {
                values.push(x);
            }
        }
        if values.len() < 2 {
            continue;
        }
        let mut by_value: Vec<(Value, Vec<(u64, Interval)>)> = Vec::new();
        for value in values {
            let within = Claim {
                a: claim.a.clone().with(switch, value),
                b: claim.b.clone().with(switch, value),
                ..claim.clone()
            };
            if within.pairs(&results.variants).is_empty() {
                continue;
            }
            let judged: ClaimResult = judge_claim(results, &within)?;
            by_value.push((
                value,
                judged
                    .rows
                    .iter()
                    .map(|r| (r.train_per_class, r.diff))
                    .collect(),
            ));
        }
        if by_value.len() < 2 {
            continue;
        }
        let mut sizes: Vec<u64> = by_value
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|(s, _)| *s))
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let (mut flips, mut leans) = (Vec::new(), Vec::new());
        for size in sizes {
            let at: Vec<&Interval> = by_value
                .iter()
                .filter_map(|(_, rows)| rows.iter().find(|(s, _)| *s == size).map(|(_, i)| i))
                .collect();
            let above = at.iter().any(|i| i.lo() > 0.0);
            let below = at.iter().any(|i| i.hi() < 0.0);
            if above && below {
                flips.push(size);
            } else if (above && at.iter().any(|i| i.mean < 0.0))
                || (below && at.iter().any(|i| i.mean > 0.0))
            {
                leans.push(size);
            }
        }
        found.push(Strata {
            switch,
            declared,
            by_value,
            flips,
            leans,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contrast::tests::diffs;
    use crate::testing::{self, Cell};
    use ablate_spec::{Metric, Selector};

    /// ReLU on vs off helps with dropout and hurts without it: the contrast's sign depends on
    /// dropout, and splitting by the last-layer bias (which changes nothing) shows no flip.
    #[test]
    fn a_sign_that_depends_on_another_switch_is_found() {
        let experiment = testing::experiment(
            r#"
name = "strata"
claims = []
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp"]
relu = [true, false]
dropout = [0.0, 0.5]
last_bias = [true, false]
train_per_class = [10]
seeds = [0, 1, 2, 3, 4]
"#,
        );
        let up = diffs(0.02, 0.003);
        let results = testing::results(experiment, None, |v, _, seed| {
            let sign = if v.dropout() > 0.0 { 1.0 } else { -1.0 };
            let d = if v.is_on(Switch::Relu) {
                sign * up[seed as usize]
            } else {
                0.0
            };
            Cell::acc(1.0, 0.7 + d, 0.7 + d)
        });
        let claim = Claim::contrast(
            "R",
            "",
            Metric::ValAcc,
            Selector::default().flag(Switch::Relu, true),
            Selector::default().flag(Switch::Relu, false),
            Expect::Higher,
        );
        let found = strata(&results, &claim).unwrap();
        let dropout = found.iter().find(|s| s.switch == Switch::Dropout).unwrap();
        assert_eq!(dropout.flips, [10]);
        assert_eq!(dropout.declared, None);
        let last = found.iter().find(|s| s.switch == Switch::LastBias).unwrap();
        assert!(last.flips.is_empty() && last.leans.is_empty());
        assert!(found.iter().all(|s| s.switch != Switch::Relu));
    }
}
