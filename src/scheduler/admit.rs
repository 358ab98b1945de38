//! The admission room: what happens to a submitted request.
//!
//! It owns the checks that need the engine (semantics §1's order after
//! field validation: feasibility of the first attempt, §3.2; the agent
//! registry, 404; idempotency, 409), the `accepted` and `rejected` events,
//! and queueing an accepted call: its record, its registry membership, its
//! idempotency key, and its first timer or its place in the ready queue.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::plan::Rules;
use super::registry::Membership;
use super::store::IdempotencyEntry;
use super::{Accepted, Scheduler};
use crate::call::{Call, NewCall};
use crate::event::{CallId, CompactEvent, CompactKind};
use crate::number::e164_digits;
use crate::policy::calendar::{HORIZON_DAYS, RuleSet};
use crate::request::{
    BatchCall, CallRequest, Metadata, Rejection, ScheduleAt, check_e164, check_metadata_size,
    parse_body,
};
use crate::retry::Gaps;
use crate::time::{DAY, MAX_TIME, Secs, ceil_secs, instant};
use crate::window::{Window, local_date};

impl Scheduler {
    /// Opens a submit: as any input, with a `now` out of range refused as
    /// a 400 (before anything happens, so no `rejected` event).
    pub(super) fn begin_submit(&mut self, now: DateTime<Utc>) -> Result<Secs, Rejection> {
        self.begin_input(now)
            .map_err(|e| Rejection::bad_body(e.to_string()))
    }

    /// Closes a submit: its `accepted` or `rejected` event, then as any input.
    pub(super) fn end_submit(
        &mut self,
        now: Secs,
        result: Result<Accepted, Rejection>,
    ) -> Result<Accepted, Rejection> {
        let kind = match &result {
            // The engine's instants are whole seconds.
            Ok(a) => CompactKind::Accepted {
                due: a.due.timestamp(),
                duplicate: a.duplicate,
            },
            Err(r) => CompactKind::Rejected(Box::new(r.clone())),
        };
        let call = result.as_ref().ok().map(|a| a.call);
        self.events.push(CompactEvent {
            at: now,
            call,
            kind,
            agent_id: None,
            batch_id: None,
        });
        self.end_input();
        result
    }

    /// A JSON body: parsed and validated, then admitted.
    pub(super) fn admit_body(&mut self, now: Secs, body: &[u8]) -> Result<Accepted, Rejection> {
        let (request, canonical) = parse_body(body, &self.config, &mut self.spare)?;
        let result = self.admit(
            now,
            &request,
            request.metadata.as_ref(),
            request.gap_between_retries.as_ref(),
            canonical,
            None,
        );
        self.spare.reclaim(request);
        result
    }

    /// A request built in code: validated as a body would be, then admitted.
    pub(super) fn admit_request(
        &mut self,
        now: Secs,
        request: &CallRequest,
    ) -> Result<Accepted, Rejection> {
        request.validate(&self.config)?;
        let canonical = if request.idempotency_key.is_some() {
            request.to_value()
        } else {
            Value::Null
        };
        // Borrowed: the host keeps its request, the call copies a gap list
        // and shares the metadata.
        self.admit(
            now,
            request,
            request.metadata.as_ref(),
            request.gap_between_retries.as_ref(),
            canonical,
            None,
        )
    }

    /// A batch's calls, each admitted as a submit of
    /// `template.for_call(call)` (see [`Scheduler::submit_batch`]), with the
    /// template's own checks made once.
    pub(super) fn admit_batch(
        &mut self,
        now: Secs,
        template: &CallRequest,
        calls: &[BatchCall],
        out: &mut Vec<Result<Accepted, Rejection>>,
    ) {
        if template.idempotency_key.is_some() {
            // Each call's request is compared whole for repeats: the
            // general path.
            for call in calls {
                let result = self.admit_request(now, &template.for_call(call));
                out.push(self.end_submit(now, result));
            }
            return;
        }
        // The template's checks, split where a submit checks the metadata,
        // so that each call gets the first error its own submit would.
        let shared = Shared {
            before: template.check_before_metadata().err(),
            after: template.check_after_metadata(&self.config).err(),
        };
        // The request admitted, its varying fields replaced per call.
        let mut scratch = CallRequest {
            to_number: String::new(),
            metadata: None,
            schedule_at: None,
            gap_between_retries: None,
            ..template.clone()
        };
        let mut memo = BatchMemo {
            plan: None,
            member: None,
        };
        for call in calls {
            let result =
                self.admit_batch_call(now, &mut scratch, template, &shared, call, &mut memo);
            out.push(self.end_submit(now, result));
        }
    }

