//! The report's figures, drawn with plotters into PNG and SVG.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (plotters' `ab_glyph` font path), so a
//! fresh machine without fonts draws the same labels. Each figure is a value that can draw itself on
//! any plotters backend; [`render`] writes both files atomically.

use std::path::Path;
use std::sync::Once;

use ablate_results::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::ReportError;

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The embedded file is a valid TrueType font; a failure here would be a build defect.
            plotters::style::register_font("sans-serif", style, FONT)
                .unwrap_or_else(|_| panic!("embedded DejaVuSans.ttf is not a valid font"));
        }
    });
}

/// A figure that can draw itself on any backend.
pub trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

fn text_err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn render(dir: &Path, stem: &str, figure: &impl Figure) -> Result<(), ReportError> {
    register_font();
    let (w, h) = figure.size();
    let plot_err = |file: &str, message: String| ReportError::Plot {
        file: file.to_string(),
        message,
    };

    let png_name = format!("{stem}.png");
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        figure
            .draw(&root)
            .and_then(|()| root.present().map_err(text_err))
            .map_err(|m| plot_err(&png_name, m))?;
    }
    let image = image::RgbImage::from_raw(w, h, pixels)
        .ok_or_else(|| plot_err(&png_name, "pixel buffer of the wrong size".into()))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| plot_err(&png_name, e.to_string()))?;
    write_atomic(&dir.join(&png_name), png.get_ref())?;

    let svg_name = format!("{stem}.svg");
    let svg = render_svg(figure).map_err(|m| plot_err(&svg_name, m))?;
    write_atomic(&dir.join(&svg_name), svg.as_bytes())?;
    Ok(())
}

/// The figure as an SVG document.
pub fn render_svg(figure: &impl Figure) -> Result<String, String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        figure
            .draw(&root)
            .and_then(|()| root.present().map_err(text_err))?;
    }
    Ok(svg)
}

/// How one curve is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub color: RGBColor,
    pub dashed: bool,
    pub width: u32,
}

/// The width report.html shows a figure at (its body is 1200 px wide less its padding): no figure
/// is wider, so none is scaled down and its text reads at the size it was drawn.
pub const PAGE_WIDTH: u32 = 1160;

/// Curves one figure can tell apart by colour and dash; more go grey as "others".
pub const MAX_STYLES: usize = 8;

impl Look {
    /// The faint grey of the curves beyond [`MAX_STYLES`], drawn under the rest.
    pub const OTHERS: Look = Look {
        color: RGBColor(200, 200, 200),
        dashed: false,
        width: 1,
    };

    pub fn is_others(&self) -> bool {
        self.key() == Look::OTHERS.key()
    }

    fn key(&self) -> (u8, u8, u8, bool, u32) {
        let RGBColor(r, g, b) = self.color;
        (r, g, b, self.dashed, self.width)
    }
}

/// One line with an optional 95% band: `(x, mean, half-width)`.
#[derive(Debug, Clone)]
pub struct Curve {
    pub label: String,
    pub look: Look,
    pub points: Vec<(f64, f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub curves: Vec<Curve>,
    /// This panel's own y axis (its label, and whether it is an accuracy bounded by [0, 1]);
    /// `None`: the figure's, shared with the other panels so they compare at a glance.
    pub own_y: Option<(String, bool)>,
    /// This panel's own x axis (its label; range and ticks from its own points), where the panels
    /// measure different things; `None`: the figure's, shared.
    pub own_x: Option<OwnX>,
}

/// A panel's own x axis.
#[derive(Debug, Clone)]
pub struct OwnX {
    pub label: String,
    /// Where a value of 0 is drawn on a log axis (its tick reads "0").
    pub zero_at: Option<f64>,
}

impl Panel {
    pub fn new(title: impl Into<String>, curves: Vec<Curve>) -> Self {
        Panel {
            title: title.into(),
            curves,
            own_y: None,
            own_x: None,
        }
    }

