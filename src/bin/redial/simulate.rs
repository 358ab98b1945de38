//! `redial simulate`: an outbound campaign run through the engine on a
//! simulated clock, with a summary, a JSON report and an SVG chart.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use redial::event::CompactKind;
use redial::{AttemptId, Command, Config, Outcome, Policy, Scheduler, TimeOfDay, Window};

pub use crate::scenario::{Campaign, Scenario};
use serde::Serialize;
use serde_json::{Value, json};

/// SplitMix64: small, fast and seedable; enough for a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }
}

#[derive(Clone, Default, Serialize)]
pub struct CampaignSummary {
    pub name: String,
    pub accepted: u64,
    pub rejected: u64,
    pub completed: u64,
    pub exhausted: u64,
    pub expired: u64,
    pub cancelled: u64,
    pub failed: u64,
    pub still_pending: u64,
    pub attempts: u64,
    pub attempts_per_call: f64,
    pub carry_overs: u64,
    pub connect_p50_minutes: f64,
    pub connect_p95_minutes: f64,
    pub connect_max_minutes: f64,
    /// Attempts triggered at an instant its window or a calling policy
    /// forbids in one of the call's zones (checked here from the rules,
    /// not by the engine).
    pub outside_permitted: u64,
    #[serde(skip)]
    connect: Vec<i64>,
}

#[derive(Serialize)]
pub struct EngineCost {
    pub engine_seconds: f64,
    pub events: u64,
    pub decisions_per_second: f64,
    pub peak_pending_calls: usize,
    pub resident_bytes_per_pending_call: Option<f64>,
}

#[derive(Serialize)]
pub struct Summary {
    pub seed: u64,
    pub start: DateTime<Utc>,
    pub days: u32,
    pub lines: u32,
    pub campaigns: Vec<CampaignSummary>,
    pub total: CampaignSummary,
    pub line_utilisation: f64,
    pub engine: EngineCost,
    /// Attempts per simulated hour, one row per campaign.
    pub attempts_per_hour: Vec<Vec<u32>>,
}

pub struct Run {
    pub summary: Summary,
    pub scenario: Scenario,
    /// Per campaign: its first call's permitted intervals (hours since
    /// the start), as the engine computes them, for the chart's strips;
    /// empty when no call of the campaign was accepted.
    pub permitted: Vec<Vec<(f64, f64)>>,
    /// Per campaign: the policies its first call is under.
    pub policies: Vec<Vec<String>>,
}

struct CallInfo {
    campaign: u8,
    first_due: i64,
    /// The callee's primary zone (answer rates follow its local hour).
    zone: Tz,
}

/// The policies of `number` by the configuration's prefixes (policy.md
/// 2: the longest matching prefix), read here independently of the engine.
fn policy_for<'a>(
    number: &str,
    by_prefix: &BTreeMap<String, String>,
    policies: &'a BTreeMap<String, Policy>,
) -> Option<&'a Policy> {
    by_prefix
        .iter()
        .filter(|(prefix, _)| number.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .and_then(|(_, name)| policies.get(name))
}

/// Whether the rules permit triggering at `at` in every one of `zones`.
fn permitted(
    at: DateTime<Utc>,
    zones: &[Tz],
    window: Option<Window>,
    policy: Option<&Policy>,
) -> bool {
    zones.iter().all(|&z| {
        let local = at.with_timezone(&z);
        window.is_none_or(|w| w.contains(z, at))
            && policy.is_none_or(|p| {
                p.allows(local.weekday(), local.hour() * 60 + local.minute())
                    && !redial::window::local_date(z, at).is_some_and(|d| p.is_holiday(d))
            })
    })
}

/// The engine's inputs, recorded as journal records (compact: the
/// simulator's memory figure subtracts them).
#[derive(Default)]
struct Inputs {
    bytes: Vec<u8>,
    position: u64,
}

impl Inputs {
    fn record(&mut self, command: &Command) {
        // A record over 4 GiB cannot come from a scenario's body.
        let _ = redial::journal::encode(self.position, command, &mut self.bytes);
        self.position += 1;
    }

