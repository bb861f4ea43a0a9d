//! Everything a script writes to the server log passes here: `print`,
//! `io.write` to stdout/stderr, `Rumble.dprint`, warnings and the denials
//! its calls provoke. One `ScriptLog` per script, shared by its instances.
//!
//! - Text is cleaned (`log::clean`): control characters escaped, so a script
//!   cannot forge a line that looks like the server's, and cut at
//!   `log::MAX_LINE` bytes, so a 14 MB `print` costs nothing to keep.
//! - A token bucket of `ScriptLogRate` lines per second (burst of the same
//!   size) bounds how much of the log one script can fill; lines over it are
//!   counted and the count is logged once per interval, so the operator
//!   knows something was dropped and the server's own lines stay in the ring.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::bindings::Level;
use super::token_bucket::TokenBucket;
use crate::log::{MAX_LINE, clean};

/// How often, at most, the count of suppressed lines is reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);

pub struct ScriptLog {
    name: String,
    /// Lines per second (and the bucket's size).
    rate: f64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    lines: TokenBucket,
    suppressed: u64,
    reported: Instant,
}

impl ScriptLog {
    pub fn new(name: &str, lines_per_second: u32) -> ScriptLog {
        let rate = f64::from(lines_per_second.max(1));
        let now = Instant::now();
        ScriptLog {
            name: name.to_string(),
            rate,
            bucket: Mutex::new(Bucket { lines: TokenBucket::new(rate, rate), suppressed: 0, reported: now }),
        }
    }

    /// Log `text` as one line from this script, if its rate allows.
    pub fn write(&self, level: Level, text: &str) {
        if let Some(text) = self.admit(text) {
            let name = &self.name;
            match level {
                Level::Error => tracing::error!(target: "lua", "{name}: {text}"),
                Level::Warn => tracing::warn!(target: "lua", "{name}: {text}"),
                Level::Info => tracing::info!(target: "lua", "{name}: {text}"),
                Level::Debug => tracing::debug!(target: "lua", "{name}: {text}"),
            }
        }
    }

    /// Log that the script was refused `capability` (within the same rate:
    /// a script can provoke denials in a loop).
    pub fn denial(&self, capability: &str) {
        if let Some(cap) = self.admit(capability) {
            tracing::warn!(target: "lua", "script \"{}\": permission denied: {cap}", self.name);
        }
    }

    /// The cleaned text if the rate allows one more line; reports the count
    /// of suppressed lines when it is time.
    fn admit(&self, text: &str) -> Option<String> {
        let (allowed, report) = self.take_token();
        if let Some(count) = report {
            self.report(count);
        }
        allowed.then(|| clean(text, MAX_LINE))
    }

    fn report(&self, count: u64) {
        tracing::warn!(target: "lua", "script \"{}\": {count} log lines suppressed (over {} lines/s)", self.name, self.rate);
    }

    /// Whether one more line may go out, and a count of suppressed lines to
    /// report now (at most once per `REPORT_EVERY`).
    fn take_token(&self) -> (bool, Option<u64>) {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let allowed = b.lines.try_take(1.0);
        if !allowed {
            b.suppressed += 1;
        }
        (allowed, b.due_report())
    }

    /// Report suppressed lines not yet reported (the ticker calls this, so a
    /// script that went quiet still has its count logged).
    pub fn flush_report(&self) {
        let due = self.bucket.lock().unwrap_or_else(|e| e.into_inner()).due_report();
        if let Some(count) = due {
            self.report(count);
        }
    }
}

impl Bucket {
    /// The suppressed count, if there is one and the interval is over.
    fn due_report(&mut self) -> Option<u64> {
        if self.suppressed == 0 || self.reported.elapsed() < REPORT_EVERY {
            return None;
        }
        self.reported = Instant::now();
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_counts() {
        let log = ScriptLog::new("t", 10);
        let allowed = (0..100).filter(|_| log.take_token().0).count();
        assert!((10..=11).contains(&allowed), "{allowed}");
        let b = log.bucket.lock().unwrap();
        assert!(b.suppressed >= 89, "{}", b.suppressed);
    }
}
