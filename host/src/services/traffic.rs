//! A service's traffic per hour, for `Rumble.trafficInfo`: a bounded ring
//! of closed hours plus the open one, kept as differences of the service's
//! running totals so the hot path (every read and write) touches only its
//! atomics.

use std::collections::VecDeque;
use std::ops::Sub;
use std::time::{SystemTime, UNIX_EPOCH};

/// Hours kept (Rumble's 170: a week and two hours).
pub const TRAFFIC_HOURS: usize = 170;

/// One hour's (or the totals') hits, bytes in plus out, and rejections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub hits: u64,
    pub bytes: u64,
    pub rejections: u64,
}

impl Sub for Traffic {
    type Output = Traffic;
    fn sub(self, base: Traffic) -> Traffic {
        Traffic {
            hits: self.hits.saturating_sub(base.hits),
            bytes: self.bytes.saturating_sub(base.bytes),
            rejections: self.rejections.saturating_sub(base.rejections),
        }
    }
}

/// Hours since the epoch.
pub fn this_hour() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() / 3600).unwrap_or(0)
}

/// How long from `now` until just past the next full hour.
pub fn until_next_hour(now: SystemTime) -> std::time::Duration {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    std::time::Duration::from_secs(3600 - secs % 3600 + 1)
}

#[derive(Default)]
pub struct Hourly {
    /// The open hour; 0 until the first roll.
    hour: u64,
    /// The totals when the open hour started.
    base: Traffic,
    /// Closed hours, oldest first, at most `TRAFFIC_HOURS`.
    closed: VecDeque<(u64, Traffic)>,
}

impl Hourly {
    /// At `now` with `totals`: if the open hour is over, close it with what
    /// happened since it opened and open `now`.
    pub fn roll(&mut self, now: u64, totals: Traffic) {
        if self.hour == 0 {
            self.hour = now;
        }
        if now <= self.hour {
            return;
        }
        self.closed.push_back((self.hour, totals - self.base));
        while self.closed.len() > TRAFFIC_HOURS {
            self.closed.pop_front();
        }
        self.base = totals;
        self.hour = now;
    }

    /// Newest first, one entry per hour back from the open one (quiet hours
    /// are zeros, so after a roll entry n is n-1 hours ago), down to the
    /// oldest kept hour.
    pub fn history(&self, totals: Traffic) -> Vec<Traffic> {
        let mut out = vec![totals - self.base];
        let mut hour = self.hour;
        for &(closed_hour, traffic) in self.closed.iter().rev() {
            while hour > closed_hour + 1 && out.len() < TRAFFIC_HOURS {
                out.push(Traffic::default());
                hour -= 1;
            }
            if out.len() >= TRAFFIC_HOURS {
                break;
            }
            out.push(traffic);
            hour = closed_hour;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_roll_is_just_past_the_hour() {
        let at = |secs| UNIX_EPOCH + std::time::Duration::from_secs(secs);
        assert_eq!(until_next_hour(at(7200)).as_secs(), 3601);
        assert_eq!(until_next_hour(at(7200 + 3599)).as_secs(), 2);
        assert_eq!(this_hour() + 1, (SystemTime::now() + until_next_hour(SystemTime::now())).duration_since(UNIX_EPOCH).unwrap().as_secs() / 3600);
    }

    fn t(hits: u64) -> Traffic {
        Traffic { hits, bytes: hits * 10, rejections: 0 }
    }

    #[test]
    fn hours_close_as_differences_and_quiet_hours_are_zeros() {
        let mut h = Hourly::default();
        h.roll(100, t(0));
        h.roll(100, t(3));
        h.roll(101, t(5)); // hour 100 saw 5
        h.roll(104, t(6)); // hour 101 saw 1; 102 and 103 quiet
        assert_eq!(h.history(t(8)), vec![t(2), t(0), t(0), t(1), t(5)]);
    }

    #[test]
    fn the_ring_is_bounded() {
        let mut h = Hourly::default();
        for hour in 1..=1000 {
            h.roll(hour, t(hour));
        }
        assert_eq!(h.closed.len(), TRAFFIC_HOURS);
        assert_eq!(h.history(t(1000)).len(), TRAFFIC_HOURS);
    }
}