    fn xs(&self) -> impl Iterator<Item = f64> + Clone + '_ {
        self.curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.0))
    }
}

/// Side-by-side panels of lines (with CI bands when `band`), sharing a legend below them.
pub struct LineFigure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub panels: Vec<Panel>,
    pub log_x: bool,
    pub log_y: bool,
    pub band: bool,
    /// Format of the x tick labels (sizes are integers; epochs too).
    pub integer_x: bool,
    /// y values are fractions shown as percentages (accuracies).
    pub percent_y: bool,
    /// y values are accuracies, bounded by [0, 1]: the axis and the bands are clipped to it (a
    /// difference of accuracies is not).
    pub bounded_y: bool,
}

const PANEL_HEIGHT: u32 = 430;
/// The most line-figure panels side by side.
const PANELS_PER_ROW: usize = 3;
pub const TITLE_FONT: u32 = 22;
/// A panel's own title, above its plot.
pub const PANEL_TITLE_FONT: u32 = 17;
const LEGEND_FONT: u32 = 14;
const LEGEND_LINE: u32 = 20;
/// The swatch and the gap before its label.
const SWATCH: u32 = 46;

/// The width of `text` in the embedded font at `size` px (measured, so labels never run into
/// what is beside them).
pub fn text_width(text: &str, size: u32) -> u32 {
    register_font();
    ("sans-serif", size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        // The font is embedded: a failure would be a build defect; a generous guess keeps the
        // figure drawable.
        .unwrap_or(text.chars().count() as u32 * size)
}

impl LineFigure {
    /// The legend's entries: one per label, in first-drawn order.
    pub fn legend_entries(&self) -> Vec<(String, Look)> {
        let mut seen: Vec<(String, Look)> = Vec::new();
        for curve in self.panels.iter().flat_map(|p| &p.curves) {
            if !seen.iter().any(|(l, _)| *l == curve.label) {
                seen.push((curve.label.clone(), curve.look));
            }
        }
        seen
    }

    /// Legend labels that share a look with another label: a reader cannot tell them apart.
    pub fn ambiguous_entries(&self) -> Vec<String> {
        let entries = self.legend_entries();
        entries
            .iter()
            .filter(|(label, look)| {
                entries
                    .iter()
                    .any(|(l, o)| l != label && o.key() == look.key())
            })
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// Panels per row and rows: up to [`PANELS_PER_ROW`] side by side (a panel per head family
    /// with seven heads would leave each too narrow for its title), more on further rows.
    fn grid(&self) -> (usize, usize) {
        let n = self.panels.len().max(1);
        let columns = n.min(PANELS_PER_ROW);
        (columns, n.div_ceil(columns))
    }

    /// Room for the panels and the title, within the page.
    pub fn width(&self) -> u32 {
        (300 + 430 * self.grid().0 as u32)
            .max(text_width(&self.title, TITLE_FONT) + 100)
            .min(PAGE_WIDTH)
    }

    /// Each panel's y axis range: the panels without their own axis share one, so they compare at
    /// a glance; an accuracy axis is clipped to [0, 1].
    pub fn y_ranges(&self) -> Vec<(f64, f64)> {
        let y_range = |curves: &mut dyn Iterator<Item = &Curve>, bounded: bool| {
            let (y0, y1) = range(
                curves.flat_map(|c| {
                    c.points.iter().flat_map(|p| {
                        [
                            p.1 - p.2 * f64::from(u8::from(self.band)),
                            p.1 + p.2 * f64::from(u8::from(self.band)),
                        ]
                    })
                }),
                self.log_y,
            );
            // An accuracy axis stays within [0, 100]%, whatever a band's arithmetic says: an
            // interval past 100% describes the normal approximation, not the data.
            if bounded {
                (y0.max(0.0), y1.min(1.0))
            } else {
                (y0, y1)
            }
        };
        let shared = y_range(
            &mut self
                .panels
                .iter()
                .filter(|p| p.own_y.is_none())
                .flat_map(|p| &p.curves),
            self.bounded_y,
        );
        self.panels
            .iter()
            .map(|p| match &p.own_y {
                Some((_, bounded)) => y_range(&mut p.curves.iter(), *bounded),
                None => shared,
            })
            .collect()
    }

    /// Legend columns and rows for the figure's width.
    fn legend_grid(&self) -> (u32, u32, u32) {
        let entries = self.legend_entries();
        let widest = entries
            .iter()
            .map(|(l, _)| text_width(l, LEGEND_FONT))
            .max()
            .unwrap_or(0);
        let column = SWATCH + widest + 24;
        let columns = (self.width() / column).clamp(1, entries.len().max(1) as u32);
        let rows = (entries.len() as u32).div_ceil(columns);
        (columns, column, rows)
    }
}

fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Look)],
    (columns, column, rows): (u32, u32, u32),
) -> Result<(), String> {
    let font = ("sans-serif", LEGEND_FONT).into_font();
    for (i, (label, look)) in entries.iter().enumerate() {
        // Down the first column, then the next.
        let (row, col) = (i as u32 % rows.max(1), i as u32 / rows.max(1));
        debug_assert!(col < columns);
        let x = 20 + (col * column) as i32;
        let y = 12 + (row * LEGEND_LINE) as i32;
        let style = look.color.stroke_width(look.width.max(2));
        if look.dashed {
            for k in 0..3 {
                area.draw(&PathElement::new(
                    vec![(x + k * 12, y), (x + 7 + k * 12, y)],
                    style,
                ))
                .map_err(text_err)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(x, y), (x + 34, y)], style))
                .map_err(text_err)?;
        }
        area.draw(&Text::new(
            label.clone(),
            (x + SWATCH as i32, y - 8),
            font.clone(),
        ))
        .map_err(text_err)?;
    }
    Ok(())
}

fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (1e-12, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-3);
        (lo - pad, hi + pad)
    }
}

impl Figure for LineFigure {
    fn size(&self) -> (u32, u32) {
        let (_, _, rows) = self.legend_grid();
        let panel_rows = self.grid().1 as u32;
        (
            self.width(),
            45 + PANEL_HEIGHT * panel_rows + 16 + rows * LEGEND_LINE,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text_err)?;
        let root = root
            .titled(&self.title, ("sans-serif", TITLE_FONT).into_font())
            .map_err(text_err)?;
        let (columns, panel_rows) = self.grid();
        let (plots, below) = root.split_vertically(PANEL_HEIGHT * panel_rows as u32);
        let shared: Vec<&Panel> = self.panels.iter().filter(|p| p.own_x.is_none()).collect();
        let shared_x = range(shared.iter().flat_map(|p| p.xs()), self.log_x);
        let areas = plots.split_evenly((panel_rows, columns));
        for ((panel, area), y) in self.panels.iter().zip(&areas).zip(self.y_ranges()) {
            let y_label = panel
                .own_y
                .as_ref()
                .map_or(self.y_label.as_str(), |(l, _)| l.as_str());
            let mut xs: Vec<f64> = match &panel.own_x {
                Some(_) => panel.xs().collect(),
                None => shared.iter().flat_map(|p| p.xs()).collect(),
            };
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            let x = match &panel.own_x {
                Some(_) => range(xs.iter().copied(), self.log_x),
                None => shared_x,
            };
            let axis = XAxis {
                range: x,
                label: panel
                    .own_x
                    .as_ref()
                    .map_or(self.x_label.as_str(), |o| o.label.as_str()),
                ticks: log_ticks(&xs, x),
                zero_at: panel.own_x.as_ref().and_then(|o| o.zero_at),
            };
            draw_panel(self, panel, area, &axis, y, y_label)?;
        }
        legend(&below, &self.legend_entries(), self.legend_grid())
    }
}

