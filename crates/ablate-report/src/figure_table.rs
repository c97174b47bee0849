//! The report's figures as one table: each row names the file stem, the alt text the Markdown shows
//! and how the figure is built from the analysis. The writer renders the rows in order, the
//! Markdown reads its stems and alt texts from the same rows, and the tests walk the table: adding
//! a figure is one builder in `figures.rs` plus one row here.

use std::path::Path;

use ablate_spec::HeadVariant;

use crate::analysis::Analysis;
use crate::error::ReportError;
use crate::figures;
use crate::plots::{DotFigure, LineFigure, render};
use crate::results::Results;

/// What every figure is built from: the analysis and the choices of what to show.
pub struct Inputs<'a> {
    pub results: &'a Results,
    pub analysis: &'a Analysis,
    /// `[report] highlight`: (label, variant) drawn beside the tuned heads.
    pub highlights: Vec<(String, HeadVariant)>,
    /// The main grid's variants and the tuned ones: figures that draw one mark per variant show
    /// these (the budget blocks add dozens of variants nobody can tell apart in a legend; all are
    /// in variants.csv).
    pub shown: Vec<HeadVariant>,
    /// The main grid's variants.
    pub main: Vec<HeadVariant>,
}

impl<'a> Inputs<'a> {
    pub fn of(results: &'a Results, analysis: &'a Analysis) -> Self {
        let order = &results.variants;
        let highlights: Vec<(String, HeadVariant)> = results
            .experiment
            .report
            .highlight
            .iter()
            .filter_map(|h| {
                let v = order.iter().find(|v| h.variant.matches(v))?;
                Some((h.label.clone(), *v))
            })
            .collect();
        let main = results.experiment.config.grid.main().head_variants();
        let chosen: Vec<&str> = analysis
            .tuned
            .iter()
            .map(|t| t.row.variant.as_str())
            .collect();
        let shown: Vec<HeadVariant> = order
            .iter()
            .copied()
            .filter(|v| main.contains(v) || chosen.contains(&v.name().as_str()))
            .collect();
        Inputs {
            results,
            analysis,
            highlights,
            shown,
            main,
        }
    }
}

/// A built figure, ready to render.
pub enum Drawing {
    Lines(LineFigure),
    Dots(DotFigure),
    Heat(crate::heatmap::HeatFigure),
}

impl Drawing {
    fn render(&self, dir: &Path, stem: &str) -> Result<(), ReportError> {
        match self {
            Drawing::Lines(f) => render(dir, stem, f),
            Drawing::Dots(f) => render(dir, stem, f),
            Drawing::Heat(f) => render(dir, stem, f),
        }
    }
}

/// One row of the table.
pub struct FigureSpec {
    /// `<stem>.png` and `<stem>.svg`.
    pub stem: &'static str,
    /// What the figure shows, for the Markdown's alt text.
    pub alt: &'static str,
    /// `None` when the results have nothing for it (no BatchNorm ratio, say): no file is written.
    pub build: fn(&Inputs) -> Result<Option<Drawing>, ReportError>,
}

pub const HEAD_DIFFERENCE: FigureSpec = FigureSpec {
    stem: "head_difference",
    alt: "the answer's difference between the two heads per training size, with the interval its verdict read, the zero line and the margin",
    build: |i| Ok(figures::head_difference(i.results, &i.analysis.claims).map(Drawing::Lines)),
};

pub const ACCURACY_BY_SIZE: FigureSpec = FigureSpec {
    stem: "accuracy_by_size",
    alt: "accuracy vs training-set size of the two heads tuned on val, and the highlighted variants",
    build: |i| {
        let a = i.analysis;
        Ok(Some(Drawing::Lines(figures::accuracy_by_size(
            &a.rows,
            &a.tuned,
            &i.highlights,
            a.has_test,
        ))))
    },
};

pub const VAL_ACC_BY_EPOCH: FigureSpec = FigureSpec {
    stem: "val_acc_by_epoch",
    alt: "validation accuracy per epoch, mean and 95% band",
    build: |i| {
        figures::val_acc_by_epoch(i.results, &i.analysis.tuned, &i.highlights)
            .map(|f| Some(Drawing::Lines(f)))
    },
};

