//! `redial`: simulate a campaign, replay conformance cases, plan a call's attempts.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "redial/chart.rs"]
mod chart;
#[path = "redial/scenario.rs"]
mod scenario;
#[cfg(feature = "server")]
#[path = "redial/serve/mod.rs"]
mod serve;
#[path = "redial/simulate.rs"]
mod simulate;
#[path = "redial/summary.rs"]
mod summary;

use std::io::IsTerminal;

/// `println!` for the CLI's output: when the reader has gone (`redial
/// replay case.json | head`), end quietly instead of panicking; any other
/// write error ends with a message and status 1.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("redial: cannot write the output: {e}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
    }};
}
use std::process::ExitCode;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use redial::trace::{self, Case};
use redial::{CallRequest, Config, EventKind, Outcome, ScheduleAt, Scheduler};

#[derive(Parser)]
#[command(
    name = "redial",
    version,
    about = "Deterministic scheduling engine for outbound AI voice calls"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a conformance case and print its events as JSON lines.
    Replay {
        /// The case file (trace-format.md).
        case: String,
        /// Compare with the case's `expect`; exit 1 on a difference.
        #[arg(long)]
        check: bool,
    },
    /// Print the attempt ladder of one request, assuming no attempt is answered.
    Plan {
        /// A request body (JSON file, or - for standard input).
        request: String,
        /// The submit instant, RFC 3339 (for example 2026-03-07T18:00:00-05:00).
        #[arg(long)]
        now: String,
        /// The engine's default time zone (the request's `timezone` wins).
        #[arg(long)]
        timezone: Option<String>,
        /// An engine configuration (JSON), with calling policies; the
        /// plan then shows the permitted intervals of the call's next days.
        #[arg(long)]
        config: Option<String>,
    },
    /// Run a campaign on a simulated clock and summarise it (the built-in
    /// default scenario unless --scenario is given).
    Simulate {
        /// A scenario file (JSON); missing keys take the default scenario's values.
        #[arg(long)]
        scenario: Option<String>,
        /// Seed for every random choice (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Write an SVG chart of attempts per hour.
        #[arg(long)]
        chart: Option<String>,
        /// Write the summary as JSON.
        #[arg(long)]
        json: Option<String>,
        /// Print the default scenario as JSON and exit.
        #[arg(long)]
        print_default_scenario: bool,
        /// Leave wall-clock timings out of the printed summary (byte-identical output for a seed).
        #[arg(long)]
        no_timings: bool,
    },
    /// Serve the HTTP API (docs/spec/http.md), durable in --data-dir.
    #[cfg(feature = "server")]
    Serve {
        /// Where the journal and snapshots live (created if missing).
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// The address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// A JSON file: {"api_keys": [...], "engine": {engine configuration},
        /// "snapshot_every": N, "event_retention": N}.
        #[arg(long)]
        config: Option<String>,
        /// Answer before fsync: UNSAFE, for measuring what fsync costs.
        #[arg(long)]
        no_fsync: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay { case, check } => replay(&case, check),
        Command::Plan {
            request,
            now,
            timezone,
            config,
        } => plan(&request, &now, timezone.as_deref(), config.as_deref()),
        Command::Simulate {
            scenario,
            seed,
            chart,
            json,
            print_default_scenario,
            no_timings,
        } => simulate(
            scenario.as_deref(),
            seed,
            chart.as_deref(),
            json.as_deref(),
            print_default_scenario,
            no_timings,
        ),
        #[cfg(feature = "server")]
        Command::Serve {
            data_dir,
            listen,
            config,
            no_fsync,
        } => serve::run(serve::Options {
            data_dir,
            listen,
            config,
            no_fsync,
        }),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("redial: {message}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &str) -> Result<String, String> {
    if path == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("reading standard input: {e}"))
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))
    }
}