/// Where a log x axis is ticked: the curves' own x values when they are few (the training sizes:
/// plotters' powers of ten would leave 25 unlabelled), else 1, 2, 5, 10, 20, 50, ... (epochs).
fn log_ticks(xs: &[f64], (x0, x1): (f64, f64)) -> Vec<f64> {
    if xs.len() <= 8 {
        return xs.to_vec();
    }
    let mut ticks = Vec::new();
    let mut decade = 1.0;
    while decade <= x1 {
        for m in [1.0, 2.0, 5.0] {
            let t = m * decade;
            if t >= x0 && t <= x1 {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// The x axis one panel draws.
struct XAxis<'a> {
    range: (f64, f64),
    label: &'a str,
    /// A log axis' ticks.
    ticks: Vec<f64>,
    zero_at: Option<f64>,
}

fn draw_panel<DB: DrawingBackend>(
    figure: &LineFigure,
    panel: &Panel,
    area: &DrawingArea<DB, Shift>,
    axis: &XAxis,
    (y0, y1): (f64, f64),
    y_label: &str,
) -> Result<(), String> {
    let (x0, x1) = axis.range;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, ("sans-serif", PANEL_TITLE_FONT).into_font())
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            let integer_x = figure.integer_x;
            let log_y = figure.log_y;
            let percent_y = figure.percent_y;
            chart
                .configure_mesh()
                .x_desc(axis.label)
                .y_desc(y_label)
                .x_label_formatter(&|x| {
                    if axis.zero_at.is_some_and(|z| (x / z - 1.0).abs() < 1e-9) {
                        "0".to_string()
                    } else if integer_x {
                        // Only whole numbers get a label: a tick at 2.5 epochs would read "2"
                        // (or "3") beside the real 2 and 3.
                        if (x - x.round()).abs() < 1e-6 {
                            format!("{}", x.round())
                        } else {
                            String::new()
                        }
                    } else {
                        ablate_spec::plain_number(*x)
                    }
                })
                .y_label_formatter(&|y| {
                    if log_y {
                        format!("{y:.0e}")
                    } else if percent_y {
                        // Whole points read without a decimal; ticks a fraction of a point
                        // apart get the decimals that keep them distinct. (`+ 0.0`: no "-0".)
                        let v = y * 100.0;
                        if (v - v.round()).abs() < 1e-6 {
                            format!("{:.0}", v.round() + 0.0)
                        } else {
                            let digits = if (y1 - y0) * 100.0 < 1.0 { 2 } else { 1 };
                            format!("{v:.digits$}")
                        }
                    } else {
                        format!("{y:.2}")
                    }
                })
                .light_line_style(WHITE.mix(0.0))
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .draw()
                .map_err(text_err)?;
            for curve in &panel.curves {
                let color = curve.look.color;
                if figure.band {
                    let clip = |y: f64| y.clamp(y0, y1);
                    let mut band: Vec<(f64, f64)> = curve
                        .points
                        .iter()
                        .map(|p| (p.0, clip(p.1 + p.2)))
                        .collect();
                    band.extend(curve.points.iter().rev().map(|p| (p.0, clip(p.1 - p.2))));
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            band,
                            color.mix(0.12).filled(),
                        )))
                        .map_err(text_err)?;
                }
                let line: Vec<(f64, f64)> = curve.points.iter().map(|p| (p.0, p.1)).collect();
                let style = color.stroke_width(curve.look.width);
                if curve.look.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(line.clone(), 6, 4, style))
                        .map_err(text_err)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(line.clone(), style))
                        .map_err(text_err)?;
                }
                // Points are marked on the few-point lines of data, not on reference lines.
                if line.len() <= 6 && curve.look.width > 1 {
                    chart
                        .draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map_err(text_err)?;
                }
            }
            Ok::<(), String>(())
        }};
    }
    // A log x axis is ticked at the curves' own x values (the training sizes): plotters' own log
    // ticks are powers of ten and would leave 25 unlabelled.
    let x_ticks = || axis.ticks.clone();
    match (figure.log_x, figure.log_y) {
        (false, false) => body!(
            builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(text_err)?
        ),
        (true, false) => {
            body!(
                builder
                    .build_cartesian_2d((x0..x1).log_scale().with_key_points(x_ticks()), y0..y1)
                    .map_err(text_err)?
            )
        }
        (false, true) => {
            body!(
                builder
                    .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                    .map_err(text_err)?
            )
        }
        (true, true) => body!(
            builder
                .build_cartesian_2d(
                    (x0..x1).log_scale().with_key_points(x_ticks()),
                    (y0..y1).log_scale()
                )
                .map_err(text_err)?
        ),
    }
}

