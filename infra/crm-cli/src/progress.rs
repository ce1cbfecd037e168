//! Progress of a running import: a bar on a terminal (indicatif), plain lines otherwise, so a
//! log stays readable. The API counts rows done and bytes read; the total of rows is estimated
//! from the share of bytes read until the import ends (then it is exact).

use crate::model::Import;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// What the progress line says at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub done: u64,
    /// All rows: exact once the import has ended, else estimated from bytes (when any were read).
    pub total: Option<u64>,
    pub estimated: bool,
    /// Rows per second since the import was followed.
    pub rate: Option<f64>,
    pub eta: Option<Duration>,
    pub ended: bool,
}

impl Figures {
    pub fn of(import: &Import, elapsed: Duration) -> Self {
        let done = import.rows;
        let ended = import.has_ended();
        let (total, estimated) = if ended {
            (Some(done), false)
        } else {
            match &import.progress {
                Some(p) if p.bytes_done > 0 && p.bytes_total > 0 && done > 0 => {
                    let share = p.bytes_done as f64 / p.bytes_total as f64;
                    let total = ((done as f64 / share).round() as u64).max(done);
                    (Some(total), p.bytes_done < p.bytes_total)
                }
                _ => (None, false),
            }
        };
        let secs = elapsed.as_secs_f64();
        let rate = (done > 0 && secs >= 0.2).then(|| done as f64 / secs);
        let eta = match (total, rate) {
            (Some(total), Some(rate)) if !ended && rate > 0.0 => Some(Duration::from_secs_f64(
                total.saturating_sub(done) as f64 / rate,
            )),
            _ => None,
        };
        Figures {
            done,
            total,
            estimated,
            rate,
            eta,
            ended,
        }
    }

    /// `120/~300 rows`, `0/? rows`, `300/300 rows`.
    pub fn rows_text(&self) -> String {
        match self.total {
            Some(total) if self.estimated => format!("{}/~{total} rows", self.done),
            Some(total) => format!("{}/{total} rows", self.done),
            None => format!("{}/? rows", self.done),
        }
    }

    /// The whole line: rows, percent, rate, and the ETA (or the time it took, once ended).
    pub fn describe(&self, elapsed: Duration) -> String {
        let mut text = self.rows_text();
        if let Some(total) = self.total.filter(|t| *t > 0 && !self.ended) {
            text.push_str(&format!(" ({}%)", self.done * 100 / total));
        }
        if let Some(rate) = self.rate {
            text.push_str(&format!(" · {} rows/s", rate_text(rate)));
        }
        if self.ended {
            text.push_str(&format!(" · done in {}", duration_text(elapsed)));
        } else if let Some(eta) = self.eta {
            text.push_str(&format!(" · ETA {}", duration_text(eta)));
        }
        text
    }
}

pub fn rate_text(rate: f64) -> String {
    if rate < 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{}", rate.round() as u64)
    }
}

/// `4.2s`, `3m 05s`, `1h 02m`.
pub fn duration_text(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// Follows one import: a bar drawn to stdout on a terminal; otherwise a hidden bar and a plain
/// line whenever the status or the rows done change.
pub struct ImportProgress {
    bar: ProgressBar,
    plain: bool,
    started: Instant,
    last: Option<(String, u64)>,
}

const BAR: &str = "{spinner} [{bar:32}] {msg}";
const BAR_DONE: &str = "  [{bar:32}] {msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl ImportProgress {
    pub fn new(terminal: bool) -> Self {
        let bar = if terminal {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stdout());
            bar.set_style(style(BAR));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            plain: !terminal,
            started: Instant::now(),
            last: None,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn update(&mut self, import: &Import) {
        let elapsed = self.elapsed();
        let figures = Figures::of(import, elapsed);
        let mut message = figures.describe(elapsed);
        if !figures.ended && import.status != "running" {
            message = format!("{} · {message}", import.status);
        }
        self.bar
            .set_length(figures.total.unwrap_or(0).max(figures.done));
        self.bar.set_position(figures.done);
        if figures.ended {
            self.bar.set_style(style(BAR_DONE));
            self.bar.finish_with_message(message.clone());
        } else {
            self.bar.set_message(message.clone());
        }
        let key = (import.status.clone(), figures.done);
        if self.plain && (figures.ended || self.last.as_ref() != Some(&key)) {
            println!("progress: {message}");
        }
        self.last = Some(key);
    }
}

/// A spinner on a terminal for waits without a count (an upload, an export); hidden
/// otherwise. It clears itself when dropped, so an error is not printed under a stale line.
pub fn spinner(terminal: bool, message: String) -> ProgressBar {
    if !terminal {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout())
        .with_finish(indicatif::ProgressFinish::AndClear);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Progress;

    fn import(status: &str, rows: u64, bytes: Option<(u64, u64)>) -> Import {
        serde_json::from_value(serde_json::json!({
            "id": "i", "file_name": "f.csv", "status": status, "rows": rows,
        }))
        .map(|mut i: Import| {
            i.progress = bytes.map(|(bytes_done, bytes_total)| Progress {
                bytes_done,
                bytes_total,
            });
            i
        })
        .unwrap()
    }

    #[test]
    fn a_running_import_estimates_its_total_from_the_bytes_read() {
        let f = Figures::of(
            &import("running", 100, Some((250, 1000))),
            Duration::from_secs(2),
        );
        assert_eq!(f.total, Some(400));
        assert!(f.estimated);
        assert_eq!(f.rate, Some(50.0));
        assert_eq!(f.eta, Some(Duration::from_secs(6)));
        assert_eq!(
            f.describe(Duration::from_secs(2)),
            "100/~400 rows (25%) · 50 rows/s · ETA 6.0s"
        );
    }

    #[test]
    fn an_ended_import_counts_exactly() {
        let f = Figures::of(
            &import("completed", 300, Some((1000, 1000))),
            Duration::from_secs(4),
        );
        assert_eq!(
            f.describe(Duration::from_secs(4)),
            "300/300 rows · 75 rows/s · done in 4.0s"
        );
    }

    #[test]
    fn nothing_read_yet_is_an_unknown_total() {
        let f = Figures::of(&import("queued", 0, Some((0, 1000))), Duration::ZERO);
        assert_eq!(f.describe(Duration::ZERO), "0/? rows");
    }

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(duration_text(Duration::from_millis(4200)), "4.2s");
        assert_eq!(duration_text(Duration::from_secs(185)), "3m 05s");
        assert_eq!(duration_text(Duration::from_secs(3720)), "1h 02m");
    }
}
