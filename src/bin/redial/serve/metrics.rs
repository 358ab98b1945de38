//! What `GET /metrics` reports (Prometheus text format) and the status
//! page's attempts-per-hour chart.
//!
//! Per-batch figures are kept for the batches the engine still knows: when
//! a batch ends and the engine forgets it, its counters go too (a
//! Prometheus counter reset), so a long-running server does not grow.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use redial::{Event, EventKind};

use super::engine::Status;

/// Upper bounds of the latency histograms' buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Hours the attempts-per-hour chart keeps.
pub const CHART_HOURS: usize = 48;

/// A latency histogram.
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if s <= *bound {
                *count = count.saturating_add(1);
            }
        }
        self.count = self.count.saturating_add(1);
        self.sum += s;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The server's own figures.
#[derive(Debug, Default)]
pub struct Metrics {
    pub fsync: Histogram,
    /// By route pattern (a fixed set: no unbounded labels).
    pub requests: BTreeMap<String, Histogram>,
    pub journal_bytes: u64,
    /// Attempts handed out, by batch (`""` for calls without one).
    attempts: BTreeMap<Arc<str>, u64>,
    /// Terminal events by batch and kind (`expired` with its reason).
    ends: BTreeMap<(Arc<str>, String), u64>,
    /// `(hour since the epoch, attempts)`, the last [`CHART_HOURS`].
    hours: VecDeque<(i64, u64)>,
}

impl Metrics {
    /// Records a group commit: its fsync time, events and dispatches.
    pub fn committed(
        &mut self,
        fsync: Option<Duration>,
        events: &[Event],
        dialed: &[Option<Arc<str>>],
        journal_bytes: u64,
    ) {
        if let Some(d) = fsync {
            self.fsync.observe(d);
        }
        self.journal_bytes = journal_bytes;
        let none: Arc<str> = Arc::from("");
        for batch in dialed {
            let key = batch.clone().unwrap_or_else(|| Arc::clone(&none));
            *self.attempts.entry(key).or_default() += 1;
        }
        for event in events {
            if let EventKind::Triggered { .. } = event.kind {
                self.attempt_at(event.at.timestamp());
            }
            if event.kind.is_terminal() {
                let kind = match &event.kind {
                    EventKind::Expired { reason } => format!(
                        "expired_{}",
                        serde_json::to_value(reason)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    ),
                    other => other.name().to_owned(),
                };
                let batch = event.batch_id.clone().unwrap_or_else(|| Arc::clone(&none));
                *self.ends.entry((batch, kind)).or_default() += 1;
            }
        }
    }

    /// Counts an attempt triggered at `timestamp` (seconds) in the chart.
    pub fn attempt_at(&mut self, timestamp: i64) {
        let hour = timestamp.div_euclid(3600);
        match self.hours.back_mut() {
            Some((h, n)) if *h == hour => *n += 1,
            Some((h, _)) if *h > hour => return,
            _ => self.hours.push_back((hour, 1)),
        }
        while self.hours.len() > CHART_HOURS {
            self.hours.pop_front();
        }
    }

    /// Attempts per hour, oldest first.
    pub fn hours(&self) -> Vec<(i64, u64)> {
        self.hours.iter().copied().collect()
    }

    /// Forgets the per-batch figures of batches the engine no longer knows.
    pub fn prune(&mut self, status: &Status) {
        let live: std::collections::BTreeSet<&str> =
            status.batches.iter().map(|b| &*b.batch_id).collect();
        let known = |b: &Arc<str>| b.is_empty() || live.contains(&**b);
        self.attempts.retain(|b, _| known(b));
        self.ends.retain(|(b, _), _| known(b));
    }

    /// The Prometheus text.
    pub fn render(&self, status: &Status) -> String {
        let mut out = String::new();
        let live = status.live_calls as u64;
        let ready = status.ready as u64;
        let waiting = live.saturating_sub(ready).saturating_sub(status.in_flight);
        out.push_str("# HELP redial_calls Live calls by state.\n# TYPE redial_calls gauge\n");
        let _ = writeln!(out, "redial_calls{{state=\"waiting\"}} {waiting}");
        let _ = writeln!(out, "redial_calls{{state=\"ready\"}} {ready}");
        let _ = writeln!(
            out,
            "redial_calls{{state=\"in_flight\"}} {}",
            status.in_flight
        );
        out.push_str(
            "# HELP redial_batch_calls Live calls of each batch by state.\n# TYPE redial_batch_calls gauge\n",
        );
        for b in &status.batches {
            let name = escape(&b.batch_id);
            let _ = writeln!(
                out,
                "redial_batch_calls{{batch=\"{name}\",state=\"waiting\"}} {}",
                b.waiting
            );
            let _ = writeln!(
                out,
                "redial_batch_calls{{batch=\"{name}\",state=\"ready\"}} {}",
                b.ready
            );
            let _ = writeln!(
                out,
                "redial_batch_calls{{batch=\"{name}\",state=\"in_flight\"}} {}",
                b.in_flight
            );
        }
        let c = &status.counters;
        out.push_str(
            "# HELP redial_accepted_total Requests queued.\n# TYPE redial_accepted_total counter\n",
        );
        let _ = writeln!(out, "redial_accepted_total {}", c.accepted);
        out.push_str("# HELP redial_attempts_total Attempts handed out.\n# TYPE redial_attempts_total counter\n");
        let _ = writeln!(out, "redial_attempts_total {}", c.attempts);
        out.push_str("# HELP redial_batch_attempts_total Attempts handed out since start, by batch (\"\" for none).\n# TYPE redial_batch_attempts_total counter\n");
        for (b, n) in &self.attempts {
            let _ = writeln!(
                out,
                "redial_batch_attempts_total{{batch=\"{}\"}} {n}",
                escape(b)
            );
        }
        out.push_str("# HELP redial_batch_ends_total Calls ended since start, by batch and how.\n# TYPE redial_batch_ends_total counter\n");
        for ((b, kind), n) in &self.ends {
            let _ = writeln!(
                out,
                "redial_batch_ends_total{{batch=\"{}\",event=\"{kind}\"}} {n}",
                escape(b)
            );
        }
        out.push_str("# HELP redial_journal_position Commands journaled.\n# TYPE redial_journal_position counter\n");
        let _ = writeln!(out, "redial_journal_position {}", status.position);
        out.push_str("# HELP redial_journal_bytes_total Journal bytes written since start.\n# TYPE redial_journal_bytes_total counter\n");
        let _ = writeln!(out, "redial_journal_bytes_total {}", self.journal_bytes);
        out.push_str("# HELP redial_fsync_seconds Journal fsync latency.\n# TYPE redial_fsync_seconds histogram\n");
        self.fsync.render(&mut out, "redial_fsync_seconds", "");
        out.push_str("# HELP redial_request_seconds Request latency by route.\n# TYPE redial_request_seconds histogram\n");
        for (route, h) in &self.requests {
            h.render(
                &mut out,
                "redial_request_seconds",
                &format!("route=\"{route}\""),
            );
        }
        out
    }
}

/// A label value: backslash, quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