    /// One call of a batch: its own checks, in a submit's order around the
    /// template's, then admission.
    fn admit_batch_call(
        &mut self,
        now: Secs,
        scratch: &mut CallRequest,
        template: &CallRequest,
        shared: &Shared,
        call: &BatchCall,
        memo: &mut BatchMemo,
    ) -> Result<Accepted, Rejection> {
        check_e164(&call.to_number)?;
        if let Some(e) = &shared.before {
            return Err(e.clone());
        }
        if let Some(m) = &call.metadata {
            check_metadata_size(m, &self.config)?;
        }
        if let Some(e) = &shared.after {
            return Err(e.clone());
        }
        scratch.to_number.clear();
        scratch.to_number.push_str(&call.to_number);
        scratch.schedule_at = call.schedule_at;
        self.admit(
            now,
            scratch,
            call.metadata.as_ref(),
            template.gap_between_retries.as_ref(),
            Value::Null,
            Some(memo),
        )
    }

    /// Runs the checks that need `now` and the engine, in the contract's
    /// order, then queues the call. `metadata` and `gaps` are the
    /// request's, validated (its own, or a batch's call's and template's);
    /// `canonical` is the request as JSON, for idempotent repeats; `memo`
    /// is what a batch's calls reuse.
    fn admit(
        &mut self,
        now: Secs,
        req: &CallRequest,
        metadata: Option<&Metadata>,
        gaps: Option<&Gaps>,
        canonical: Value,
        mut memo: Option<&mut BatchMemo>,
    ) -> Result<Accepted, Rejection> {
        let window = req.window()?;
        // Validated, so it parses; 0 would make `Call::admitted` refuse it.
        let number = e164_digits(&req.to_number).unwrap_or(0);
        let (set, tz) = self.rules_for(req, number);
        if let Some(until) = self.numbers.suppressed(number, now) {
            return Err(Rejection {
                status: 403,
                field: Some("to_number".to_owned()),
                message: match until {
                    Some(u) => format!(
                        "to_number {} is suppressed (do not call) until {}; expected another number, or a request after then",
                        req.to_number,
                        instant(u).to_rfc3339()
                    ),
                    None => format!(
                        "to_number {} is suppressed (do not call) with no end; expected another number, or unsuppress after new consent",
                        req.to_number
                    ),
                },
            });
        }
        let key = (req.schedule_at, set, tz);
        let (due, occurrence_end, expires) = match memo.as_deref_mut() {
            Some(BatchMemo {
                plan: Some((k, plan)),
                ..
            }) if *k == key => plan.clone()?,
            Some(memo) => {
                let plan = self.plan(now, req, set, tz, window);
                memo.plan = Some((key, plan.clone()));
                plan?
            }
            None => self.plan(now, req, set, tz, window)?,
        };
        if self.config.require_registered_agents && !self.registry.is_registered(&req.agent_id) {
            return Err(Rejection {
                status: 404,
                field: Some("agent_id".to_owned()),
                message: format!(
                    "Unknown agent_id {:?}: expected a registered agent",
                    req.agent_id
                ),
            });
        }
        if let Some(key) = &req.idempotency_key
            && let Some(previous) = self.calls.idempotent(key)
        {
            if previous.request == canonical {
                return Ok(Accepted {
                    call: CallId::stored(previous.seq, previous.slot),
                    due: instant(previous.due),
                    duplicate: true,
                });
            }
            return Err(Rejection {
                status: 409,
                field: Some("idempotency_key".to_owned()),
                message: format!(
                    "idempotency_key {key:?} belongs to live call {} with a different request; expected the same request or a new key",
                    CallId::stored(previous.seq, previous.slot)
                ),
            });
        }
        if let Some(why) = self.calls.full() {
            return Err(Rejection::bad_body(why));
        }
        let seq = self.calls.next_seq();
        let default_gaps =
            Gaps::every(self.config.default_retry_gap_minutes).unwrap_or(Gaps::Every(0));
        // The call is made first, so that should it refuse the (validated)
        // request, the engine has not changed.
        let mut call = Call::admitted(NewCall {
            seq,
            number,
            language: req.language,
            metadata: metadata
                .filter(|m| m.as_str() != "{}")
                .map(|m| Arc::clone(m.shared())),
            idempotency_key: req.idempotency_key.as_deref().map(Into::into),
            tz,
            window,
            carry_over: req.carry_over,
            retries: req.number_of_retries,
            gaps: gaps.unwrap_or(&default_gaps),
            priority: req.priority,
            due,
            occurrence_end,
            expires,
        })
        .map_err(Rejection::bad_body)?;
        call.rules = set;
        self.calls.take_seq();
        let again = memo
            .as_ref()
            .and_then(|m| m.member)
            .and_then(|m| self.registry.rejoin(m));
        let member = again.unwrap_or_else(|| {
            self.registry
                .join(&req.agent_id, req.batch_id.as_deref(), &mut self.ready)
        });
        if let Some(memo) = memo {
            memo.member = Some(member);
        }
        call.lane = member.lane;
        let slot = self.calls.insert(call);
        if let Some(key) = &req.idempotency_key {
            self.calls.remember_key(
                key,
                IdempotencyEntry {
                    seq,
                    slot,
                    request: canonical,
                    due,
                },
            );
        }
        if due <= now {
            // Due already: ready at once, no timer round trip.
            self.make_ready(slot);
        } else {
            self.set_timer(slot, Some(due));
        }
        Ok(Accepted {
            call: CallId::stored(seq, slot),
            due: instant(due),
            duplicate: false,
        })
    }

