//! Progress of long work, shown as spinners on a terminal and as plain lines elsewhere.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::backend::{ProgressSink, ProgressTask};

/// Shows progress on stderr: spinners on a terminal, one line per finished task otherwise.
pub struct StderrProgress {
    bars: Option<MultiProgress>,
    service_logs: bool,
}

impl StderrProgress {
    /// Progress on stderr, animated only when stderr is a terminal.
    pub fn new() -> Self {
        StderrProgress {
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
            service_logs: false,
        }
    }

    /// Also shows what services log, each line prefixed with the service's hostname.
    pub fn with_service_logs(mut self, shown: bool) -> Self {
        self.service_logs = shown;
        self
    }
}

impl Default for StderrProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressSink for StderrProgress {
    fn begin(&self, task: &str) -> Box<dyn ProgressTask> {
        match &self.bars {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(task.to_string());
                bar.enable_steady_tick(Duration::from_millis(100));
                Box::new(SpinnerTask { bar })
            }
            None => Box::new(LineTask {
                task: task.to_string(),
                started: Instant::now(),
            }),
        }
    }

    fn shows_service_logs(&self) -> bool {
        self.service_logs
    }

    fn service_log(&self, hostname: &str, line: &str) {
        let text = format!("[{hostname}] {line}");
        match &self.bars {
            // Above the spinners, which would otherwise draw over it.
            Some(bars) => {
                if bars.println(&text).is_err() {
                    eprintln!("{text}");
                }
            }
            None => eprintln!("{text}"),
        }
    }
}

struct SpinnerTask {
    bar: ProgressBar,
}

impl ProgressTask for SpinnerTask {
    fn update(&self, status: &str) {
        self.bar.set_message(status.to_string());
    }

    fn finish(&self, status: &str) {
        self.bar.finish_and_clear();
        let prefix = self.bar.prefix();
        let elapsed = self.bar.elapsed().as_secs_f64();
        eprintln!("berth: {prefix}: {status} ({elapsed:.1}s)");
    }
}

struct LineTask {
    task: String,
    started: Instant,
}

impl ProgressTask for LineTask {
    fn update(&self, _status: &str) {}

    fn finish(&self, status: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        eprintln!("berth: {}: {status} ({elapsed:.1}s)", self.task);
    }
}

/// Shows nothing; for library users and tests.
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn begin(&self, _task: &str) -> Box<dyn ProgressTask> {
        Box::new(NoProgress)
    }
}

impl ProgressTask for NoProgress {
    fn update(&self, _status: &str) {}
    fn finish(&self, _status: &str) {}
}
