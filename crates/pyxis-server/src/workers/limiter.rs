//! A bandwidth cap for the workers' traffic (a token bucket without the
//! bucket: each transfer reserves its slot on a shared clock).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

#[derive(Debug)]
pub struct Limiter {
    bytes_per_sec: u64,
    next: Mutex<Instant>,
}

impl Limiter {
    pub fn new(bytes_per_sec: u64) -> Self {
        Self { bytes_per_sec: bytes_per_sec.max(1), next: Mutex::new(Instant::now()) }
    }

    /// Waits until `bytes` may be moved without passing the rate.
    pub async fn take(&self, bytes: u64) {
        let wait = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64);
            start.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_the_rate() {
        let l = Limiter::new(10_000_000);
        let t = Instant::now();
        for _ in 0..5 {
            l.take(1_000_000).await;
        }
        // 5 MB at 10 MB/s: the first is free, the other four wait 0.4 s in all.
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(380) && e < Duration::from_secs(2), "{e:?}");
    }
}