    /// Replays the inputs into a new engine with `config`, draining its
    /// events after each as the simulator does, and returns the wall time
    /// of that loop alone (decoding comes first, untimed). The replica
    /// must end byte-identical to `engine`, the one the run drove.
    fn replay(self, engine: &Scheduler, config: Config) -> Result<Duration, String> {
        let commands = redial::journal::Reader::new(&self.bytes)
            .map(|r| r.map(|r| r.command))
            .collect::<Result<Vec<Command>, _>>()
            .map_err(|e| format!("the recorded inputs: {e}"))?;
        drop(self);
        let mut replica = Scheduler::new(config).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        for command in commands {
            std::hint::black_box(replica.apply_owned(command));
            while replica.poll_compact_event().is_some() {}
        }
        let elapsed = t0.elapsed();
        // The run called the engine's methods, which do not count journal
        // positions; the replica applied commands, which do. All else
        // must match.
        let state = |e: &Scheduler| {
            let mut v: Value = serde_json::from_slice(&e.snapshot().to_bytes()).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.remove("journal_position");
            }
            v
        };
        if state(&replica) != state(engine) {
            return Err("the engine's recorded inputs replay to another state".into());
        }
        Ok(elapsed)
    }
}

/// Resident set size in bytes, where /proc tells it.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