fn replay(path: &str, check: bool) -> Result<ExitCode, String> {
    let case = Case::from_json(&read(path)?).map_err(|e| format!("{path}: {e}"))?;
    let lines = trace::replay(&case).map_err(|e| format!("{path}: {e}"))?;
    if !check {
        for line in &lines {
            say!("{}", trace::format_line(line));
        }
        return Ok(ExitCode::SUCCESS);
    }
    match trace::compare(&case.expect, &lines) {
        Ok(()) => {
            say!("ok: {path} ({} events) {}", lines.len(), case.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(diff) => {
            say!("FAIL: {path} {}\n{diff}", case.name);
            Ok(ExitCode::from(1))
        }
    }
}

fn plan(
    path: &str,
    now: &str,
    timezone: Option<&str>,
    config_path: Option<&str>,
) -> Result<ExitCode, String> {
    let body = read(path)?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(now)
        .map_err(|e| {
            format!("--now {now:?}: {e}; expected RFC 3339 such as 2026-03-07T18:00:00-05:00")
        })?
        .with_timezone(&Utc);
    let mut config = match config_path {
        Some(p) => Config::from_json(&read(p)?).map_err(|e| format!("{p}: {e}"))?,
        None => Config::default(),
    };
    if let Some(z) = timezone {
        config.default_timezone = z
            .parse::<Tz>()
            .map_err(|_| format!("--timezone {z:?}: expected an IANA zone name"))?;
    }
    let request = CallRequest::from_json(body.as_bytes(), &config)
        .map_err(|r| format!("{} (field {:?})", r.message, r.field))?;
    let window = request.window().ok().flatten();
    let mut engine = Scheduler::new(config).map_err(|e| e.to_string())?;
    let accepted = engine
        .submit(now, body.as_bytes())
        .map_err(|r| format!("rejected {}: {}", r.status, r.message))?;
    let info = engine.call(accepted.call).ok_or("the call ended at once")?;
    // The primary zone (the number's when the request names none).
    let zone = info.timezone;
    if !info.policies.is_empty() || info.zones.len() > 1 {
        let zones: Vec<&str> = info.zones.iter().map(|z| z.name()).collect();
        say!(
            "zones {} (from the number and the request), policies {}",
            zones.join(", "),
            info.policies.join(", ")
        );
        say!("permitted intervals, from the first attempt on:");
        for (start, end) in engine.permitted_intervals(accepted.call, accepted.due, 8) {
            say!(
                "  {} - {} ({} - {})",
                start.with_timezone(&zone).format("%a %Y-%m-%d %H:%M"),
                end.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z"),
                start.format("%H:%MZ"),
                end.format("%H:%MZ")
            );
        }
    }
    let show = |t: DateTime<Utc>| {
        format!(
            "{} ({})",
            t.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z"),
            t.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    say!(
        "zone {zone}, window {}, submitted {}",
        window.map_or("any time".to_owned(), |w| w.to_string()),
        show(now)
    );
    // The instant schedule_at names, rounded up to a whole second as the engine does.
    let scheduled_at = match request.schedule_at {
        Some(ScheduleAt::Instant(t)) => Some(t),
        Some(ScheduleAt::Local(w)) => redial::wall_to_instant(zone, w),
        None => None,
    }
    .map(|t| {
        let whole = t.with_nanosecond(0).unwrap_or(t);
        let second = chrono::TimeDelta::try_seconds(1).unwrap_or_default();
        if whole < t {
            whole.checked_add_signed(second).unwrap_or(t)
        } else {
            whole
        }
    });
    let same_day =
        redial::window::local_date(zone, accepted.due) == redial::window::local_date(zone, now);
    let first_reason = if accepted.due == now {
        "due now"
    } else if scheduled_at == Some(accepted.due) {
        "schedule_at"
    } else if same_day && scheduled_at.is_some() {
        "schedule_at, then the window opens"
    } else if same_day {
        "window not open yet"
    } else {
        "carried over to the next day's window"
    }
    .to_owned();
    let with_policies = !info.policies.is_empty();
    let mut reason = first_reason;
    let mut at = accepted.due;
    loop {
        let dispatched = engine.dial(at, 1).map_err(|e| e.to_string())?;
        let ended = if let Some(call) = dispatched.first() {
            say!("attempt {:>2}  {}  {reason}", call.attempt, show(at));
            engine
                .report(at, call, Outcome::NoAnswer)
                .map_err(|e| e.to_string())?;
            plan_events(&mut engine, &show, with_policies, &mut at, &mut reason)
        } else {
            // Nothing to dial at `at`: a cap or the policy's hours moved
            // the call, or a timer is due first.
            let ended = plan_events(&mut engine, &show, with_policies, &mut at, &mut reason);
            if !ended {
                match engine.poll_timeout() {
                    Some(t) => {
                        at = t;
                        engine.handle_timeout(t).map_err(|e| e.to_string())?;
                    }
                    None => break,
                }
            }
            ended
        };
        if ended {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what `plan` needs from the engine's events; true when the call ended.
fn plan_events(
    engine: &mut Scheduler,
    show: &dyn Fn(DateTime<Utc>) -> String,
    with_policies: bool,
    at: &mut DateTime<Utc>,
    reason: &mut String,
) -> bool {
    let mut ended = false;
    while let Some(event) = engine.poll_event() {
        match event.kind {
            EventKind::RetryScheduled {
                due, carried_over, ..
            } => {
                *at = due;
                *reason = match (carried_over, with_policies) {
                    (true, _) => "retry carried over: the gap ran past the window",
                    (false, true) => "retry after the gap, at its first permitted instant",
                    (false, false) => "retry after the gap",
                }
                .to_owned();
            }
            EventKind::Deferred { due, reason: why } => {
                say!(
                    "deferred    {}  to {}: {}",
                    show(event.at),
                    show(due),
                    match why {
                        redial::DeferReason::FrequencyCap =>
                            "the number's frequency cap is used up",
                        _ => "permitted time ran out",
                    }
                );
                *at = due;
                *reason = "after the deferral".to_owned();
            }
            EventKind::Expired { reason: why } => {
                let text = match why {
                    redial::ExpireReason::FrequencyCap => {
                        "the frequency cap held it past its window and carry_over is false"
                    }
                    redial::ExpireReason::Lifetime => {
                        "its lifetime (expires_at, max_call_age_days) ended"
                    }
                    _ => "the window closed before the next attempt and carry_over is false",
                };
                say!("expired     {}  {text}", show(event.at));
                ended = true;
            }
            EventKind::Exhausted => {
                say!(
                    "exhausted   {}  every allowed attempt was unanswered",
                    show(event.at)
                );
                ended = true;
            }
            _ => {}
        }
    }
    ended
}

fn simulate(
    scenario: Option<&str>,
    seed: Option<u64>,
    chart: Option<&str>,
    json: Option<&str>,
    print_default: bool,
    no_timings: bool,
) -> Result<ExitCode, String> {
    if print_default {
        say!(
            "{}",
            serde_json::to_string_pretty(&simulate::Scenario::default())
                .map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut sc = match scenario {
        None => simulate::Scenario::default(),
        Some(path) => {
            simulate::Scenario::from_json(&read(path)?).map_err(|e| format!("{path}: {e}"))?
        }
    };
    if let Some(s) = seed {
        sc.seed = s;
    }
    let days = i64::from(sc.days);
    let start = sc.start;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(u64::try_from(days * 24).unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} simulating [{bar:40}] {pos}/{len} h  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut progress = |at: DateTime<Utc>, attempts: u64, pending: usize| {
        let hour = at.signed_duration_since(start).num_hours();
        match &bar {
            Some(b) => {
                b.set_position(u64::try_from(hour).unwrap_or(0));
                b.set_message(format!("{attempts} attempts, {pending} pending"));
            }
            None if hour % 12 == 0 => eprintln!(
                "simulated {}: {attempts} attempts, {pending} pending",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => {}
        }
    };
    let run = simulate::run(sc, &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    say!(
        "{}",
        summary::table(&run, !no_timings).trim_end_matches('\n')
    );
    if let Some(path) = json {
        std::fs::write(path, summary::json(&run, false) + "\n")
            .map_err(|e| format!("writing {path}: {e}"))?;
        say!("summary written to {path}");
    }
    if let Some(path) = chart {
        chart::draw(&run, path)?;
        say!("chart written to {path}");
    }
    Ok(ExitCode::SUCCESS)
}