    /// The rule set of a request (its zones and policies, policy.md 2)
    /// and its primary zone; `number` is its number's digits.
    fn rules_for(&mut self, req: &CallRequest, number: u64) -> (u32, chrono_tz::Tz) {
        #[cfg(feature = "number-zones")]
        {
            // A campaign submits the same numbers over and over: remember.
            let key = (number != 0).then(|| {
                let policy = req.policy.as_deref().and_then(|n| self.policy_index(n));
                (number, policy, req.timezone)
            });
            if let Some(found) = key.and_then(|k| self.zone_memo.rules(&k)) {
                return found;
            }
            let found = self.compute_rules(req);
            if let Some(k) = key {
                self.zone_memo.remember_rules(k, found);
            }
            found
        }
        #[cfg(not(feature = "number-zones"))]
        {
            // The memo is keyed by number only with zones from numbers.
            let _ = number;
            self.compute_rules(req)
        }
    }

    /// [`Scheduler::rules_for`], computed.
    fn compute_rules(&mut self, req: &CallRequest) -> (u32, chrono_tz::Tz) {
        let mut policies: Vec<u16> = Vec::new();
        if !self.config.policy_by_prefix.is_empty() {
            let prefix_policy = (2..=req.to_number.len()).rev().find_map(|len| {
                req.to_number
                    .get(..len)
                    .and_then(|p| self.config.policy_by_prefix.get(p))
            });
            policies.extend(prefix_policy.and_then(|name| self.policy_index(name)));
        }
        policies.extend(
            req.policy
                .as_deref()
                .and_then(|name| self.policy_index(name)),
        );
        if policies.is_empty() && !self.config.zones_from_number {
            // The common case, one zone and no policy: no lists to build.
            let tz = req.timezone.unwrap_or(self.config.default_timezone);
            return (self.calendar.intern_zone(tz), tz);
        }
        policies.sort_unstable();
        policies.dedup();
        let number_zones = if !policies.is_empty() || self.config.zones_from_number {
            self.number_zones(&req.to_number)
        } else {
            Vec::new()
        };
        let zones: Vec<chrono_tz::Tz> = match req.timezone {
            Some(t) if number_zones.is_empty() || number_zones.contains(&t) => vec![t],
            // The host's zone and the number disagree: both must permit.
            Some(t) => std::iter::once(t)
                .chain(number_zones.into_iter().filter(|z| *z != t))
                .collect(),
            None if number_zones.is_empty() => vec![self.config.default_timezone],
            None => number_zones,
        };
        let tz = zones
            .first()
            .copied()
            .unwrap_or(self.config.default_timezone);
        let set = match (zones.as_slice(), policies.is_empty()) {
            ([one], true) => self.calendar.intern_zone(*one),
            _ => self.calendar.intern(RuleSet {
                zones: zones.into_boxed_slice(),
                policies: policies.into_boxed_slice(),
            }),
        };
        (set, tz)
    }

