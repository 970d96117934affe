//! Percentiles and rates.
use std::time::Duration;

#[derive(Default)]
pub struct Percentiles(Vec<Duration>);

impl Percentiles {
    pub fn add(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The `p`th percentile in milliseconds (nearest rank).
    pub fn ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil().max(1.0) as usize - 1;
        self.0[rank.min(self.0.len() - 1)].as_secs_f64() * 1000.0
    }
}

pub fn rate(n: f64, elapsed: Duration) -> f64 {
    n / elapsed.as_secs_f64()
}