pub fn run(
    scenario: Scenario,
    progress: &mut dyn FnMut(DateTime<Utc>, u64, usize),
) -> Result<Run, String> {
    scenario.validate()?;
    let mut config = match &scenario.config {
        Some(v) => {
            Config::from_json(&v.to_string()).map_err(|e| format!("scenario field config: {e}"))?
        }
        None => Config::default(),
    };
    config.attempt_timeout_minutes = scenario.attempt_timeout_minutes;
    let (policies, by_prefix) = (config.policies.clone(), config.policy_by_prefix.clone());
    let replica_config = config.clone();
    let mut engine = Scheduler::new(config)
        .map_err(|e| format!("scenario field attempt_timeout_minutes: {e}"))?;
    let mut rng = Rng(scenario.seed);
    let start = scenario.start;
    let end = start
        .checked_add_signed(
            TimeDelta::try_days(i64::from(scenario.days)).ok_or("days out of range")?,
        )
        .ok_or("scenario field start: out of range")?;
    let hours = scenario.days as usize * 24;
    let zones: Vec<Tz> = scenario
        .campaigns
        .iter()
        .map(|c| c.timezone.parse::<Tz>().unwrap_or(chrono_tz::UTC))
        .collect();
    let windows: Vec<Option<Window>> = scenario
        .campaigns
        .iter()
        .map(|c| {
            let t = |s: &Option<String>| s.as_deref().and_then(|t| TimeOfDay::parse(t).ok());
            Window::new(t(&c.min_trigger_time), t(&c.max_trigger_time)).ok()
        })
        .collect();

    // Every input the engine gets, as journal records: after the run they
    // are replayed into a new engine in a tight loop, and that replay's
    // wall time is the engine time (two clock reads in all, where timing
    // each call would add two per call, a sizeable part of a call's cost).
    let mut inputs = Inputs::default();
    for a in &scenario.agents {
        engine
            .register_agent(start, &a.id, a.max_concurrent_calls)
            .map_err(|e| format!("scenario field agents: {e}"))?;
        inputs.record(&Command::RegisterAgent {
            now: start,
            agent: a.id.clone(),
            max_concurrent_calls: a.max_concurrent_calls,
        });
    }

    // Submissions, in time order (ties by campaign, then index).
    let mut submissions: Vec<(i64, u8, u32)> = Vec::new();
    for (ci, c) in scenario.campaigns.iter().enumerate() {
        let spread = i64::from(c.submit_over_minutes) * 60;
        for i in 0..c.calls {
            let offset = if c.calls > 1 {
                spread * i64::from(i) / i64::from(c.calls - 1)
            } else {
                0
            };
            submissions.push((c.submit_at.timestamp() + offset, ci as u8, i));
        }
    }
    submissions.sort_unstable();
    let mut next_submission = 0usize;
    let mut controls: Vec<(i64, bool, String)> = scenario
        .pauses
        .iter()
        .flat_map(|p| {
            [
                (p.at.timestamp(), true, p.batch_id.clone()),
                (p.resume_at.timestamp(), false, p.batch_id.clone()),
            ]
        })
        .collect();
    controls.sort();
    let mut next_control = 0usize;

    let mut summaries: Vec<CampaignSummary> = scenario
        .campaigns
        .iter()
        .map(|c| CampaignSummary {
            name: c.name.clone(),
            ..CampaignSummary::default()
        })
        .collect();
    let mut per_hour = vec![vec![0u32; hours]; scenario.campaigns.len()];
    let mut strips: Vec<Vec<(f64, f64)>> = vec![Vec::new(); scenario.campaigns.len()];
    let mut strip_policies: Vec<Vec<String>> = vec![Vec::new(); scenario.campaigns.len()];
    let hours_since = |t: DateTime<Utc>| (t.timestamp() - start.timestamp()) as f64 / 3600.0;
    let mut calls: Vec<Option<CallInfo>> = Vec::new();
    let mut in_flight: BinaryHeap<Reverse<(i64, AttemptId, u8)>> = BinaryHeap::new();
    let mut busy_seconds: i64 = 0;
    let mut events: u64 = 0;
    let mut peak = 0usize;
    let rss_start = resident_bytes();
    let mut rss_peak = rss_start;
    let lines = scenario.lines as usize;
    let outcomes = [
        Outcome::Completed,
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Voicemail,
        Outcome::Failed,
        Outcome::InvalidNumber,
    ];

    let mut now = start.timestamp();
    let end_s = end.timestamp();
    let mut last_progress = now;
    loop {
        let candidates = [
            submissions.get(next_submission).map(|s| s.0),
            in_flight.peek().map(|Reverse(x)| x.0),
            controls.get(next_control).map(|c| c.0),
            engine.poll_timeout().map(|t| t.timestamp()),
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            break;
        };
        if next >= end_s {
            break;
        }
        now = next.max(now);
        let at = DateTime::from_timestamp(now, 0).ok_or("time out of range")?;

        // Reports of attempts that ended now.
        while let Some(Reverse((t, id, o))) = in_flight.peek().copied() {
            if t > now {
                break;
            }
            in_flight.pop();
            let outcome = outcomes
                .get(usize::from(o))
                .copied()
                .unwrap_or(Outcome::NoAnswer);
            engine.report(at, id, outcome).map_err(|e| e.to_string())?;
            inputs.record(&Command::Report {
                now: at,
                attempt: id,
                outcome,
            });
        }
        // New requests.
        while let Some(&(t, ci, i)) = submissions.get(next_submission) {
            if t > now {
                break;
            }
            next_submission += 1;
            let Some(c) = scenario.campaigns.get(usize::from(ci)) else {
                continue;
            };
            let body = request_body(c, i);
            let r = engine.submit(at, &body);
            inputs.record(&Command::Submit { now: at, body });
            match r {
                Ok(a) => {
                    let seq = a.call.sequence() as usize;
                    if calls.len() < seq {
                        calls.resize_with(seq, || None);
                    }
                    let campaign_zone = zones
                        .get(usize::from(ci))
                        .copied()
                        .unwrap_or(chrono_tz::UTC);
                    let zone = if c.timezone_from_number {
                        engine
                            .call(a.call)
                            .map_or(campaign_zone, |info| info.timezone)
                    } else {
                        campaign_zone
                    };
                    if let Some(slot) = calls.get_mut(seq.saturating_sub(1)) {
                        *slot = Some(CallInfo {
                            campaign: ci,
                            first_due: a.due.timestamp(),
                            zone,
                        });
                    }
                    // The chart's strip: the first call's permitted time.
                    if let (Some(strip), Some(names)) = (
                        strips.get_mut(usize::from(ci)),
                        strip_policies.get_mut(usize::from(ci)),
                    ) && strip.is_empty()
                    {
                        let count = scenario.days as usize * 4 + 4;
                        *strip = engine
                            .permitted_intervals(a.call, start, count)
                            .into_iter()
                            .map(|(a, b)| (hours_since(a), hours_since(b)))
                            .collect();
                        *names = engine.call(a.call).map(|i| i.policies).unwrap_or_default();
                    }
                }
                _ => {
                    if let Some(s) = summaries.get_mut(usize::from(ci)) {
                        s.rejected += 1;
                    }
                }
            }
        }
        // Campaign control.
        while let Some((t, pause, batch)) = controls.get(next_control).cloned() {
            if t > now {
                break;
            }
            next_control += 1;
            let r = if pause {
                engine.pause_batch(at, &batch)
            } else {
                engine.resume_batch(at, &batch)
            };
            r.map_err(|e| format!("scenario field pauses: {e}"))?;
            inputs.record(&if pause {
                Command::PauseBatch { now: at, batch }
            } else {
                Command::ResumeBatch { now: at, batch }
            });
        }
        // Dial on every free line; a dial applies the timers due first,
        // so with no line free it is the timeout.
        let free = lines.saturating_sub(in_flight.len());
        let dispatched = engine.dial(at, free).unwrap_or_default();
        inputs.record(&Command::Dial {
            now: at,
            max: u32::try_from(free).unwrap_or(u32::MAX),
        });
        for d in &dispatched {
            let Some(info) = calls
                .get(d.call.sequence() as usize - 1)
                .and_then(Option::as_ref)
            else {
                continue;
            };
            let hour = at.with_timezone(&info.zone).hour() as usize;
            let p_answer = scenario
                .answer_rate_by_hour
                .get(hour)
                .copied()
                .unwrap_or(0.0);
            let roll = rng.unit();
            let (o, secs) = if roll < scenario.invalid_number_rate {
                (5u8, rng.between(2, 4))
            } else if rng.unit() < p_answer {
                (
                    0,
                    rng.between(scenario.talk_seconds[0], scenario.talk_seconds[1]),
                )
            } else {
                let m = &scenario.unanswered_mix;
                let u = rng.unit();
                if u < m.busy {
                    (2, rng.between(5, 10))
                } else if u < m.busy + m.voicemail {
                    (3, rng.between(30, 60))
                } else if u < m.busy + m.voicemail + m.failed {
                    (4, rng.between(2, 5))
                } else {
                    (
                        1,
                        rng.between(scenario.ring_seconds[0], scenario.ring_seconds[1]),
                    )
                }
            };
            busy_seconds += i64::from(secs).min(end_s - now);
            in_flight.push(Reverse((now + i64::from(secs), d.attempt_id(), o)));
        }
        // Events: the engine's own record of what happened.
        while let Some(e) = engine.poll_compact_event() {
            events += 1;
            let Some(id) = e.call else { continue };
            let slot = id.sequence() as usize - 1;
            let Some(info) = calls.get(slot).and_then(Option::as_ref) else {
                continue;
            };
            let ci = info.campaign as usize;
            let (Some(s), Some(hourly), Some(window)) =
                (summaries.get_mut(ci), per_hour.get_mut(ci), windows.get(ci))
            else {
                continue;
            };
            match e.kind {
                CompactKind::Accepted {
                    duplicate: false, ..
                } => s.accepted += 1,
                CompactKind::Triggered { .. } => {
                    s.attempts += 1;
                    let h = ((e.at - start.timestamp()) / 3600) as usize;
                    if let Some(x) = hourly.get_mut(h) {
                        *x += 1;
                    }
                    // The call's zones are the engine's (from the number,
                    // checked against libphonenumber elsewhere); the window
                    // and the policy are the scenario's own.
                    let call = engine.call(id);
                    let call_zones = call
                        .as_ref()
                        .map_or_else(|| vec![info.zone], |c| c.zones.clone());
                    let policy = call
                        .as_ref()
                        .and_then(|c| policy_for(c.to_number.as_str(), &by_prefix, &policies));
                    if !permitted(e.at_time(), &call_zones, *window, policy) {
                        s.outside_permitted += 1;
                    }
                }
                CompactKind::CarriedOver { .. }
                | CompactKind::RetryScheduled {
                    carried_over: true, ..
                } => s.carry_overs += 1,
                CompactKind::Completed => {
                    s.completed += 1;
                    s.connect.push(e.at - info.first_due);
                }
                CompactKind::Exhausted => s.exhausted += 1,
                CompactKind::Expired { .. } => s.expired += 1,
                CompactKind::Cancelled => s.cancelled += 1,
                CompactKind::Failed { .. } => s.failed += 1,
                _ => {}
            }
            if e.kind.is_terminal()
                && let Some(x) = calls.get_mut(slot)
            {
                *x = None;
            }
        }
        let live = engine.live_calls();
        if live > peak {
            peak = live;
            // The recorded inputs are the simulator's, not the engine's.
            rss_peak = resident_bytes()
                .map(|r| r.saturating_sub(inputs.bytes.len() as u64))
                .or(rss_peak);
        }
        if now - last_progress >= 3600 {
            last_progress = now;
            progress(at, summaries.iter().map(|s| s.attempts).sum(), live);
        }
    }

    for (ci, s) in summaries.iter_mut().enumerate() {
        s.still_pending = calls
            .iter()
            .flatten()
            .filter(|c| c.campaign as usize == ci)
            .count() as u64;
        finish(s);
    }
    let mut total = CampaignSummary {
        name: "total".into(),
        ..CampaignSummary::default()
    };
    for s in &summaries {
        total.accepted += s.accepted;
        total.rejected += s.rejected;
        total.completed += s.completed;
        total.exhausted += s.exhausted;
        total.expired += s.expired;
        total.cancelled += s.cancelled;
        total.failed += s.failed;
        total.still_pending += s.still_pending;
        total.attempts += s.attempts;
        total.carry_overs += s.carry_overs;
        total.outside_permitted += s.outside_permitted;
        total.connect.extend_from_slice(&s.connect);
    }
    finish(&mut total);
    let engine_seconds = inputs.replay(&engine, replica_config)?.as_secs_f64();
    let summary = Summary {
        seed: scenario.seed,
        start,
        days: scenario.days,
        lines: scenario.lines,
        campaigns: summaries,
        total,
        line_utilisation: busy_seconds as f64
            / (f64::from(scenario.lines) * (end_s - start.timestamp()) as f64),
        engine: EngineCost {
            engine_seconds,
            events,
            decisions_per_second: if engine_seconds > 0.0 {
                events as f64 / engine_seconds
            } else {
                0.0
            },
            peak_pending_calls: peak,
            resident_bytes_per_pending_call: match (rss_start, rss_peak) {
                (Some(a), Some(b)) if peak > 0 => Some(b.saturating_sub(a) as f64 / peak as f64),
                _ => None,
            },
        },
        attempts_per_hour: per_hour,
    };
    Ok(Run {
        summary,
        scenario,
        permitted: strips,
        policies: strip_policies,
    })
}

