//! Per-class accuracy and confusion matrices of the tuned heads on the test split, from the
//! per-image predictions: which classes a head confuses, summed over its seeds.

use ablate_results::columns::runs as rc;
use polars::prelude::*;

use crate::choose::Tuned;
use crate::error::ReportError;
use crate::frame::strings;
use crate::results::Results;

/// One tuned head at one size: `counts[true][predicted]`, summed over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub train_per_class: u64,
    pub head: String,
    pub variant: String,
    pub seeds: usize,
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// Share of class `c`'s test images predicted as `c`.
    pub fn accuracy(&self, c: usize) -> f64 {
        let total: u64 = self.counts[c].iter().sum();
        self.counts[c][c] as f64 / total.max(1) as f64
    }

    /// The class `c` is most often mistaken for, with the share of `c`'s images that went there.
    pub fn worst_confusion(&self, c: usize) -> Option<(usize, f64)> {
        let total: u64 = self.counts[c].iter().sum();
        self.counts[c]
            .iter()
            .enumerate()
            .filter(|(p, n)| *p != c && **n > 0)
            // Ties to the lower class index: the first maximum.
            .fold(None, |best: Option<(usize, u64)>, (p, &n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((p, n)),
            })
            .map(|(p, n)| (p, n as f64 / total.max(1) as f64))
    }
}

/// The confusion matrix of every tuned head (same order as `tuned`); empty without recorded
/// predictions.
pub fn confusions(results: &Results, tuned: &[Tuned]) -> Result<Vec<Confusion>, ReportError> {
    let Some(test) = &results.test else {
        return Ok(Vec::new());
    };
    let classes = test.labels.iter().max().map_or(0, |&m| m as usize + 1);
    let classes = classes.max(results.class_names().len());
    let mut out = Vec::new();
    for t in tuned {
        let cells = results
            .runs
            .clone()
            .lazy()
            .filter(
                col(rc::VARIANT)
                    .eq(lit(t.row.variant.clone()))
                    .and(col(rc::TRAIN_PER_CLASS).eq(lit(t.row.train_per_class))),
            )
            .select([col(rc::CELL_ID)])
            .collect()
            .map_err(ReportError::table("finding the tuned cells"))?;
        let mut counts = vec![vec![0u64; classes]; classes];
        let mut seeds = 0;
        for id in strings(&cells, rc::CELL_ID)? {
            let Some(predicted) = test.by_cell.get(&id) else {
                continue;
            };
            seeds += 1;
            for (&p, &l) in predicted.iter().zip(&test.labels) {
                if let Some(row) = counts.get_mut(l as usize)
                    && let Some(n) = row.get_mut(p as usize)
                {
                    *n += 1;
                }
            }
        }
        if seeds > 0 {
            out.push(Confusion {
                train_per_class: t.row.train_per_class,
                head: t.label(),
                variant: t.row.variant.clone(),
                seeds,
                counts,
            });
        }
    }
    Ok(out)
}

/// Long form for `confusion.csv`: one row per tuned head, size, true and predicted class.
pub fn confusion_frame(confusions: &[Confusion], names: &[String]) -> PolarsResult<DataFrame> {
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let mut rows: Vec<(u64, String, String, String, String, u64)> = Vec::new();
    for m in confusions {
        for (t, row) in m.counts.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                rows.push((
                    m.train_per_class,
                    m.head.clone(),
                    m.variant.clone(),
                    name(t),
                    name(p),
                    n,
                ));
            }
        }
    }
    df!(
        rc::TRAIN_PER_CLASS => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        rc::HEAD => rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        rc::VARIANT => rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        "true_class" => rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
        "predicted_class" => rows.iter().map(|r| r.4.clone()).collect::<Vec<_>>(),
        "count" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_and_worst_confusion_per_class() {
        let m = Confusion {
            train_per_class: 10,
            head: "mlp".into(),
            variant: "v".into(),
            seeds: 1,
            counts: vec![vec![8, 2, 0], vec![3, 3, 4], vec![0, 0, 0]],
        };
        assert_eq!(m.accuracy(0), 0.8);
        assert_eq!(m.worst_confusion(0), Some((1, 0.2)));
        assert_eq!(m.worst_confusion(1), Some((2, 0.4)));
        assert_eq!(m.accuracy(2), 0.0);
        assert_eq!(m.worst_confusion(2), None);
    }
}
