//! The status page at `GET /`: live counts per batch and attempts per
//! hour, as one self-refreshing HTML document with an inline SVG chart
//! (no scripts, no external assets). It shows no number and no metadata,
//! which is why it needs no key.

use std::fmt::Write as _;

use chrono::DateTime;

use super::engine::Status;

/// Seconds between the page's refreshes.
const REFRESH: u32 = 5;

/// The page.
pub fn render(status: &Status, hours: &[(i64, u64)]) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH}">
<title>redial</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.paused {{ color: #b35900; }}
svg text {{ font-size: 11px; fill: #555; }}
</style></head><body>
<h1>redial</h1>
<p>Engine clock {clock} &middot; journal position {position} &middot; {live} live calls &middot; {accepted} accepted &middot; {attempts} attempts</p>
<h2>Batches</h2>
"#,
        clock = status
            .now
            .map_or_else(|| "not started".to_owned(), |t| t.to_rfc3339()),
        position = status.position,
        live = status.live_calls,
        accepted = status.counters.accepted,
        attempts = status.counters.attempts,
    );
    if status.batches.is_empty() {
        html.push_str("<p>No batch has live calls.</p>\n");
    } else {
        html.push_str(
            "<table id=\"batches\"><tr><th>batch</th><th>state</th><th>waiting</th><th>ready</th><th>in flight</th></tr>\n",
        );
        for b in &status.batches {
            let (class, state) = if b.paused {
                (" class=\"paused\"", "paused")
            } else {
                ("", "running")
            };
            let _ = writeln!(
                html,
                "<tr{class}><td>{}</td><td>{state}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&b.batch_id),
                b.waiting,
                b.ready,
                b.in_flight
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("<h2>Attempts per hour (UTC)</h2>\n");
    html.push_str(&chart(hours, status.now));
    html.push_str("</body></html>\n");
    html
}

/// Hours the chart shows, ending with the engine clock's.
const CHART_SPAN: i64 = 24;

/// Bars of attempts per hour over the last [`CHART_SPAN`] hours (the
/// current one last), with the hour marked every six.
fn chart(hours: &[(i64, u64)], now: Option<DateTime<chrono::Utc>>) -> String {
    let Some(last) = now
        .map(|t| t.timestamp().div_euclid(3600))
        .or_else(|| hours.last().map(|(h, _)| *h))
    else {
        return "<p>No attempts yet.</p>\n".to_owned();
    };
    let first = last.saturating_sub(CHART_SPAN - 1);
    let (left, width, height, bottom) = (40.0_f64, 720.0_f64, 200.0_f64, 22.0_f64);
    let bar = width / CHART_SPAN as f64;
    let shown = hours.iter().filter(|(h, _)| (first..=last).contains(h));
    let max = shown.clone().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        "<svg id=\"chart\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"attempts per hour\">\n",
        left + width + 10.0,
        height + bottom + 8.0
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{height}\" x2=\"{}\" y2=\"{height}\" stroke=\"#999\"/><text x=\"{}\" y=\"12\" text-anchor=\"end\">{max}</text><text x=\"{}\" y=\"{height}\" text-anchor=\"end\">0</text>",
        left + width,
        left - 4.0,
        left - 4.0,
    );
    for (hour, n) in shown {
        let x = left + (hour.saturating_sub(first)) as f64 * bar;
        let h = (*n as f64 / max) * (height - 16.0);
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#1f77b4\"><title>{} UTC, attempts: {n}</title></rect>",
            height - h,
            (bar - 2.0).max(1.0),
            label(*hour),
        );
    }
    for tick in (0..CHART_SPAN).step_by(6) {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\">{}</text>",
            left + tick as f64 * bar,
            height + 16.0,
            label(first.saturating_add(tick)),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn label(hour: i64) -> String {
    DateTime::from_timestamp(hour.saturating_mul(3600), 0)
        .map_or_else(String::new, |t| t.format("%m-%d %H:00").to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