fn finish(s: &mut CampaignSummary) {
    s.attempts_per_call = if s.accepted > 0 {
        s.attempts as f64 / s.accepted as f64
    } else {
        0.0
    };
    s.connect.sort_unstable();
    let pick = |q: f64| -> f64 {
        if s.connect.is_empty() {
            return 0.0;
        }
        let i = ((s.connect.len() - 1) as f64 * q).round() as usize;
        s.connect.get(i).copied().unwrap_or(0) as f64 / 60.0
    };
    s.connect_p50_minutes = pick(0.5);
    s.connect_p95_minutes = pick(0.95);
    s.connect_max_minutes = pick(1.0);
}

/// The API request body of call `i` of campaign `c`.
fn request_body(c: &Campaign, i: u32) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        body.insert(k.to_owned(), v);
    };
    let pick = |list: &[String]| list.get(i as usize % list.len().max(1)).cloned();
    // `digits` digits from 7 on: valid subscriber numbers in the plans
    // the scenarios use.
    let digits = u32::from(c.number_digits.unwrap_or(10));
    let base = 10u64.pow(digits.saturating_sub(1));
    let prefix = pick(&c.number_prefixes).unwrap_or_else(|| c.number_prefix.clone());
    put(
        "to_number",
        json!(format!(
            "{prefix}{}",
            7 * base + u64::from(i) * 7 % (3 * base - 1)
        )),
    );
    put("agent_id", json!(pick(&c.agents)));
    put("batch_id", json!(c.name));
    if !c.timezone_from_number {
        put("timezone", json!(c.timezone));
    }
    put("carry_over", json!(c.carry_over));
    put("number_of_retries", json!(c.number_of_retries));
    put("priority", json!(c.priority));
    put("metadata", json!({"campaign": c.name, "customer": i}));
    if let Some(m) = &c.min_trigger_time {
        put("min_trigger_time", json!(m));
    }
    if let Some(m) = &c.max_trigger_time {
        put("max_trigger_time", json!(m));
    }
    if let Some(g) = &c.gap_between_retries {
        put("gap_between_retries", g.clone());
    }
    if let Some(l) = pick(&c.languages) {
        put("language", json!(l));
    }
    Value::Object(body).to_string().into_bytes()
}
