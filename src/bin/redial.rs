//! `redial`: replay conformance cases and plan a call's attempts.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
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
        } => plan(&request, &now, timezone.as_deref()),
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
            println!("{}", trace::format_line(line));
        }
        return Ok(ExitCode::SUCCESS);
    }
    match trace::compare(&case.expect, &lines) {
        Ok(()) => {
            println!("ok: {path} ({} events) {}", lines.len(), case.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(diff) => {
            println!("FAIL: {path} {}\n{diff}", case.name);
            Ok(ExitCode::from(1))
        }
    }
}

fn plan(path: &str, now: &str, timezone: Option<&str>) -> Result<ExitCode, String> {
    let body = read(path)?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(now)
        .map_err(|e| {
            format!("--now {now:?}: {e}; expected RFC 3339 such as 2026-03-07T18:00:00-05:00")
        })?
        .with_timezone(&Utc);
    let mut config = Config::default();
    if let Some(z) = timezone {
        config.default_timezone = z
            .parse::<Tz>()
            .map_err(|_| format!("--timezone {z:?}: expected an IANA zone name"))?;
    }
    let request = CallRequest::from_json(body.as_bytes(), &config)
        .map_err(|r| format!("{} (field {:?})", r.message, r.field))?;
    let zone = request.timezone.unwrap_or(config.default_timezone);
    let scheduled = request.schedule_at.is_some();
    let window = request.window().ok().flatten();
    let mut engine = Scheduler::new(config).map_err(|e| e.to_string())?;
    let accepted = engine
        .submit(now, body.as_bytes())
        .map_err(|r| format!("rejected {}: {}", r.status, r.message))?;
    let show = |t: DateTime<Utc>| {
        format!(
            "{} ({})",
            t.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z"),
            t.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    println!(
        "zone {zone}, window {}, submitted {}",
        window.map_or("any time".to_owned(), |w| w.to_string()),
        show(now)
    );
    let first_reason = if accepted.due == now {
        "due now".to_owned()
    } else if scheduled
        && matches!(request.schedule_at, Some(ScheduleAt::Instant(t)) if t >= accepted.due)
    {
        "schedule_at".to_owned()
    } else if redial::window::local_date(zone, accepted.due)
        == redial::window::local_date(zone, now)
    {
        if scheduled {
            "schedule_at, then window opens".to_owned()
        } else {
            "window not open yet".to_owned()
        }
    } else {
        "carried over to the next day's window".to_owned()
    };
    let mut reason = first_reason;
    let mut at = accepted.due;
    loop {
        let dispatched = engine.dial(at, 1).map_err(|e| e.to_string())?;
        let Some(call) = dispatched.first() else {
            match engine.poll_timeout() {
                Some(t) => {
                    at = t;
                    engine.handle_timeout(t).map_err(|e| e.to_string())?;
                    continue;
                }
                None => break,
            }
        };
        println!("attempt {:>2}  {}  {reason}", call.attempt, show(at));
        engine
            .report(at, call.call, Outcome::NoAnswer)
            .map_err(|e| e.to_string())?;
        let mut ended = false;
        while let Some(event) = engine.poll_event() {
            match event.kind {
                EventKind::RetryScheduled {
                    due, carried_over, ..
                } => {
                    at = due;
                    reason = if carried_over {
                        "retry carried over: the gap ran past the window".to_owned()
                    } else {
                        "retry after the gap".to_owned()
                    };
                }
                EventKind::Expired { .. } => {
                    println!(
                        "expired     {}  the window closed before the next retry and carry_over is false",
                        show(event.at)
                    );
                    ended = true;
                }
                EventKind::Exhausted => {
                    println!(
                        "exhausted   {}  every allowed attempt was unanswered",
                        show(event.at)
                    );
                    ended = true;
                }
                _ => {}
            }
        }
        if ended {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
