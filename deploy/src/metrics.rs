//! The endpoint's counters in the Prometheus text format: requests by route and status, errors, records
//! scored, and a latency histogram of scoring requests.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::capture::CaptureCounters;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_SECONDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A model, a version, and whether it scored in the shadow.
type Answered = (String, Option<i64>, bool);

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
    /// Requests answered (or scored in the shadow) by model, version and role.
    answered: Mutex<BTreeMap<Answered, u64>>,
    shadow_failures: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub(crate) fn request(&self, route: &'static str, status: u16, latency: Duration) {
        *self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry((route, status)).or_default() +=
            1;
        if route.ends_with("/score") {
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

    /// Counts a request answered by a model version, or scored by it in the shadow.
    pub(crate) fn answered(&self, model: &str, version: Option<i64>, shadow: bool) {
        let mut answered = self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = answered.get_mut(&(model.to_owned(), version, shadow)) {
            *n += 1;
        } else {
            answered.insert((model.to_owned(), version, shadow), 1);
        }
    }

    /// Counts a shadow that failed on input its model accepted.
    pub(crate) fn shadow_failed(&self) {
        self.shadow_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests answered with a 4xx or 5xx status.
    pub(crate) fn errors(&self) -> u64 {
        self.snapshot().iter().filter(|((_, s), _)| *s >= 400).map(|(_, n)| n).sum()
    }

    fn snapshot(&self) -> BTreeMap<(&'static str, u16), u64> {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The Prometheus text exposition; `model` names what the endpoint serves.
    pub(crate) fn render(&self, model: &str, capture: Option<&CaptureCounters>) -> String {
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
        self.render_versions(&mut out);
        if let Some(c) = capture {
            render_capture(&mut out, c);
        }
        out
    }

    fn render_versions(&self, out: &mut String) {
        let answered = self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let _ = writeln!(
            out,
            "# HELP pipewright_model_requests_total Scoring requests by the model version that answered them, or scored them in the shadow."
        );
        let _ = writeln!(out, "# TYPE pipewright_model_requests_total counter");
        for ((name, version, shadow), n) in &answered {
            let name = name.replace('\\', "\\\\").replace('"', "\\\"");
            let version = version.map_or("-".into(), |v| v.to_string());
            let role = if *shadow { "shadow" } else { "answer" };
            let _ = writeln!(
                out,
                "pipewright_model_requests_total{{model=\"{name}\",version=\"{version}\",role=\"{role}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP pipewright_shadow_failures_total Requests a shadow version failed to score.");
        let _ = writeln!(out, "# TYPE pipewright_shadow_failures_total counter");
        let _ = writeln!(out, "pipewright_shadow_failures_total {}", self.shadow_failures.load(Ordering::Relaxed));
    }
}

/// The capture's counters: records and files written, records dropped by reason.
fn render_capture(out: &mut String, c: &CaptureCounters) {
    let _ = writeln!(out, "# HELP pipewright_capture_records_total Records written to the capture store.");
    let _ = writeln!(out, "# TYPE pipewright_capture_records_total counter");
    let _ = writeln!(out, "pipewright_capture_records_total {}", c.rows.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP pipewright_capture_files_total Files written to the capture store.");
    let _ = writeln!(out, "# TYPE pipewright_capture_files_total counter");
    let _ = writeln!(out, "pipewright_capture_files_total {}", c.files.load(Ordering::Relaxed));
    let _ = writeln!(
        out,
        "# HELP pipewright_capture_dropped_total Records not captured: the queue was full (backlog), the store at its limit (full), or a write failed (write)."
    );
    let _ = writeln!(out, "# TYPE pipewright_capture_dropped_total counter");
    for (reason, n) in [("backlog", &c.dropped_backlog), ("full", &c.dropped_full), ("write", &c.dropped_write)] {
        let _ = writeln!(out, "pipewright_capture_dropped_total{{reason=\"{reason}\"}} {}", n.load(Ordering::Relaxed));
    }
}

/// The time now, UTC, RFC 3339 with milliseconds.
pub(crate) fn utc_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = pipewright_engine::UtcTime::from_unix(i64::try_from(now.as_secs()).unwrap_or(i64::MAX)).rfc3339();
    format!("{}.{:03}Z", seconds.trim_end_matches('Z'), now.subsec_millis())
}

impl Metrics {
    #[cfg(test)]
    fn render_plain(&self, model: &str) -> String {
        self.render(model, None)
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
        let text = m.render_plain("m");
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
