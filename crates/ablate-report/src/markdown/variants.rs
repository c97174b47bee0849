//! The per-variant table: every variant and size with its spread over seeds.

use std::fmt::Write as _;

use super::format::pct;
use crate::analysis::Analysis;

pub fn write(w: &mut String, analysis: &Analysis) {
    let rows = &analysis.rows;
    let _ = writeln!(w, "## Per-variant table\n");
    let _ = writeln!(
        w,
        "Mean and standard deviation over seeds with the 95% t interval; gap = train − val accuracy; \
         BN ratio = `bn_var_ratio` (mlp). Also in `variants.csv`.\n"
    );
    let _ = writeln!(
        w,
        "| per class | variant | cells | val acc | val sd | val 95% CI | test acc | test 95% CI | train acc | train sd | train 95% CI | gap | BN ratio | parameters |"
    );
    let _ = writeln!(
        w,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let (test, test_ci) = match &r.test {
            Some(t) => (pct(t.mean), format!("[{}, {}]", pct(t.lo()), pct(t.hi()))),
            None => ("—".into(), "—".into()),
        };
        let ratio = r
            .bn_var_ratio
            .as_ref()
            .map_or("—".to_string(), |i| format!("{:.3}", i.mean));
        let _ = writeln!(
            w,
            "| {} | `{}` | {} | {} | {:.2} pp | [{}, {}] | {test} | {test_ci} | {} | {:.2} pp | [{}, {}] | {:+.2} pp | {ratio} | {} |",
            r.train_per_class,
            r.variant,
            r.val.n,
            pct(r.val.mean),
            r.val.sd * 100.0,
            pct(r.val.lo()),
            pct(r.val.hi()),
            pct(r.train.mean),
            r.train.sd * 100.0,
            pct(r.train.lo()),
            pct(r.train.hi()),
            r.gap * 100.0,
            r.params
        );
    }
    let _ = writeln!(
        w,
        "\nFiles: `variants.csv`, `claims.csv`, `tuned.csv`, `contrast-<claim>.csv`, figures as PNG and SVG."
    );
}