    /// A policy's place in the configuration's (name) order.
    pub(crate) fn policy_index(&self, name: &str) -> Option<u16> {
        self.config
            .policies
            .keys()
            .position(|k| k == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The zones libphonenumber gives `number` (sorted by name).
    fn number_zones(&mut self, number: &str) -> Vec<chrono_tz::Tz> {
        #[cfg(feature = "number-zones")]
        {
            let digits = e164_digits(number).unwrap_or(0);
            self.zone_memo.zones(digits, number)
        }
        #[cfg(not(feature = "number-zones"))]
        {
            // Unreachable: the configuration is refused without the data.
            let _ = number;
            Vec::new()
        }
    }

    /// The first attempt's due instant, the end of the occurrence it is
    /// bound to and the end of the call's lifetime, or why the call cannot
    /// be: a function of `now`, the request's schedule and the rules (the
    /// calendar's memos only cache), so a batch reuses it.
    fn plan(
        &mut self,
        now: Secs,
        req: &CallRequest,
        set: u32,
        tz: chrono_tz::Tz,
        window: Option<Window>,
    ) -> Result<Plan, Rejection> {
        let (due, occurrence_end) = self.first_attempt(now, req, set, tz, window)?;
        let expires = self.lifetime(now, req, tz, due)?;
        Ok((due, occurrence_end, expires))
    }

    /// The first attempt's due instant and, with a window, the end of the
    /// occurrence it is bound to (policy.md 3, First attempt); or why it
    /// cannot be.
    fn first_attempt(
        &mut self,
        now: Secs,
        req: &CallRequest,
        set: u32,
        tz: chrono_tz::Tz,
        window: Option<Window>,
    ) -> Result<(Secs, Option<Secs>), Rejection> {
        let scheduled = match req.schedule_at {
            None => None,
            Some(at) => Some(self.read_instant(at, tz).ok_or_else(|| {
                Rejection::bad(
                    "schedule_at",
                    "Invalid schedule_at: outside the supported range of dates",
                )
            })?),
        };
        if let Some(s) = scheduled {
            let ahead = Secs::from(self.config.max_schedule_ahead_days) * DAY;
            if s > now.saturating_add(ahead) {
                return Err(Rejection::bad(
                    "schedule_at",
                    format!(
                        "Invalid schedule_at {}: more than {} days after now; expected at most max_schedule_ahead_days ahead",
                        instant(s).to_rfc3339(),
                        self.config.max_schedule_ahead_days
                    ),
                ));
            }
        }
        let d = scheduled.map_or(now, |s| s.max(now));
        if d > MAX_TIME {
            return Err(Rejection::bad(
                "schedule_at",
                format!(
                    "Invalid schedule_at {}: after 9999-12-31T23:59:59Z; expected an instant in the years 1 to 9999",
                    instant(d).to_rfc3339()
                ),
            ));
        }
        let rules = Rules {
            set,
            window,
            tz,
            carry_over: req.carry_over,
            expires: None,
        };
        let Some(w) = window else {
            let limit = d.saturating_add(HORIZON_DAYS * DAY);
            return match self.calendar.next_permitted(set, None, d, limit) {
                Some(due) => Ok((due, None)),
                None => Err(Rejection::bad(
                    "to_number",
                    format!(
                        "No instant within {HORIZON_DAYS} days of {} is permitted for this number (its zones {} and its calling policies); expected a timezone among the number's zones, or a policy that allows calls",
                        instant(d).to_rfc3339(),
                        self.zone_names(set)
                    ),
                )),
            };
        };
        let Some((due, (start, end))) = self.first_with_next(&rules, d, None) else {
            return Err(Rejection::bad(
                "max_trigger_time",
                format!(
                    "Window {w} has no permitted instant within {HORIZON_DAYS} days of {} (zones {}, calling policies, years 1 to 9999); the call could never trigger",
                    instant(d).to_rfc3339(),
                    self.zone_names(set)
                ),
            ));
        };
        // The occurrence's date is its start's, in the primary zone; with
        // carry_over it does not matter, and is not worked out.
        if req.carry_over || local_date(tz, instant(start)) <= local_date(tz, instant(d)) {
            return Ok((due, Some(end)));
        }
        Err(Rejection::bad(
            "max_trigger_time",
            format!(
                "Window {w} in {} has no permitted time left on {}, and carry_over is false: the call could never trigger; expected carry_over true or a later schedule_at",
                tz.name(),
                local_date(tz, instant(d)).map_or_else(String::new, |x| x.to_string())
            ),
        ))
    }

    /// An instant as a request wrote it: absolute, or wall-clock time in
    /// the primary zone (semantics 2).
    fn read_instant(&mut self, at: ScheduleAt, tz: chrono_tz::Tz) -> Option<Secs> {
        match at {
            ScheduleAt::Instant(i) => Some(ceil_secs(i)),
            ScheduleAt::Local(w) => self.walls.read(tz, w),
        }
    }

    /// The end of a request's lifetime (policy.md 7), or why its first
    /// attempt, due at `due`, falls at or after it.
    fn lifetime(
        &mut self,
        now: Secs,
        req: &CallRequest,
        tz: chrono_tz::Tz,
        due: Secs,
    ) -> Result<Option<Secs>, Rejection> {
        let by_request = match req.expires_at {
            None => None,
            Some(at) => Some(self.read_instant(at, tz).ok_or_else(|| {
                Rejection::bad(
                    "expires_at",
                    "Invalid expires_at: outside the supported range of dates",
                )
            })?),
        };
        let by_age = self
            .config
            .max_call_age_days
            .map(|days| now.saturating_add(Secs::from(days) * DAY));
        let Some(end) = [by_request, by_age].into_iter().flatten().min() else {
            return Ok(None);
        };
        if due < end {
            return Ok(Some(end));
        }
        // The field of the earlier limit; on a tie, expires_at.
        let field = if by_request == Some(end) {
            "expires_at"
        } else {
            "schedule_at"
        };
        Err(Rejection::bad(
            field,
            format!(
                "The call's lifetime ends at {} ({}), at or before its first attempt at {}; expected a later expires_at or an earlier schedule_at",
                instant(end).to_rfc3339(),
                if field == "expires_at" {
                    "expires_at"
                } else {
                    "max_call_age_days"
                },
                instant(due).to_rfc3339()
            ),
        ))
    }

    /// A rule set's zones, for messages.
    fn zone_names(&self, set: u32) -> String {
        self.calendar
            .set(set)
            .map(|s| {
                s.zones
                    .iter()
                    .map(|z| z.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

/// A batch template's first errors before and after the metadata check.
struct Shared {
    before: Option<Rejection>,
    after: Option<Rejection>,
}

/// A call's due instant, occurrence end and lifetime end.
type Plan = (Secs, Option<Secs>, Option<Secs>);

/// What a batch's next call reuses from the calls before it.
pub(super) struct BatchMemo {
    /// The last plan, by its [`PlanKey`]: a batch shares the schedule more
    /// often than not, and the plan is most of a call's cost.
    plan: Option<(PlanKey, Result<Plan, Rejection>)>,
    /// The registry membership of the last admitted call: the template's
    /// agent and batch, held by that call until the batch ends.
    member: Option<Membership>,
}

/// What a plan depends on besides the template and `now`: the call's
/// schedule, rule set and primary zone.
type PlanKey = (Option<ScheduleAt>, u32, chrono_tz::Tz);
