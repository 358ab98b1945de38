//! The admission room: what happens to a submitted request.
//!
//! It owns the checks that need the engine (semantics §1's order after
//! field validation: feasibility of the first attempt, §3.2; the agent
//! registry, 404; idempotency, 409), the `accepted` and `rejected` events,
//! and queueing an accepted call: its record, its registry membership, its
//! idempotency key, and its first timer or its place in the ready queue.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::registry::NO_BATCH;
use super::store::IdempotencyEntry;
use super::{Accepted, Scheduler};
use crate::call::{Call, CallRecord, CallState};
use crate::event::{CallId, Event, EventKind};
use crate::request::{CallRequest, Rejection, ScheduleAt, parse_body};
use crate::retry::Gaps;
use crate::time::{DAY, MAX_TIME, Secs, ceil_secs, instant};
use crate::window::{Window, local_date, wall_to_instant};

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
            Ok(a) => EventKind::Accepted {
                due: a.due,
                duplicate: a.duplicate,
            },
            Err(r) => EventKind::Rejected {
                status: r.status,
                field: r.field.clone(),
                message: r.message.clone(),
            },
        };
        let call = result.as_ref().ok().map(|a| a.call);
        self.events.push(Event::new(instant(now), call, kind));
        self.end_input();
        result
    }

    /// A JSON body: parsed and validated, then admitted.
    pub(super) fn admit_body(&mut self, now: Secs, body: &[u8]) -> Result<Accepted, Rejection> {
        let (request, canonical) = parse_body(body, &self.config)?;
        self.admit(now, request, canonical)
    }

    /// A request built in code: validated as a body would be, then admitted.
    pub(super) fn admit_request(
        &mut self,
        now: Secs,
        request: CallRequest,
    ) -> Result<Accepted, Rejection> {
        let request = request.normalized(&self.config)?;
        let canonical = if request.idempotency_key.is_some() {
            request.to_value()
        } else {
            Value::Null
        };
        self.admit(now, request, canonical)
    }

    /// Runs the checks that need `now` and the engine, in the contract's
    /// order, then queues the call. `canonical` is the request as JSON, for
    /// idempotent repeats.
    fn admit(
        &mut self,
        now: Secs,
        req: CallRequest,
        canonical: Value,
    ) -> Result<Accepted, Rejection> {
        let tz = req.timezone.unwrap_or(self.config.default_timezone);
        let window = req.window()?;
        let (due, occurrence_end) = self.first_attempt(now, &req, tz, window)?;
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
        // The compact record is made first, so that should it refuse the
        // (validated) request, the engine has not changed.
        let record = CallRecord {
            seq,
            slot: None,
            to_number: req.to_number.into(),
            agent: 0,
            batch: NO_BATCH,
            language: req.language,
            metadata: req.metadata.filter(|m| m != "{}").map(Into::into),
            tz,
            window,
            carry_over: req.carry_over,
            retries: req.number_of_retries,
            gaps: req
                .gap_between_retries
                .or_else(|| Gaps::every(self.config.default_retry_gap_minutes))
                .unwrap_or(Gaps::Every(0)),
            priority: req.priority,
            idempotency_key: req.idempotency_key.as_deref().map(Into::into),
            state: CallState::Waiting,
            attempt: 1,
            due,
            occurrence_end,
            timer: None,
            cancel_requested: false,
        };
        let mut call = Call::from_record(record).map_err(Rejection::bad_body)?;
        self.calls.take_seq();
        let member = self
            .registry
            .join(&req.agent_id, req.batch_id.as_deref(), &mut self.ready);
        (call.agent, call.batch, call.lane) = (member.agent, member.batch, member.lane);
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

    /// The first attempt's due instant and, with a window, the end of the
    /// occurrence it is bound to (semantics §3.2); or why it cannot be.
    fn first_attempt(
        &mut self,
        now: Secs,
        req: &CallRequest,
        tz: chrono_tz::Tz,
        window: Option<Window>,
    ) -> Result<(Secs, Option<Secs>), Rejection> {
        let scheduled = match req.schedule_at {
            None => None,
            Some(ScheduleAt::Instant(i)) => Some(ceil_secs(i)),
            Some(ScheduleAt::Local(w)) => {
                Some(wall_to_instant(tz, w).map(ceil_secs).ok_or_else(|| {
                    Rejection::bad(
                        "schedule_at",
                        "Invalid schedule_at: outside the supported range of dates",
                    )
                })?)
            }
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
        let Some(w) = window else {
            return Ok((d, None));
        };
        let o = self
            .occurrences
            .first_ending_after(&w, tz, instant(d))
            .ok_or_else(|| {
                Rejection::bad(
                    "max_trigger_time",
                    format!(
                        "Window {w} has no occurrence near {}",
                        instant(d).to_rfc3339()
                    ),
                )
            })?;
        let (start, end) = (ceil_secs(o.start), ceil_secs(o.end));
        if d >= start || Some(o.date) == local_date(tz, instant(d)) || req.carry_over {
            let due = d.max(start);
            if due > MAX_TIME {
                return Err(Rejection::bad(
                    "max_trigger_time",
                    format!(
                        "Window {w} in {} next opens at {}, after 9999-12-31T23:59:59Z: the call could never trigger; expected an instant in the years 1 to 9999",
                        tz.name(),
                        instant(due).to_rfc3339()
                    ),
                ));
            }
            return Ok((due, Some(end)));
        }
        Err(Rejection::bad(
            "max_trigger_time",
            format!(
                "Window {w} in {} has already closed for {}, and carry_over is false: the call could never trigger; expected carry_over true or a later schedule_at",
                tz.name(),
                local_date(tz, instant(d)).map_or_else(String::new, |x| x.to_string())
            ),
        ))
    }
}
