//! Logging: `tracing` for everything, plus an in-memory ring of recent lines
//! that `Rumble.getLog()` and the web admin read, in Rumble's line format
//! `YYYY/MM/DD HH:MM:SS [svc]: \tmessage\r\n` (UTC).
//!
//! The `[svc]` tag is the event's target: code logs with
//! `tracing::info!(target: "smtp", ...)`; a module-path target keeps only its
//! last segment.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The smallest ring `LogLines` may ask for: the web admin shows 200 lines.
pub const MIN_LINES: usize = 200;

/// Recent log lines, newest last inside, handed out newest first.
pub struct LogRing {
    capacity: usize,
    lines: Mutex<VecDeque<String>>,
}

impl LogRing {
    pub fn new(capacity: usize) -> Arc<LogRing> {
        let capacity = capacity.max(MIN_LINES);
        Arc::new(LogRing { capacity, lines: Mutex::new(VecDeque::with_capacity(capacity)) })
    }

    pub fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Newest first, as `Rumble.getLog()` returns them.
    pub fn recent(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().rev().cloned().collect()
    }
}

static RING: OnceLock<Arc<LogRing>> = OnceLock::new();

/// The process-wide ring (created with the minimum size if `init` never ran,
/// as in unit tests).
pub fn ring() -> Arc<LogRing> {
    RING.get_or_init(|| LogRing::new(MIN_LINES)).clone()
}

/// Install the subscriber: human-readable lines on stderr (filtered by
/// `RUST_LOG`, else `default_filter`) and every line at `info` or above in
/// the ring. Calling it again is harmless (the first call wins).
pub fn init(ring_lines: usize, default_filter: &str) {
    let ring = RING.get_or_init(|| LogRing::new(ring_lines)).clone();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .with_filter(filter);
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(RingLayer { ring })
        .try_init();
}

/// A `tracing` layer that formats each event into the ring.
struct RingLayer {
    ring: Arc<LogRing>,
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() > Level::INFO {
            return;
        }
        let mut text = MessageText::default();
        event.record(&mut text);
        let svc = service_tag(event.metadata().target());
        self.ring.push(format_line(svc, &text.0));
    }
}

/// `rumble::plugins::host` -> `host`; `smtp` -> `smtp`.
fn service_tag(target: &str) -> &str {
    target.rsplit("::").next().unwrap_or(target)
}

fn format_line(svc: &str, message: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!("[year]/[month]/[day] [hour]:[minute]:[second]"))
        .unwrap_or_default();
    format!("{stamp} [{svc}]: \t{message}\r\n")
}

/// The event's message followed by its other fields as `key=value`.
#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_newest_first_and_drops_oldest() {
        let ring = LogRing::new(MIN_LINES);
        for i in 0..(MIN_LINES + 5) {
            ring.push(format!("line {i}"));
        }
        let lines = ring.recent();
        assert_eq!(lines.len(), MIN_LINES);
        assert_eq!(lines[0], format!("line {}", MIN_LINES + 4));
        assert_eq!(lines[MIN_LINES - 1], "line 5");
    }

    #[test]
    fn line_format_matches_rumble() {
        let line = format_line(service_tag("rumble::plugins"), "hello");
        assert!(line.ends_with(" [plugins]: \thello\r\n"), "{line:?}");
        assert_eq!(&line[4..5], "/");
        assert_eq!(line.len(), "YYYY/MM/DD HH:MM:SS".len() + " [plugins]: \thello\r\n".len());
    }
}
