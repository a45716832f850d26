//! The endpoint's counters in the Prometheus text format: requests by route and status, errors, records
//! scored, and a latency histogram of scoring requests.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_SECONDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Counters shared by every request.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Requests by (route, status code).
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Scoring requests per latency bucket (the last counts those above every bound).
    buckets: [AtomicU64; BUCKETS_SECONDS.len() + 1],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    records: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub(crate) fn request(&self, route: &'static str, status: u16, latency: Duration) {
        *self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry((route, status)).or_default() +=
            1;
        if route == "/score" {
            let seconds = latency.as_secs_f64();
            let bucket = BUCKETS_SECONDS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS_SECONDS.len());
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
            self.latency_sum_micros.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
            self.latency_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts records scored.
    pub(crate) fn scored(&self, records: usize) {
        self.records.fetch_add(records as u64, Ordering::Relaxed);
    }

    /// Requests answered with a 4xx or 5xx status.
    pub(crate) fn errors(&self) -> u64 {
        self.snapshot().iter().filter(|((_, s), _)| *s >= 400).map(|(_, n)| n).sum()
    }

    fn snapshot(&self) -> BTreeMap<(&'static str, u16), u64> {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self, model: &str) -> String {
        let mut out = String::new();
        let model = model.replace('\\', "\\\\").replace('"', "\\\"");
        let requests = self.snapshot();
        let _ = writeln!(out, "# HELP pipewright_requests_total Requests answered, by route and status code.");
        let _ = writeln!(out, "# TYPE pipewright_requests_total counter");
        for ((route, status), n) in &requests {
            let _ = writeln!(
                out,
                "pipewright_requests_total{{model=\"{model}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP pipewright_request_errors_total Requests answered with a 4xx or 5xx status.");
        let _ = writeln!(out, "# TYPE pipewright_request_errors_total counter");
        let _ = writeln!(out, "pipewright_request_errors_total{{model=\"{model}\"}} {}", self.errors());
        let _ = writeln!(out, "# HELP pipewright_records_scored_total Records scored.");
        let _ = writeln!(out, "# TYPE pipewright_records_scored_total counter");
        let _ = writeln!(
            out,
            "pipewright_records_scored_total{{model=\"{model}\"}} {}",
            self.records.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP pipewright_score_latency_seconds Time to answer a scoring request.");
        let _ = writeln!(out, "# TYPE pipewright_score_latency_seconds histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS_SECONDS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "pipewright_score_latency_seconds_bucket{{model=\"{model}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "pipewright_score_latency_seconds_bucket{{model=\"{model}\",le=\"+Inf\"}} {count}");
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "pipewright_score_latency_seconds_sum{{model=\"{model}\"}} {sum}");
        let _ = writeln!(out, "pipewright_score_latency_seconds_count{{model=\"{model}\"}} {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_every_scoring_request() {
        let m = Metrics::default();
        m.request("/score", 200, Duration::from_micros(300));
        m.request("/score", 200, Duration::from_millis(3));
        m.request("/score", 422, Duration::from_secs(20));
        m.request("/health", 200, Duration::from_micros(10));
        m.scored(7);
        let text = m.render("m");
        assert!(text.contains("pipewright_score_latency_seconds_bucket{model=\"m\",le=\"0.0005\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("pipewright_score_latency_seconds_count{model=\"m\"} 3\n"), "{text}");
        assert!(text.contains("route=\"/health\",status=\"200\"} 1\n"), "{text}");
        assert!(text.contains("pipewright_request_errors_total{model=\"m\"} 1\n"), "{text}");
        assert!(text.contains("pipewright_records_scored_total{model=\"m\"} 7\n"), "{text}");
    }
}
