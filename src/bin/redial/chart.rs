//! The `--chart` picture: attempts per hour by campaign, with each
//! campaign's trigger windows shaded and DST changes and pauses marked.

use chrono::{DateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use plotters::prelude::*;
use redial::{TimeOfDay, Window};

use super::simulate::Run;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    COLORS.get(i % COLORS.len()).copied().unwrap_or(BLACK)
}

/// Hours since `start` of each UTC-offset change of `tz` in `[start, end)`.
fn offset_changes(tz: Tz, start: DateTime<Utc>, hours: usize) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let offset_at = |t: DateTime<Utc>| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let mut prev = offset_at(start);
    for m in 1..=(hours * 4) {
        let Some(t) =
            start.checked_add_signed(TimeDelta::try_minutes(m as i64 * 15).unwrap_or_default())
        else {
            break;
        };
        let now = offset_at(t);
        if now != prev {
            let dir = if now > prev {
                "clocks forward"
            } else {
                "clocks back"
            };
            out.push((m as f64 / 4.0, format!("{} {dir}", tz.name())));
            prev = now;
        }
    }
    out
}

pub fn draw(run: &Run, path: &str) -> Result<(), String> {
    let s = &run.summary;
    let hours = s.days as usize * 24;
    let start = s.start;
    let peak = s
        .attempts_per_hour
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let campaigns = &run.scenario.campaigns;
    // Room above the curves for one window strip per campaign.
    let strip = f64::from(peak) * 0.05;
    let y_top = f64::from(peak) * 1.08;
    let y_max = y_top + strip * campaigns.len() as f64;
    let root = SVGBackend::new(path, (1400, 700)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing {path}: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!(
        "redial simulate: attempts per hour by campaign ({} calls, {} lines, seed {}); strips on top: trigger windows",
        s.total.accepted, s.lines, s.seed
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..hours as f64, 0f64..y_max)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("simulated time (UTC)")
        .y_desc("attempts per hour")
        .x_labels(s.days as usize * 4 + 1)
        .x_label_formatter(&|h| {
            start
                .checked_add_signed(TimeDelta::try_minutes((*h * 60.0) as i64).unwrap_or_default())
                .map_or_else(String::new, |t| t.format("%a %d %H:%M").to_string())
        })
        .y_label_formatter(&|y| {
            if *y <= y_top {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;

    // Windows: a strip per campaign above the curves, filled where the
    // campaign's trigger window is open, so strips never overlap.
    for (ci, c) in campaigns.iter().enumerate() {
        let Ok(tz) = c.timezone.parse::<Tz>() else {
            continue;
        };
        let t = |v: &Option<String>| v.as_deref().and_then(|t| TimeOfDay::parse(t).ok());
        let Ok(w) = Window::new(t(&c.min_trigger_time), t(&c.max_trigger_time)) else {
            continue;
        };
        let mut at = start;
        let end = start
            .checked_add_signed(TimeDelta::try_hours(hours as i64).unwrap_or_default())
            .unwrap_or(start);
        let top = y_max - strip * ci as f64;
        let policies = run.policies.get(ci).filter(|p| !p.is_empty());
        let label = match policies {
            Some(p) => format!("{} window {} under policy {}", c.name, w, p.join(", ")),
            None => format!("{} window {}", c.name, w),
        };
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (0.3, top - strip * 0.2),
                ("sans-serif", 13).into_font().color(&BLACK),
            )))
            .map_err(|e| err(&e))?;
        // The engine's permitted intervals of the campaign's first call
        // (lunch breaks, weekends, holidays, DST); the window's
        // occurrences when no call was accepted.
        let mut bars: Vec<(f64, f64)> = run.permitted.get(ci).cloned().unwrap_or_default();
        let from_window = bars.is_empty();
        while from_window && let Some(o) = w.first_ending_after(tz, at) {
            if o.start >= end {
                break;
            }
            let x0 = (o
                .start
                .max(start)
                .signed_duration_since(start)
                .num_seconds() as f64
                / 3600.0)
                .max(0.0);
            let x1 = (o.end.min(end).signed_duration_since(start).num_seconds() as f64 / 3600.0)
                .min(hours as f64);
            bars.push((x0, x1));
            at = o.end;
        }
        for (x0, x1) in bars {
            let (x0, x1) = (x0.max(0.0), x1.min(hours as f64));
            if x0 >= x1 {
                continue;
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, top - strip * 0.9), (x1, top)],
                    color(ci).mix(0.35).filled(),
                )))
                .map_err(|e| err(&e))?;
        }
    }

    // DST changes in any campaign's zone, and pauses.
    let mut marks: Vec<(f64, String)> = Vec::new();
    let mut zones: Vec<Tz> = campaigns
        .iter()
        .filter_map(|c| c.timezone.parse::<Tz>().ok())
        .collect();
    zones.sort_by_key(|z| z.name());
    zones.dedup();
    for z in zones {
        marks.extend(offset_changes(z, start, hours));
    }
    for p in &run.scenario.pauses {
        let h = |t: DateTime<Utc>| t.signed_duration_since(start).num_seconds() as f64 / 3600.0;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(h(p.at), 0.0), (h(p.resume_at), y_top)],
                BLACK.mix(0.08).filled(),
            )))
            .map_err(|e| err(&e))?;
        marks.push((h(p.at), format!("{} paused", p.batch_id)));
        marks.push((h(p.resume_at), format!("{} resumed", p.batch_id)));
    }
    for (i, (x, label)) in marks.iter().enumerate() {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(*x, 0.0), (*x, y_top)],
                6,
                4,
                BLACK.mix(0.7).stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        let y = y_top * (0.97 - 0.05 * (i % 3) as f64);
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" {label}"),
                (*x, y),
                ("sans-serif", 15).into_font().color(&BLACK),
            )))
            .map_err(|e| err(&e))?;
    }

    for (ci, row) in s.attempts_per_hour.iter().enumerate() {
        let name = campaigns.get(ci).map_or("?", |c| c.name.as_str());
        let zone = campaigns.get(ci).map_or("?", |c| c.timezone.as_str());
        let col = color(ci);
        chart
            .draw_series(LineSeries::new(
                row.iter()
                    .enumerate()
                    .map(|(h, n)| (h as f64 + 0.5, f64::from(*n))),
                col.stroke_width(3),
            ))
            .map_err(|e| err(&e))?
            .label(format!("{name} ({zone})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::Coordinate(1000, 130))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
