//! Tuning budgets (Dodge et al. 2019, "Show your work: expected validation performance"): how good
//! a head's val-chosen setting is expected to be when only k of its N settings are tried. A head
//! with more candidates gets more chances at a lucky validation score; comparing two heads at an
//! equal budget takes that advantage away.

/// One candidate setting: its mean validation accuracy (what chooses) and its mean test accuracy
/// (what the choice scores).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub val: f64,
    pub test: f64,
}

/// For k = 1..=N: the expected test accuracy of the candidate best on val among k drawn at random
/// (with replacement, as Dodge et al.) from `candidates`. With the candidates ordered by val,
/// the i-th (1-based) is the best of k draws with probability (i/N)^k − ((i−1)/N)^k. Exact ties
/// of val means keep the order given (they are rare with means over seeds).
pub fn expected_best(candidates: &[Candidate]) -> Vec<f64> {
    let n = candidates.len();
    let mut sorted = candidates.to_vec();
    // Stable: equal val keeps the given order.
    sorted.sort_by(|a, b| a.val.total_cmp(&b.val));
    (1..=n)
        .map(|k| {
            sorted
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let p = (((i + 1) as f64) / n as f64).powi(k as i32)
                        - ((i as f64) / n as f64).powi(k as i32);
                    p * c.test
                })
                .sum()
        })
        .collect()
}

/// The budgets a table shows: 1, 2, 5, 10, 20, 50, ... up to and including `most`, and `equal`
/// (the smaller head's N) wherever it falls.
pub fn shown_budgets(most: usize, equal: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = [1, 2, 5, 10, 20, 50, 100, 200, 500]
        .into_iter()
        .filter(|k| *k < most)
        .collect();
    ks.push(most);
    if equal <= most {
        ks.push(equal);
    }
    ks.sort_unstable();
    ks.dedup();
    ks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(val: f64, test: f64) -> Candidate {
        Candidate { val, test }
    }

    /// One try is the average setting; all N tries (with replacement, so not quite certain of the
    /// best) approach the val-best one's test score; the curve never falls.
    #[test]
    fn expected_best_of_k_by_hand() {
        let cands = [c(0.70, 0.60), c(0.80, 0.90), c(0.75, 0.65)];
        let e = expected_best(&cands);
        assert!((e[0] - (0.60 + 0.65 + 0.90) / 3.0).abs() < 1e-12, "{e:?}");
        // k = 2: P(best is the 0.80 one) = 1 - (2/3)^2 = 5/9; the 0.75 one (2/3)^2 - (1/3)^2 = 3/9;
        // the 0.70 one 1/9.
        let two = 5.0 / 9.0 * 0.90 + 3.0 / 9.0 * 0.65 + 1.0 / 9.0 * 0.60;
        assert!((e[1] - two).abs() < 1e-12, "{e:?}");
        assert!(e.windows(2).all(|w| w[1] >= w[0]));
        let many = expected_best(&[c(0.7, 0.6), c(0.8, 0.9)]);
        assert!((many[1] - (0.75 * 0.9 + 0.25 * 0.6)).abs() < 1e-12);
    }

    /// A val ranking that misleads (the val-best setting tests worst) makes more tries worse.
    #[test]
    fn a_misleading_val_makes_more_tries_worse() {
        let e = expected_best(&[c(0.9, 0.5), c(0.6, 0.8), c(0.5, 0.8)]);
        assert!(e[2] < e[0], "{e:?}");
    }

    #[test]
    fn budgets_shown() {
        assert_eq!(shown_budgets(73, 26), [1, 2, 5, 10, 20, 26, 50, 73]);
        assert_eq!(shown_budgets(26, 26), [1, 2, 5, 10, 20, 26]);
        assert_eq!(shown_budgets(1, 1), [1]);
    }
}
