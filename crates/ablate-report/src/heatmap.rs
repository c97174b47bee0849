//! Confusion matrices as a figure: one panel per tuned head and size, rows the true class, columns
//! the predicted one, each cell the share of the row's test images (summed over seeds).

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plots::{Figure, PAGE_WIDTH, PANEL_TITLE_FONT, TITLE_FONT, text_width};

/// One matrix: its title and its row-normalised shares.
pub struct Matrix {
    pub title: String,
    pub shares: Vec<Vec<f64>>,
}

/// Matrices in rows of `columns`, sharing the class names.
pub struct HeatFigure {
    pub title: String,
    pub class_names: Vec<String>,
    pub matrices: Vec<Matrix>,
    pub columns: usize,
}

const CELL: u32 = 62;
const VALUE_FONT: u32 = 14;
const PAD: u32 = 30;

impl HeatFigure {
    fn classes(&self) -> u32 {
        self.class_names.len() as u32
    }

    /// The row labels' font: 13 px, smaller where the longest name would not fit its margin.
    fn label_font(&self) -> u32 {
        let widest = |size| {
            self.class_names
                .iter()
                .map(|n| text_width(n, size))
                .max()
                .unwrap_or(0)
        };
        (9..=13).rev().find(|&s| widest(s) <= CELL - 4).unwrap_or(9)
    }

    fn left_margin(&self) -> u32 {
        let size = self.label_font();
        self.class_names
            .iter()
            .map(|n| text_width(n, size))
            .max()
            .unwrap_or(0)
            + 10
    }

    fn panel_size(&self) -> (u32, u32) {
        let grid = CELL * self.classes();
        (
            self.left_margin() + grid + PAD,
            PANEL_TITLE_FONT + 8 + 2 * self.label_font() + 8 + grid + PAD,
        )
    }
}

/// White to navy.
fn shade(share: f64) -> RGBColor {
    let s = share.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * s).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}

impl Figure for HeatFigure {
    fn size(&self) -> (u32, u32) {
        let (pw, ph) = self.panel_size();
        let columns = self.columns.max(1) as u32;
        let rows = (self.matrices.len() as u32).div_ceil(columns);
        let width = (pw * columns)
            .max(text_width(&self.title, TITLE_FONT) + 80)
            .min(PAGE_WIDTH);
        (width, 45 + rows * ph + 10)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let root = root
            .titled(&self.title, ("sans-serif", TITLE_FONT).into_font())
            .map_err(err)?;
        let (pw, ph) = self.panel_size();
        let columns = self.columns.max(1);
        let label_font = self.label_font();
        let k = self.class_names.len();
        let left = self.left_margin() as i32;
        for (m, matrix) in self.matrices.iter().enumerate() {
            let x = ((m % columns) as u32 * pw) as i32;
            let y = ((m / columns) as u32 * ph) as i32;
            let title_style = ("sans-serif", PANEL_TITLE_FONT).into_font();
            root.draw(&Text::new(matrix.title.clone(), (x + left, y), title_style))
                .map_err(err)?;
            let top = y + (PANEL_TITLE_FONT + 8) as i32;
            let label = ("sans-serif", label_font).into_font();
            let grid_top = top + (2 * label_font + 8) as i32;
            for (c, name) in self.class_names.iter().enumerate() {
                let cx = x + left + (c as u32 * CELL) as i32;
                // Column names above, alternately raised so that neighbours never touch.
                let name_y = if c % 2 == 0 {
                    top
                } else {
                    top + label_font as i32 + 4
                };
                root.draw(&Text::new(name.clone(), (cx + 2, name_y), label.clone()))
                    .map_err(err)?;
                let cy = grid_top + (c as u32 * CELL) as i32;
                let w = text_width(name, label_font) as i32;
                root.draw(&Text::new(
                    name.clone(),
                    (
                        x + left - w - 6,
                        cy + (CELL / 2) as i32 - label_font as i32 / 2,
                    ),
                    label.clone(),
                ))
                .map_err(err)?;
            }
            for (r, row) in matrix.shares.iter().enumerate().take(k) {
                for (c, &share) in row.iter().enumerate().take(k) {
                    let x0 = x + left + (c as u32 * CELL) as i32;
                    let y0 = grid_top + (r as u32 * CELL) as i32;
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + CELL as i32 - 1, y0 + CELL as i32 - 1)],
                        shade(share).filled(),
                    ))
                    .map_err(err)?;
                    let text = format!("{:.1}%", 100.0 * share);
                    let colour = if share > 0.5 { WHITE } else { BLACK };
                    let tw = text_width(&text, VALUE_FONT) as i32;
                    root.draw(&Text::new(
                        text,
                        (
                            x0 + (CELL as i32 - tw) / 2,
                            y0 + (CELL as i32 - VALUE_FONT as i32) / 2,
                        ),
                        ("sans-serif", VALUE_FONT).into_font().color(&colour),
                    ))
                    .map_err(err)?;
                }
            }
        }
        Ok(())
    }
}