pub const FINAL_ACCURACY: FigureSpec = FigureSpec {
    stem: "final_accuracy",
    alt: "final accuracy (test, or val without a test split) with 95% CI and training accuracy per shown variant",
    build: |i| {
        let a = i.analysis;
        Ok(Some(Drawing::Dots(figures::final_accuracy(
            &a.rows,
            &i.shown,
            &a.sizes,
            i.results.variants.len(),
            a.has_test,
        ))))
    },
};

pub const VAL_ACC_BY_SIZE: FigureSpec = FigureSpec {
    stem: "val_acc_by_size",
    alt: "every variant's validation accuracy vs training-set size, one panel per head family",
    build: |i| {
        let tuned: Vec<String> = i
            .analysis
            .tuned
            .iter()
            .map(|t| t.row.variant.clone())
            .collect();
        Ok(Some(Drawing::Lines(figures::val_acc_by_size(
            &i.analysis.rows,
            &i.results.variants,
            &tuned,
        ))))
    },
};

pub const BIAS_GRAD_BY_EPOCH: FigureSpec = FigureSpec {
    stem: "bias_grad_by_epoch",
    alt: "gradient of the bias before BN per epoch",
    build: |i| figures::bias_grad_by_epoch(i.results, &i.main).map(|f| Some(Drawing::Lines(f))),
};

pub const VARIANCE_SHIFT: FigureSpec = FigureSpec {
    stem: "variance_shift",
    alt: "BN variance ratio and accuracy per mlp variant",
    build: |i| {
        let a = i.analysis;
        Ok(figures::variance_shift(&a.rows, &i.shown, &a.sizes, a.has_test).map(Drawing::Dots))
    },
};

pub const ACCURACY_BY_AXIS: FigureSpec = FigureSpec {
    stem: "accuracy_by_axis",
    alt: "validation accuracy against each tuned setting (learning rate, epochs, L2), the others at the tuned choice, in pp below the choice: a choice at a line's end is at the grid's edge",
    build: |i| {
        let a = i.analysis;
        Ok(figures::accuracy_by_axis(i.results, &a.rows, &a.tuned).map(Drawing::Lines))
    },
};

pub const LOSS_BY_EPOCH: FigureSpec = FigureSpec {
    stem: "loss_by_epoch",
    alt: "training and validation loss per epoch of the heads tuned at each size",
    build: |i| Ok(figures::loss_by_epoch(i.results, &i.analysis.tuned)?.map(Drawing::Lines)),
};

pub const CONFUSION: FigureSpec = FigureSpec {
    stem: "confusion",
    alt: "confusion matrices of the heads tuned at each size on test: rows the true class, columns the predicted one, each row's share of its images",
    build: |i| {
        Ok(figures::confusion(&i.analysis.confusions, i.results.class_names()).map(Drawing::Heat))
    },
};

/// Every figure, in the order they are written.
pub const FIGURES: [FigureSpec; 10] = [
    HEAD_DIFFERENCE,
    ACCURACY_BY_SIZE,
    ACCURACY_BY_AXIS,
    VAL_ACC_BY_EPOCH,
    LOSS_BY_EPOCH,
    FINAL_ACCURACY,
    VAL_ACC_BY_SIZE,
    BIAS_GRAD_BY_EPOCH,
    VARIANCE_SHIFT,
    CONFUSION,
];

