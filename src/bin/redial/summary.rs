//! The summary of `redial simulate` as a text table and as JSON.

use serde_json::Value;

use crate::simulate::Run;

/// The summary as a text table. Engine timings vary run to run; everything
/// else is a pure function of the scenario and seed.
pub fn table(run: &Run, with_timings: bool) -> String {
    let s = &run.summary;
    let mut out = format!(
        "redial simulate: seed {}, {} day(s) from {}, {} lines, {} agents\n\n",
        s.seed,
        s.days,
        s.start.format("%Y-%m-%d %H:%M UTC"),
        s.lines,
        run.scenario.agents.len()
    );
    out += &format!(
        "{:<12} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
        "campaign",
        "rejected",
        "accepted",
        "completed",
        "exhausted",
        "expired",
        "cancelled",
        "failed",
        "pending",
        "attempts",
        "att/call",
        "carries",
        "p50 min",
        "p95 min",
        "max min"
    );
    for c in s.campaigns.iter().chain(std::iter::once(&s.total)) {
        out += &format!(
            "{:<12} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9} {:>7} {:>7} {:>8} {:>7.2} {:>7} {:>7.0} {:>7.0} {:>7.0}\n",
            c.name,
            c.rejected,
            c.accepted,
            c.completed,
            c.exhausted,
            c.expired,
            c.cancelled,
            c.failed,
            c.still_pending,
            c.attempts,
            c.attempts_per_call,
            c.carry_overs,
            c.connect_p50_minutes,
            c.connect_p95_minutes,
            c.connect_max_minutes
        );
    }
    out += &format!(
        "\nline utilisation {:.1}%   calls placed outside permitted time: {}\n",
        s.line_utilisation * 100.0,
        s.total.outside_permitted
    );
    if with_timings {
        let e = &s.engine;
        out += &format!(
            "engine: {} events in {:.3} s of engine time = {:.0} decisions/s; peak pending {}; {}\n",
            e.events,
            e.engine_seconds,
            e.decisions_per_second,
            e.peak_pending_calls,
            e.resident_bytes_per_pending_call
                .map_or("memory per pending call n/a".to_owned(), |b| format!("~{b:.0} resident bytes per pending call (RSS growth / peak pending, metadata included)"))
        );
    }
    out
}

/// The summary as JSON. `engine` timings are left out unless asked for, so
/// that the file is byte-identical for a seed.
pub fn json(run: &Run, with_timings: bool) -> String {
    let mut v = serde_json::to_value(&run.summary).unwrap_or(Value::Null);
    if !with_timings && let Some(e) = v.get_mut("engine").and_then(Value::as_object_mut) {
        e.remove("engine_seconds");
        e.remove("decisions_per_second");
        e.remove("resident_bytes_per_pending_call");
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
