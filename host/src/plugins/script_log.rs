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

use crate::log::{MAX_LINE, clean};

/// How often, at most, the count of suppressed lines is reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

pub struct ScriptLog {
    name: String,
    /// Lines per second (and the bucket's size).
    rate: f64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
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
            bucket: Mutex::new(Bucket { tokens: rate, refilled: now, suppressed: 0, reported: now }),
        }
    }

    /// Log `text` as one line from this script, if its rate allows.
    pub fn write(&self, level: LogLevel, text: &str) {
        if let Some(text) = self.admit(text) {
            let name = &self.name;
            match level {
                LogLevel::Error => tracing::error!(target: "lua", "{name}: {text}"),
                LogLevel::Warn => tracing::warn!(target: "lua", "{name}: {text}"),
                LogLevel::Info => tracing::info!(target: "lua", "{name}: {text}"),
                LogLevel::Debug => tracing::debug!(target: "lua", "{name}: {text}"),
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
            tracing::warn!(
                target: "lua",
                "script \"{}\": {count} log lines suppressed (over {} lines/s)",
                self.name,
                self.rate
            );
        }
        allowed.then(|| clean(text, MAX_LINE))
    }

    /// Whether one more line may go out, and a count of suppressed lines to
    /// report now (at most once per `REPORT_EVERY`).
    fn take_token(&self) -> (bool, Option<u64>) {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(b.refilled).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.rate);
        b.refilled = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        } else {
            b.suppressed += 1;
        }
        let report = if b.suppressed > 0 && now.duration_since(b.reported) >= REPORT_EVERY {
            b.reported = now;
            Some(std::mem::take(&mut b.suppressed))
        } else {
            None
        };
        (allowed, report)
    }

    /// Report suppressed lines not yet reported (the ticker calls this, so a
    /// script that went quiet still has its count logged).
    pub fn flush_report(&self) {
        let count = {
            let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
            if b.suppressed == 0 || b.reported.elapsed() < REPORT_EVERY {
                return;
            }
            b.reported = Instant::now();
            std::mem::take(&mut b.suppressed)
        };
        tracing::warn!(target: "lua", "script \"{}\": {count} log lines suppressed (over {} lines/s)", self.name, self.rate);
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