/// One panel of a [`DotFigure`].
pub struct DotPanel {
    pub title: String,
    pub x_label: String,
    /// Ticks as percentages (accuracies) or as plain numbers.
    pub percent: bool,
    /// A vertical reference line (1 for a ratio).
    pub reference: Option<f64>,
    /// Per label: (mean, 95% CI half-width, the second marker); `None` when absent.
    pub rows: Vec<Option<(f64, f64, Option<f64>)>>,
}

/// Values per variant, one row per variant and one panel per measure or size: a dot with its 95% CI
/// whisker and, optionally, a second marker beside it (train accuracy beside val, val beside test).
pub struct DotFigure {
    pub title: String,
    /// Variant labels, top to bottom.
    pub labels: Vec<String>,
    pub panels: Vec<DotPanel>,
    /// Legend text for the dot and for the second marker.
    pub keys: (String, String),
    /// Panels per row (0: all in one row); more wrap into rows below, so the figure fits a page.
    pub columns: usize,
}

/// The reference lines of the panels measuring `x_label`, so the range includes them.
fn references_of<'a>(panels: &'a [DotPanel], x_label: &'a str) -> impl Iterator<Item = f64> + 'a {
    panels
        .iter()
        .filter(move |p| p.x_label == x_label)
        .filter_map(|p| p.reference)
}

impl DotFigure {
    /// Width of the names on the left: the longest label as the font draws it, at least 160.
    fn names_width(&self) -> u32 {
        let longest = self
            .labels
            .iter()
            .map(|l| text_width(l, 13))
            .max()
            .unwrap_or(0);
        (24 + longest).max(160)
    }

    /// Each panel's width: the page's width shared by a row of panels, never under 220 px.
    fn panel_width(&self) -> u32 {
        let columns = self.columns() as u32;
        (PAGE_WIDTH.saturating_sub(self.names_width() + 20) / columns).max(220)
    }

    fn columns(&self) -> usize {
        match self.columns {
            0 => self.panels.len().max(1),
            c => c.min(self.panels.len().max(1)),
        }
    }
}

