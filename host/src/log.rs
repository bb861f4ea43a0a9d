//! Logging: `tracing` for everything, plus an in-memory ring of recent lines
//! that `Rumble.getLog()` and the web admin read, in Rumble's line format
//! `YYYY/MM/DD HH:MM:SS [svc]: \tmessage\r\n` (UTC).
//!
//! The `[svc]` tag is the event's target: code logs with
//! `tracing::info!(target: "smtp", ...)`; a module-path target keeps only its
//! last segment.
//!
//! The ring is what scripts with `log.read` see, so it is bounded in lines
//! and in bytes, each line is cut at [`MAX_LINE`], and fields named in
//! [`HIDDEN_FIELDS`] (failed-login names, where people type passwords) are
//! shown there as `<hidden>`. Text that comes from scripts goes through
//! [`clean`] first (see `plugins::script_log`), so a script can neither
//! write a line that looks like the server's nor a line of megabytes.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The smallest ring `LogLines` may ask for: the web admin shows 200 lines.
pub const MIN_LINES: usize = 200;

/// Longest message kept, in bytes; longer ones are cut with a note.
pub const MAX_LINE: usize = 4096;

/// Bytes the ring may hold at most, whatever `LogLines` says.
pub const MAX_RING_BYTES: usize = 8 << 20;

/// Event fields the ring shows as `<hidden>` (stderr keeps them for the operator).
pub const HIDDEN_FIELDS: &[&str] = &["login"];

/// Counts an event that a client can repeat at will (refused connections,
/// failed accepts, busy logins) and says when to log it: at most once per
/// [`Throttle::EVERY`], with how many happened since the last line, so a
/// flood does not flood the log.
#[derive(Debug, Default)]
pub struct Throttle {
    unlogged: u64,
    logged_at: Option<std::time::Instant>,
}

impl Throttle {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(10);
    /// For statics (`Default` is not const).
    pub const NEW: Throttle = Throttle { unlogged: 0, logged_at: None };

    /// Count one; the count to report when it is time to log.
    pub fn count(&mut self) -> Option<u64> {
        self.unlogged += 1;
        if self.logged_at.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return None;
        }
        self.logged_at = Some(std::time::Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// Recent log lines, newest last inside, handed out newest first.
pub struct LogRing {
    capacity: usize,
    max_bytes: usize,
    lines: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    queue: VecDeque<Arc<str>>,
    bytes: usize,
}

impl LogRing {
    pub fn new(capacity: usize) -> Arc<LogRing> {
        LogRing::with_bytes(capacity, MAX_RING_BYTES)
    }

    pub fn with_bytes(capacity: usize, max_bytes: usize) -> Arc<LogRing> {
        let capacity = capacity.max(MIN_LINES);
        Arc::new(LogRing { capacity, max_bytes, lines: Mutex::new(Lines::default()) })
    }

    pub fn push(&self, line: String) {
        let line: Arc<str> = line.into();
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.bytes += line.len();
        lines.queue.push_back(line);
        while lines.queue.len() > self.capacity || (lines.bytes > self.max_bytes && lines.queue.len() > 1) {
            let old = lines.queue.pop_front().expect("not empty");
            lines.bytes -= old.len();
        }
    }

    /// Newest first, as `Rumble.getLog()` returns them. Only pointers are
    /// copied under the lock, so a reader never holds up the server's logging.
    pub fn recent(&self) -> Vec<String> {
        let snapshot: Vec<Arc<str>> = {
            let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            lines.queue.iter().rev().cloned().collect()
        };
        snapshot.iter().map(|l| l.to_string()).collect()
    }

    /// Bytes held now (for tests and the admin UI).
    pub fn bytes(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

/// `text` made safe for one log line: control characters escaped (`\n`,
/// `\r`, `\xHH`; tab kept) so nothing can start a line of its own, and cut
/// to `max` bytes with a note of how much was dropped.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 24);
    for (i, c) in text.char_indices() {
        if out.len() >= max {
            let _ = write!(out, " [cut {} bytes]", text.len() - i);
            return out;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
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
    // The ring takes INFO and above, and says so: without the filter the
    // `log` crate's max level would be TRACE and every `log::trace!` in
    // wasmtime's unwinder and elsewhere would run through the dispatch.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(RingLayer { ring }.with_filter(LevelFilter::INFO))
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
        self.ring.push(format_line(svc, &clean(&text.0, MAX_LINE)));
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
        } else if HIDDEN_FIELDS.contains(&field.name()) {
            let _ = write!(self.0, " {}=<hidden>", field.name());
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else if HIDDEN_FIELDS.contains(&field.name()) {
            let _ = write!(self.0, " {}=<hidden>", field.name());
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_logs_the_first_then_counts() {
        let mut t = Throttle::default();
        assert_eq!(t.count(), Some(1));
        assert!((0..100).all(|_| t.count().is_none()));
        t.logged_at = Some(std::time::Instant::now() - Throttle::EVERY);
        assert_eq!(t.count(), Some(101));
    }

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
    fn ring_is_bounded_in_bytes() {
        let ring = LogRing::with_bytes(MIN_LINES, 10_000);
        for _ in 0..50 {
            ring.push("x".repeat(1000));
        }
        assert!(ring.bytes() <= 10_000, "{}", ring.bytes());
        assert_eq!(ring.recent().len(), 10);
    }

    #[test]
    fn clean_escapes_controls_and_cuts() {
        assert_eq!(clean("a\nb\r\x1b[31m\tc", 100), "a\\nb\\r\\x1b[31m\tc");
        let long = "é".repeat(3000);
        let cut = clean(&long, MAX_LINE);
        assert!(cut.len() <= MAX_LINE + 32, "{}", cut.len());
        assert!(cut.ends_with(&format!(" [cut {} bytes]", 6000 - MAX_LINE)), "{}", &cut[cut.len() - 40..]);
    }

    #[test]
    fn line_format_matches_rumble() {
        let line = format_line(service_tag("rumble::plugins"), "hello");
        assert!(line.ends_with(" [plugins]: \thello\r\n"), "{line:?}");
        assert_eq!(&line[4..5], "/");
        assert_eq!(line.len(), "YYYY/MM/DD HH:MM:SS".len() + " [plugins]: \thello\r\n".len());
    }
}