/// Renders every figure that has something to show into `out`, removes the files of those that do
/// not (left by an earlier report), and returns the stems drawn.
pub fn write_figures(out: &Path, inputs: &Inputs) -> Result<Vec<&'static str>, ReportError> {
    let mut drawn = Vec::new();
    for spec in &FIGURES {
        match (spec.build)(inputs)? {
            Some(drawing) => {
                drawing.render(out, spec.stem)?;
                drawn.push(spec.stem);
            }
            None => {
                for ext in ["png", "svg"] {
                    let path = out.join(format!("{}.{ext}", spec.stem));
                    match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(ReportError::Io { path, source: e });
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyse;
    use crate::markdown::{Context, render as render_markdown};
    use crate::testing::{self, Cell};

    /// The table is what the writer draws and what the Markdown shows: every row is built from
    /// constructed results, the files of the drawn rows exist (and of the rest do not), and the
    /// Markdown shows exactly the drawn figures, with the table's alt text.
    #[test]
    fn the_writer_and_the_markdown_follow_the_table() {
        let stems: Vec<&str> = FIGURES.iter().map(|f| f.stem).collect();
        let mut unique = stems.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), stems.len(), "stems name files: unique");

        let experiment = testing::experiment(
            r#"
name = "figures"
[data]
kind = "features"
path = "f.safetensors"
[train]
epochs = 3
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
train_per_class = [10, 20]
seeds = [0, 1, 2]
"#,
        );
        let results = testing::results(experiment, None, |v, size, seed| {
            let acc = 0.6 + 0.01 * seed as f64 + 0.001 * size as f64;
            let mut cell = Cell::acc(0.9, acc, acc);
            cell.bias_grad = v.is_on(ablate_spec::Switch::BiasBeforeBn).then_some(1e-9);
            cell
        });
        let analysis = analyse(&results).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // A stale figure of an earlier report: removed when its row has nothing to show.
        std::fs::write(dir.path().join("variance_shift.png"), "old").unwrap();
        let drawn = write_figures(dir.path(), &Inputs::of(&results, &analysis)).unwrap();
        assert!(!drawn.is_empty());
        for spec in &FIGURES {
            let on_disk = dir.path().join(format!("{}.png", spec.stem)).is_file();
            assert_eq!(on_disk, drawn.contains(&spec.stem), "{}", spec.stem);
        }
        let context = Context {
            machines: None,
            figures: drawn.clone(),
        };
        let md = render_markdown(&results, &analysis, &context).unwrap();
        for spec in &FIGURES {
            let shown = md.contains(&format!("![{}]({}.png)", spec.alt, spec.stem));
            assert_eq!(shown, drawn.contains(&spec.stem), "{}", spec.stem);
        }
    }

    /// The texts of an SVG with their positions: `(x, y, text)`.
    fn svg_texts(svg: &str) -> Vec<(f64, f64, String)> {
        let attr = |tag: &str, key: &str| -> Option<f64> {
            let at = tag.find(&format!(" {key}=\""))? + key.len() + 3;
            tag[at..].split('"').next()?.parse().ok()
        };
        svg.split("<text")
            .skip(1)
            .filter_map(|chunk| {
                let (tag, rest) = chunk.split_once('>')?;
                let text = rest.split("</text>").next()?;
                Some((attr(tag, "x")?, attr(tag, "y")?, text.to_string()))
            })
            .collect()
    }

    /// Numeric labels in one row (same y: x ticks) or one column (same x: y ticks), in reading
    /// order, where two neighbours less than 100 px apart read the same: an axis whose ticks say
    /// "2 2 3 3" (the same tick of two panels side by side is further apart).
    fn repeated_ticks(texts: &[(f64, f64, String)]) -> Vec<String> {
        let numbers: Vec<&(f64, f64, String)> = texts
            .iter()
            .filter(|t| t.2.trim().parse::<f64>().is_ok())
            .collect();
        let mut repeated = Vec::new();
        for by_row in [true, false] {
            let key = |t: &(f64, f64, String)| if by_row { t.1 } else { t.0 };
            let along = |t: &(f64, f64, String)| if by_row { t.0 } else { t.1 };
            let mut lines: Vec<f64> = numbers.iter().map(|t| key(t)).collect();
            lines.sort_by(f64::total_cmp);
            lines.dedup();
            for line in lines {
                let mut on: Vec<&&(f64, f64, String)> =
                    numbers.iter().filter(|t| key(t) == line).collect();
                on.sort_by(|a, b| along(a).total_cmp(&along(b)));
                for pair in on.windows(2) {
                    if pair[0].2 == pair[1].2 && along(pair[1]) - along(pair[0]) < 100.0 {
                        repeated.push(pair[0].2.clone());
                    }
                }
            }
        }
        repeated
    }

    /// What a reader needs of every figure, checked in code on constructed results with many
    /// variants, near-100% accuracies and a short epoch axis: no figure is wider than the page
    /// shows it; no two legend entries look alike and at most [`MAX_STYLES`] are in colour; an
    /// accuracy axis and its values stay within [0, 100]% (the constructed bands pass 100%); no
    /// axis repeats a tick label.
    #[test]
    fn every_figure_can_be_read() {
        use crate::plots::{Figure, MAX_STYLES, PAGE_WIDTH};
        let experiment = testing::experiment(
            r#"
name = "readable"
[data]
kind = "features"
path = "f.safetensors"
[train]
epochs = 3
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0, 0.25, 0.5]
input_dropout = [0, 0.2]
weight_decay = [0, 0.0001, 0.001, 0.01, 0.1]
train_per_class = [5, 25, 100]
seeds = [0, 1, 2]
[[report.highlight]]
label = "model1 as the asker trained it"
variant = { head = "mlp", bias_before_bn = true, relu = true, dropout = 0.5, input_dropout = 0.2, weight_decay = 0 }
"#,
        );
        let results = testing::results(experiment, None, |v, size, seed| {
            // Near the ceiling, with a seed spread wide enough that a normal band passes 100%.
            let salt = v.name().len() as u64;
            let acc = (0.985 + 0.012 * testing::wobble(seed, size, salt)).min(1.0);
            let mut cell = Cell::acc(1.0, acc, acc);
            cell.bias_grad = v.is_on(ablate_spec::Switch::BiasBeforeBn).then_some(1e-9);
            cell
        });
        let analysis = analyse(&results).unwrap();
        let inputs = Inputs::of(&results, &analysis);
        let mut checked = 0;
        for spec in &FIGURES {
            let Some(drawing) = (spec.build)(&inputs).unwrap() else {
                continue;
            };
            let stem = spec.stem;
            let (width, svg) = match &drawing {
                Drawing::Lines(f) => {
                    assert_eq!(
                        f.ambiguous_entries(),
                        Vec::<String>::new(),
                        "{stem}: entries alike"
                    );
                    let coloured = f
                        .legend_entries()
                        .iter()
                        .filter(|(_, l)| {
                            let plotters::style::RGBColor(r, g, b) = l.color;
                            !(r == g && g == b)
                        })
                        .count();
                    assert!(coloured <= MAX_STYLES, "{stem}: {coloured} colours");
                    let title = crate::plots::text_width(&f.title, crate::plots::TITLE_FONT);
                    assert!(title + 20 <= f.size().0, "{stem}: the title is cut");
                    // Each panel's title fits its share of the width, so neighbours never meet.
                    let share = f.size().0 / f.panels.len() as u32;
                    for p in &f.panels {
                        let w = crate::plots::text_width(&p.title, crate::plots::PANEL_TITLE_FONT);
                        assert!(
                            w + 20 <= share,
                            "{stem}: panel title {:?} is {w} px, its panel {share}",
                            p.title
                        );
                    }
                    (f.size().0, svg_of(f))
                }
                Drawing::Dots(f) => (f.size().0, svg_of(f)),
                Drawing::Heat(f) => {
                    // Every cell a share of its row; every panel's title within its panel.
                    for m in &f.matrices {
                        for row in &m.shares {
                            let total: f64 = row.iter().sum();
                            assert!((total - 1.0).abs() < 1e-9, "{stem}: a row sums to {total}");
                        }
                        let w = crate::plots::text_width(&m.title, crate::plots::PANEL_TITLE_FONT);
                        let share = f.size().0 / f.columns.max(1) as u32;
                        assert!(
                            w + 20 <= share,
                            "{stem}: {:?} is {w} px, its panel {share}",
                            m.title
                        );
                    }
                    (f.size().0, svg_of(f))
                }
            };
            assert!(width <= PAGE_WIDTH, "{stem}: {width} px wide");
            let texts = svg_texts(&svg);
            assert!(!texts.is_empty(), "{stem}: no text parsed");
            // A heat map repeats its class names and shares by design: it has no ticks.
            if !matches!(drawing, Drawing::Heat(_)) {
                assert_eq!(
                    repeated_ticks(&texts),
                    Vec::<String>::new(),
                    "{stem}: ticks repeat"
                );
            }
            if let Drawing::Lines(f) = &drawing {
                // A bounded accuracy axis, and every value drawn on it, within [0, 1].
                for (panel, (y0, y1)) in f.panels.iter().zip(f.y_ranges()) {
                    let bounded = panel.own_y.as_ref().map_or(f.bounded_y, |(_, b)| *b);
                    if bounded {
                        assert!(y0 >= 0.0 && y1 <= 1.0, "{stem}: y axis {y0}..{y1}");
                        for c in &panel.curves {
                            for p in &c.points {
                                assert!((0.0..=1.0).contains(&p.1), "{stem}: {}", c.label);
                            }
                        }
                    }
                }
            }
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} figures drawn");
    }

    fn svg_of(figure: &impl crate::plots::Figure) -> String {
        crate::plots::render_svg(figure).unwrap()
    }
}