impl Figure for DotFigure {
    fn size(&self) -> (u32, u32) {
        let columns = self.columns();
        let rows = self.panels.len().div_ceil(columns).max(1) as u32;
        (
            self.names_width() + 20 + self.panel_width() * columns as u32,
            40 + rows * (70 + 24 * self.labels.len() as u32),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(text_err)?;
        let outer = root;
        let root = outer
            .titled(&self.title, ("sans-serif", 22).into_font())
            .map_err(text_err)?;
        let columns = self.columns();
        let row_areas = root.split_evenly((self.panels.len().div_ceil(columns).max(1), 1));
        let n = self.labels.len();
        let row_y = |i: usize| n as f64 - 1.0 - i as f64;
        // Panels that measure the same thing share their x range, so they compare at a glance.
        let x_range = |x_label: &str| {
            range(
                self.panels
                    .iter()
                    .filter(|p| p.x_label == x_label)
                    .flat_map(|p| {
                        p.rows.iter().flatten().flat_map(|(v, half, second)| {
                            let half = if half.is_finite() { half.min(0.2) } else { 0.0 };
                            [v - half, v + half, second.unwrap_or(*v)]
                        })
                    })
                    .chain(references_of(&self.panels, x_label)),
                false,
            )
        };
        let dot_color = RGBColor(33, 102, 172);
        let second_color = RGBColor(214, 96, 77);
        let mut names = None;
        for (row_panels, row_area) in self.panels.chunks(columns).zip(&row_areas) {
            let (row_names, plots) = row_area.split_horizontally(self.names_width());
            let areas = plots.split_evenly((1, columns));
            let mut label_ys = Vec::new();
            for (panel, area) in row_panels.iter().zip(&areas) {
                let (x0, x1) = x_range(&panel.x_label);
                let mut chart = ChartBuilder::on(area)
                    .caption(&panel.title, ("sans-serif", PANEL_TITLE_FONT).into_font())
                    .margin(10)
                    .x_label_area_size(45)
                    .y_label_area_size(0)
                    .build_cartesian_2d(x0..x1, -0.7..(n as f64 - 0.3))
                    .map_err(text_err)?;
                let percent = panel.percent;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(0)
                    .x_desc(panel.x_label.as_str())
                    .x_label_formatter(&|x| {
                        if percent {
                            format!("{:.0}", x * 100.0)
                        } else {
                            format!("{x:.2}")
                        }
                    })
                    // No minor lines: at a ratio axis' fine ticks they hid the dots.
                    .light_line_style(WHITE.mix(0.0))
                    .label_style(("sans-serif", 13))
                    .axis_desc_style(("sans-serif", 14))
                    .draw()
                    .map_err(text_err)?;
                if label_ys.is_empty() {
                    // Pixel rows of the first panel, so the names on the left line up with the dots.
                    label_ys = (0..n)
                        .map(|i| chart.backend_coord(&(x0, row_y(i))).1)
                        .collect();
                }
                if let Some(x) = panel.reference {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, -0.7), (x, n as f64 - 0.3)],
                            BLACK.mix(0.4).stroke_width(1),
                        )))
                        .map_err(text_err)?;
                }
                for (i, row) in panel.rows.iter().enumerate() {
                    let Some((value, half, second)) = *row else {
                        continue;
                    };
                    let y = row_y(i);
                    if half.is_finite() {
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                vec![(value - half, y), (value + half, y)],
                                dot_color.stroke_width(2),
                            )))
                            .map_err(text_err)?;
                    }
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (value, y),
                            4,
                            dot_color.filled(),
                        )))
                        .map_err(text_err)?;
                    if let Some(second) = second {
                        chart
                            .draw_series(std::iter::once(TriangleMarker::new(
                                (second, y),
                                5,
                                second_color.filled(),
                            )))
                            .map_err(text_err)?;
                    }
                }
            }
            // Variant names, on the rows of this row's panels.
            let font = ("sans-serif", 13).into_font();
            for (label, y) in self.labels.iter().zip(&label_ys) {
                outer
                    .draw(&Text::new(label.clone(), (8, y - 7), font.clone()))
                    .map_err(text_err)?;
            }
            names = Some(row_names);
        }
        let Some(names) = names else {
            return Ok(());
        };
        let key = ("sans-serif", 14).into_font();
        let y = names.dim_in_pixel().1 as i32 - 40;
        names
            .draw(&Circle::new((14, y), 4, dot_color.filled()))
            .map_err(text_err)?;
        names
            .draw(&Text::new(self.keys.0.clone(), (24, y - 8), key.clone()))
            .map_err(text_err)?;
        names
            .draw(&TriangleMarker::new((14, y + 16), 5, second_color.filled()))
            .map_err(text_err)?;
        names
            .draw(&Text::new(self.keys.1.clone(), (24, y + 8), key))
            .map_err(text_err)?;
        Ok(())
    }
}
