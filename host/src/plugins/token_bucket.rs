//! A token bucket: `rate` tokens a second, at most `capacity` saved. A
//! script's CPU share (tokens are nanoseconds of CPU) and its log rate
//! (tokens are lines) are both one. Spending may run into debt, which is
//! paid back at `rate` before anything more is allowed.

use std::time::{Duration, Instant};

pub struct TokenBucket {
    /// Tokens added per second.
    rate: f64,
    capacity: f64,
    /// Negative while in debt.
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, capacity: f64) -> TokenBucket {
        TokenBucket { rate, capacity, tokens: capacity, refilled: Instant::now() }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.capacity);
        self.refilled = now;
    }

    /// Take `n` tokens if there are that many.
    pub fn try_take(&mut self, n: f64) -> bool {
        self.refill();
        let allowed = self.tokens >= n;
        if allowed {
            self.tokens -= n;
        }
        allowed
    }

    /// Spend `n` tokens, into debt if need be.
    pub fn spend(&mut self, n: f64) {
        self.refill();
        self.tokens -= n;
    }

    /// How long until the debt is paid, if there is one.
    pub fn debt(&mut self) -> Option<Duration> {
        self.refill();
        (self.tokens < 0.0).then(|| Duration::from_secs_f64(-self.tokens / self.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_and_debt_is_timed() {
        let mut b = TokenBucket::new(10.0, 10.0);
        let allowed = (0..100).filter(|_| b.try_take(1.0)).count();
        assert!((10..=11).contains(&allowed), "{allowed}");
        let mut b = TokenBucket::new(1000.0, 100.0);
        b.spend(600.0);
        let wait = b.debt().expect("in debt");
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
    }
}
