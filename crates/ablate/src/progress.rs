//! What a running grid shows: the whole grid's progress weighted by each cell's cost (cells range
//! from a second to an hour, so counting cells would make a useless ETA), and for every fine-tuning
//! cell its epochs with an ETA of its own. On a terminal these are bars; in a log (a Slurm job's
//! output, `nohup`) they are lines, one per finished cell and one per fine-tuning epoch.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ablate_results::EpochMetrics;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Positions of the grid's bar: its cost fraction in these units.
const UNITS: u64 = 10_000;

pub struct GridProgress {
    bars: Option<(MultiProgress, ProgressBar)>,
    started: Instant,
    cells: usize,
    total_cost: f64,
    /// (cells done, their cost).
    done: Mutex<(usize, f64)>,
}

impl GridProgress {
    /// Progress over `costs`, the relative costs of the cells to train.
    pub fn new(costs: &[f64]) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let grid = multi.add(ProgressBar::new(UNITS));
            grid.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {msg}  ETA {eta}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            grid.set_message(format!("0/{} cells", costs.len()));
            (multi, grid)
        });
        GridProgress {
            bars,
            started: Instant::now(),
            cells: costs.len(),
            total_cost: costs.iter().sum::<f64>().max(f64::MIN_POSITIVE),
            done: Mutex::new((0, 0.0)),
        }
    }

    /// A cell of `cost` ended; `line` says how.
    pub fn cell_done(&self, line: &str, cost: f64) {
        let (cells, fraction) = {
            let mut done = self.done.lock().expect("no panic holding it");
            done.0 += 1;
            done.1 += cost;
            (done.0, done.1 / self.total_cost)
        };
        match &self.bars {
            Some((multi, grid)) => {
                let _ = multi.println(line);
                grid.set_position((fraction * UNITS as f64).round() as u64);
                grid.set_message(format!("{cells}/{} cells", self.cells));
            }
            None => {
                let eta = remaining(self.started.elapsed(), fraction);
                eprintln!(
                    "{line}  [{cells}/{} cells, ETA {}]",
                    self.cells,
                    eta.map_or("?".into(), clock)
                );
            }
        }
    }

    /// Progress of one fine-tuning cell, called as `ablate_train::Watch::on_epoch`.
    pub fn cell(&self, cell_id: &str) -> CellProgress {
        let bar = self.bars.as_ref().map(|(multi, grid)| {
            let bar = multi.insert_before(grid, ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("  {prefix}  epoch {pos}/{len}  {msg}  ETA {eta}")
                    .expect("a valid template"),
            );
            bar.set_prefix(cell_id.to_string());
            bar
        });
        CellProgress {
            cell_id: cell_id.to_string(),
            bar,
            first: Mutex::new(None),
        }
    }

    pub fn finish(&self) {
        if let Some((multi, grid)) = &self.bars {
            grid.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

pub struct CellProgress {
    cell_id: String,
    bar: Option<ProgressBar>,
    /// When the first report came, and how many epochs were done then (a resumed cell starts
    /// past 0, and its earlier epochs must not count towards the rate).
    first: Mutex<Option<(Instant, usize)>>,
}

impl CellProgress {
    /// After `done` of `all` epochs (at the start, after the epochs a resumed cell had).
    pub fn epoch(&self, epochs: &[EpochMetrics], all: usize) {
        let done = epochs.len();
        let (since, from) = *self
            .first
            .lock()
            .expect("no panic holding it")
            .get_or_insert((Instant::now(), done));
        let val = epochs
            .last()
            .map(|e| format!("val_acc {:.4}", e.val_acc))
            .unwrap_or_default();
        if let Some(bar) = &self.bar {
            bar.set_length(all as u64);
            bar.set_position(done as u64);
            bar.set_message(val);
            if done == from {
                bar.reset_eta();
            }
            return;
        }
        if done == from {
            if done > 0 {
                eprintln!("{}: resumed after epoch {done}/{all}", self.cell_id);
            }
            return;
        }
        let per_epoch = since.elapsed() / (done - from) as u32;
        eprintln!(
            "{}: epoch {done}/{all}  {val}  {:.0} s/epoch  ETA {}",
            self.cell_id,
            per_epoch.as_secs_f64(),
            clock(per_epoch * (all - done) as u32)
        );
    }
}

impl Drop for CellProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The time left when `fraction` of the work took `elapsed`.
fn remaining(elapsed: Duration, fraction: f64) -> Option<Duration> {
    (fraction > 0.0).then(|| elapsed.mul_f64((1.0 - fraction).max(0.0) / fraction))
}

/// `1h02m`, `4m05s`, `12s`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_like_a_duration() {
        for (secs, text) in [
            (0, "0s"),
            (59, "59s"),
            (61, "1m01s"),
            (3599, "59m59s"),
            (3720, "1h02m"),
        ] {
            assert_eq!(clock(Duration::from_secs(secs)), text);
        }
    }

    #[test]
    fn remaining_scales_elapsed_by_the_work_left() {
        let ten = Duration::from_secs(10);
        assert_eq!(remaining(ten, 0.25), Some(Duration::from_secs(30)));
        assert_eq!(remaining(ten, 1.0), Some(Duration::ZERO));
        assert_eq!(remaining(ten, 0.0), None);
    }
}
