//! Per-client rate limiting: a token bucket per client (the signed-in subject, or the address of a client
//! that is not signed in), refilled at a steady rate up to a burst.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Token buckets by client.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_second` requests per second on average, at most `burst` at once; 0 turns limiting off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a token for `client`: `Ok` to go on, or `Err(seconds)` to wait before trying again.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &str, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            // Forget clients whose buckets are full again; they lose nothing.
            let full = self.burst;
            let rate = self.per_second;
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate < full
            });
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let limiter = RateLimiter::new(2, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("alice", start).is_ok());
        }
        assert_eq!(limiter.check_at("alice", start), Err(1));
        // Another client has its own bucket.
        assert!(limiter.check_at("bob", start).is_ok());
        // Half a second refills one token at two per second.
        let later = start + Duration::from_millis(500);
        assert!(limiter.check_at("alice", later).is_ok());
        assert!(limiter.check_at("alice", later).is_err());
    }

    #[test]
    fn zero_turns_limiting_off() {
        let limiter = RateLimiter::new(0, 0);
        let now = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.check_at("alice", now).is_ok());
        }
    }
}
