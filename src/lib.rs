//! # redial
//!
//! A deterministic scheduling engine for outbound AI voice calls: all the
//! logic, no I/O, no clock. The host (an API server behind
//! `POST /call/outbound`, a dialer, a campaign runner) feeds it requests and
//! the current time; redial says which calls to dial now, in what order,
//! and when to wake up next. The host reports each attempt's outcome and
//! redial schedules retries, keeps every attempt inside the callee's daily
//! trigger window (in the callee's time zone, to the second across DST),
//! carries calls over to the next day, expires them, and runs batches with
//! pause, resume and cancel.
//!
//! The contract ships with the crate, in `docs/spec/`: `semantics.md`
//! (the behaviour; "semantics §3.4" in these docs is its section 3.4),
//! `policy.md` (calling policies and what the engine remembers),
//! `trace-format.md` (conformance cases) and `http.md` (the HTTP service).
//! They are a verbatim copy of the project's shared contract, checked in
//! CI. This page summarises them and documents every choice they leave
//! open.
//!
//! ## A first call
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use redial::{Config, EventKind, Outcome, Scheduler};
//!
//! let mut engine = Scheduler::new(Config::default())?; // calls default to Asia/Kolkata
//! let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?; // 10:00 in Kolkata
//!
//! let body = br#"{"to_number": "+919876543210", "agent_id": "6803fa770b666a64ab1694c1e",
//!                 "min_trigger_time": "09:00", "max_trigger_time": "18:00",
//!                 "number_of_retries": 2, "gap_between_retries": [30, 60]}"#;
//! let accepted = engine.submit(now, body)?;
//! // The HTTP response body:
//! // `call-n-s`: the first accepted call, stored in slot 0.
//! assert_eq!(serde_json::to_value(accepted.to_response())?["call_id"], "call-1-0");
//!
//! // Two free lines: take up to two calls to dial now.
//! let calls = engine.dial(now, 2)?;
//! assert_eq!(calls.len(), 1);
//! assert_eq!((calls[0].to_number.as_str(), calls[0].attempt), ("+919876543210", 1));
//!
//! // The callee did not answer: the retry is due 30 minutes later.
//! engine.report(now, &calls[0], Outcome::NoAnswer)?;
//! let events: Vec<_> = std::iter::from_fn(|| engine.poll_event()).collect();
//! assert!(matches!(events.last().map(|e| &e.kind),
//!     Some(EventKind::RetryScheduled { attempt: 2, carried_over: false, .. })));
//! assert_eq!(engine.poll_timeout(), Some("2025-12-31T05:00:00Z".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Run loop
//!
//! redial is sans-IO, in the style of `quinn-proto`: every input takes `now`,
//! every output is polled. A host's loop:
//!
//! 1. Feed inputs as they arrive: [`Scheduler::submit`] (a request body),
//!    [`Scheduler::report`] (an attempt's outcome), [`Scheduler::cancel`],
//!    [`Scheduler::pause_batch`], [`Scheduler::resume_batch`],
//!    [`Scheduler::cancel_batch`], [`Scheduler::register_agent`].
//! 2. When lines are free, [`Scheduler::dial`] with the number of free lines
//!    and dial what it returns ([`Scheduler::dial_into`] fills a vector the
//!    host keeps, so a busy loop allocates none). A [`Dispatch`] shares its
//!    agent, batch and metadata text with the engine and holds its number
//!    inline (a `Copy` [`PhoneNumber`]), so making one allocates nothing;
//!    report its outcome with the dispatch itself (or its [`AttemptId`],
//!    `call-n-s.k`, which a host can carry through a carrier's webhook):
//!    a report that names its attempt is refused once the call has moved
//!    on, so a late or redelivered webhook never ends a later attempt
//!    ([`Scheduler::report_current`] is the unsafe form, for hosts that
//!    cannot carry the attempt).
//! 3. Drain [`Scheduler::poll_event`] until `None` and store or forward the
//!    events: they are the call history (the engine forgets ended calls).
//!    A busy host that only counts or routes them can drain
//!    [`Scheduler::poll_compact_event`] instead: the same events in the
//!    form the engine queues them ([`event::CompactEvent`], instants as
//!    Unix seconds), with no `DateTime` built per event.
//! 4. Sleep until [`Scheduler::poll_timeout`] (or the next input), then call
//!    [`Scheduler::handle_timeout`] with the time it woke up, and go to 2.
//!    (With lines free, dialing at the time it woke up does both: a dial
//!    applies the timers first.) [`Scheduler::is_idle_at`] says when a
//!    dial would find nothing to do, so a host that journals its inputs
//!    need not journal that one.
//!
//! Every input first applies all time-driven changes up to its `now` (calls
//! becoming due, windows closing, attempts timing out), then its own effect.
//! The events come out in that order: time-driven events sorted by their
//! logical instant and then by acceptance order, then the input's own
//! events in the order they happened (for `dial`, the order calls were
//! handed out). Time-driven events carry the instant they logically
//! happened (a window's end, a trigger plus the attempt timeout), so the
//! stream does not depend on how often the host polls.
//!
//! `poll_timeout` is O(1) and covers calls becoming due, windows closing on
//! undialed calls, and attempt timeouts. A call that is already due is not
//! a timeout: dial whenever lines are free.
//!
//! ## Time and DST
//!
//! * redial never reads a clock. A `now` earlier than one already seen is
//!   treated as the latest seen; it is not an error.
//! * The engine's resolution is one second: `now` is truncated to whole
//!   seconds and a fractional `schedule_at` is rounded up, so no attempt
//!   ever triggers before it is due. `now` must lie in the years 1 to 9999
//!   ([`OpError::TimeOutOfRange`], or a 400 on submit).
//! * A call's zone is its `timezone` field, else [`Config::default_timezone`].
//! * A wall-clock time means the first instant whose local time is at or
//!   after it ([`wall_to_instant`]): a time skipped by a spring-forward gap
//!   means the end of the gap (02:30 on 2026-03-08 in New York is 03:00
//!   EDT). That is not jiff's or Temporal's `compatible` disambiguation,
//!   which shifts a gap time forward by the gap's length (03:30): a window
//!   opening at 02:30 opens when the clocks jump, not half an hour later.
//!   A time that occurs twice in a fall-back fold means its first
//!   occurrence. Both `schedule_at` without an offset and window bounds
//!   follow this rule.
//! * A window `[min, max)` has one occurrence per local date ([`Window`]),
//!   `min > max` wraps midnight, only `min` means `[min, 24:00)`, only `max`
//!   means `[00:00, max)`. An occurrence a gap makes empty does not exist;
//!   an occurrence spanning a fold is an hour longer in real time.
//! * An occurrence is the instants from the first `min` to the first `max`,
//!   but an instant is in window only while the wall clock also reads inside
//!   `[min, max)` (semantics 3.1, policy.md 3). `[01:30, 02:30)` in New York
//!   on 2026-11-01 runs from 01:30 EDT to 02:30 EST; during the second pass
//!   of 01:00-01:30 (EST) the wall clock reads before 01:30 again, so a
//!   ready call is `deferred` (reason `calling_hours`) until 01:30 EST, and
//!   no attempt triggers while a callee's clock shows a time outside the
//!   window.
//!
//! ## Scheduling, in brief
//!
//! * **First attempt**: due at `max(now, schedule_at)` if that is inside a
//!   window occurrence; at today's window start if the window has not opened
//!   yet; at the next day's start if today's window already closed and
//!   `carry_over` is set, else the request is rejected (400 on
//!   `max_trigger_time`: it could never trigger).
//! * **Waiting**: a due call waits in the ready queue. If its occurrence
//!   closes first it carries over to the next occurrence's start
//!   (`carried_over`) or expires (`expired`, `window_closed`).
//! * **Order**: highest priority, then earliest due, then earliest
//!   accepted, skipping paused batches and agents at their cap.
//! * **Retries**: `number_of_retries = R` allows `R + 1` attempts. After a
//!   retryable outcome at `r` the next attempt is due `r + gap`; if that
//!   falls past the occurrence's end it carries over (with `carry_over`) to
//!   the first in-window instant after it, or the call expires at `r`.
//! * **Timeouts**: an attempt with no report within
//!   `attempt_timeout_minutes` gets `timed_out` and is handled as outcome
//!   `timeout`.
//! * **Ended calls are forgotten**: memory is bounded by live calls; later
//!   operations naming them get [`OpError::UnknownCall`].
//!
//! ## Calling policies
//!
//! A host describes the rules an operation lives under once, as data in
//! [`Config::policies`] (policy.md), and no attempt ever triggers outside
//! them, whatever a request says:
//!
//! * **Hours and holidays** ([`Policy`]): intervals of local time per
//!   weekday (France's 10:00-13:00 and 14:00-20:00), holidays by date, by
//!   month-day, or relative to Easter ([`easter_sunday`], any year).
//! * **Which policies apply**: the policy of the longest prefix of the
//!   number in [`Config::policy_by_prefix`], plus the one a request names
//!   in its `policy` field; a request only narrows the rules.
//! * **The callee's zones**, from the number (feature `number-zones`,
//!   libphonenumber's data through `rlibphonenumber`; see [`zones`]): for
//!   every call under a policy, and for every call with
//!   [`Config::zones_from_number`]. With several zones (a US area code
//!   across two, a country without area-level data) an instant must be
//!   permitted in every one; a request's `timezone` narrows to itself when
//!   it is one of them and is added to them when it is not.
//! * **Permitted instants**: the window by the wall clock, each policy's
//!   hours, no holiday, in every zone. A due call leaving permitted time is
//!   `deferred` (reason `calling_hours`) to the next permitted instant of
//!   its occurrence; at the occurrence's last permitted instant it carries
//!   over or expires. Every search looks at most 400 days ahead.
//!   [`Scheduler::permitted_intervals`] lists a call's next intervals
//!   (`redial plan --config` prints them).
//! * **Frequency caps** (`max_attempts`: K attempts per number in any D x
//!   24 hours, across calls and batches), checked when a call is handed
//!   out: a capped call is `deferred` (reason `frequency_cap`) to when the
//!   oldest counted attempt ages out, or carries over, or expires (reason
//!   `frequency_cap`); dialing goes on with the next call.
//! * **Suppression** (do-not-call): [`Scheduler::suppress`] and
//!   [`Scheduler::unsuppress`]; a suppressed number's requests get a 403
//!   on `to_number` saying until when and its live calls end `suppressed`
//!   (in-flight ones when reported). A `do_not_call` outcome suppresses the
//!   number for the policy's `suppress_days_after_do_not_call`, else
//!   [`Config::do_not_call_suppression_days`] (no end by default). No
//!   suppression is shortened except by `unsuppress`.
//! * **Lifetimes**: a request's `expires_at` and
//!   [`Config::max_call_age_days`]; no attempt at or after the end, which
//!   expires the call (reason `lifetime`). Without one, a `carry_over` call
//!   that is never dialed carries over every day until year 9999.
//!
//! ```
//! # #[cfg(feature = "number-zones")] {
//! use chrono::{DateTime, Utc};
//! use redial::{Config, DeferReason, EventKind, Scheduler};
//!
//! let config = Config::from_json(r#"{
//!     "policies": {"fr": {"hours": {"daily": [["10:00", "13:00"], ["14:00", "20:00"]],
//!                                   "sat": [], "sun": []}}},
//!     "policy_by_prefix": {"+33": "fr"}}"#)?;
//! let mut engine = Scheduler::new(config)?;
//! // Friday 12:30 in Paris; the number says Europe/Paris.
//! let now: DateTime<Utc> = "2026-06-05T10:30:00Z".parse()?;
//! let id = engine.submit(now, br#"{"to_number": "+33612345678", "agent_id": "a"}"#)?.call;
//! // No line is free until 13:05: the lunch break defers the call to 14:00.
//! let later: DateTime<Utc> = "2026-06-05T11:05:00Z".parse()?;
//! engine.handle_timeout(later)?;
//! let deferred = std::iter::from_fn(|| engine.poll_event()).find_map(|e| match e.kind {
//!     EventKind::Deferred { due, reason: DeferReason::CallingHours } => Some(due),
//!     _ => None,
//! });
//! assert_eq!(deferred, Some("2026-06-05T12:00:00Z".parse()?));
//! assert!(engine.dial(later, 1)?.is_empty());
//! assert_eq!(engine.call(id).map(|c| c.due), Some("2026-06-05T12:00:00Z".parse()?));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Policies are validated when the configuration is read; an error names
//! the key (`policies.fr.hours.mon[1]: intervals overlap`). The presets in
//! `examples/policies/` (France, Canada, US, India) are examples with their
//! sources, not legal advice. A configuration with policies or
//! `zones_from_number` is refused by a build without `number-zones`.
//!
//! The engine remembers, per number, only what policies need (policy.md
//! 6): live suppressions, and the attempt times a cap can still count
//! (forgotten once older than the longest cap period); both are in
//! snapshots.
//!
//! ## Where the contract is silent
//!
//! These choices are ours; each is covered by a test (mostly a conformance
//! case under `tests/cases/`).
//!
//! * Time-driven changes up to `now` are applied before an input's own
//!   effect even when the input itself is refused with an error.
//! * A body with a duplicate top-level field is malformed (400, no field):
//!   JSON parsers disagree on which copy wins.
//! * `metadata` is kept as compact JSON with its keys sorted, and handed
//!   back in each dispatch in that form; inside it, a key given twice keeps
//!   its last value (it is the host's data, not a field of the contract).
//!   A request built in code carries it as a [`Metadata`], which is
//!   checked and written in that form when it is made
//!   ([`Metadata::parse`]): text that is not a JSON object fails there,
//!   not at the submit, and a submit checks only its size against
//!   `max_metadata_bytes`.
//! * An idempotent repeat reports the original call's first `due`. It is
//!   validated in the contract's order, so a repeat that no longer passes
//!   the feasibility check (say, its window closed since) gets that 400.
//!   "Same request" is JSON equality once `null` fields are dropped, so
//!   `"metadata": {}` differs from no metadata.
//! * `retryable_outcomes` may not contain `completed`, `invalid_number` or
//!   `do_not_call` ([`ConfigError`]). An outcome outside the retryable set
//!   ends the call `failed` with that outcome; a host may report `timeout`
//!   itself.
//! * Cancelling an in-flight call emits nothing until its report or
//!   timeout; cancelling it again is harmless. Pausing a paused batch and
//!   resuming a running one are harmless.
//! * `register_agent` with no cap removes the cap; a cap of 0 holds all of
//!   the agent's calls.
//! * A window of only `min_trigger_time: "00:00"` is `[00:00, 24:00)`: a
//!   daily occurrence that ends at midnight, so an undialed call expires at
//!   midnight, or with `carry_over` is carried over to that same instant.
//!   An overnight window whose next start falls in a DST gap can likewise
//!   carry over to its own closing instant.
//! * If today's occurrence was made empty by a DST gap, today's window has
//!   "already closed": the request needs `carry_over`.
//! * Events queue until the host drains them; a drained queue gives back
//!   the memory a large backlog needed.
//! * An agent is known while it is registered or a live call names it, a
//!   batch while it is paused or a live call names it (policy.md 6); once
//!   neither holds they are forgotten, and `pause_batch`, `resume_batch`
//!   and `cancel_batch` of a forgotten batch get [`OpError::UnknownBatch`].
//!   So `cancel_batch` of a running batch forgets it once its in-flight
//!   calls end, and resuming a paused batch with no calls forgets it.
//! * An engine whose last live call ends gives back its slots and queues:
//!   the next call takes slot 0 (`call-n-0`), as in a new engine, and a
//!   snapshot then is a new engine's but for the count of calls accepted.
//! * Call IDs read `call-n-s` (the `n`th accepted call, in slot `s`): the
//!   contract asks only for unique, deterministic IDs, and naming the slot
//!   spares the engine an index of its calls. An ID whose slot does not
//!   hold call `n` is an unknown call; the bare `call-n` is accepted too
//!   (see [`CallId`]). Snapshots (format 2) keep every call in its slot, so
//!   IDs stay valid across a restart; format-1 snapshots still restore.
//! * One engine accepts at most 2^48 - 1 calls over its life (call IDs are
//!   packed into 48 bits in the ready queue); the next submit is a 400
//!   that says so. At a million calls a second that is nine years.
//! * A snapshot is checked as a request would be: a call whose number is
//!   not E.164, or whose `retries` exceed 10, makes restore fail.
//! * libphonenumber names India's zone `Asia/Calcutta`, tzdb's older name
//!   for `Asia/Kolkata`; redial maps it to `Asia/Kolkata`, so a request
//!   saying `Asia/Kolkata` for an Indian number narrows rather than adds a
//!   zone (both have the same rules).
//! * A `do_not_call` report suppresses the number even when the call was
//!   cancelled or suppressed while the attempt was in flight: the callee
//!   said it.
//! * A frequency cap counts triggers, including an attempt that timed out
//!   or whose report was stale.
//! * A batch upload ([`Scheduler::submit_batch`]: a template request and
//!   per call a [`BatchCall`], its number, metadata and schedule) is
//!   exactly its calls submitted one by one as
//!   [`CallRequest::for_call`], in order, at the same `now`: each call is
//!   accepted or rejected on its own, with the error its own submit would
//!   get, and emits its own `accepted` or `rejected` event. An invalid
//!   template rejects every call (each with that error, unless its own
//!   number comes first in the check order); the template's own
//!   `to_number`, `metadata` and `schedule_at` are ignored; an empty batch
//!   changes nothing, not even the clock. A template with an
//!   `idempotency_key` gives all its calls that key: after the first,
//!   each is a 409 (the requests differ in number).
//!
//! ## Commands, the journal and recovery
//!
//! Every input is also a value: a [`Command`] carries its `now`, and
//! [`Scheduler::apply`] applies one and returns its [`Output`]. The input
//! methods above and `apply` are one path (`apply` calls them), so an
//! engine fed either way is the same. Because the engine reads no clock
//! and is deterministic, a host that journals every command before acting
//! on it loses nothing in a crash: restore the latest snapshot, then
//! [`Scheduler::replay_journal`] the records after its position
//! ([`Scheduler::position`], recorded in the snapshot). The [`journal`]
//! module encodes records (length, CRC-32C, a compact binary payload) into
//! the host's buffer and decodes them from its bytes, stopping cleanly at a
//! torn tail; its docs have the format and a worked recovery. A host that
//! calls the input methods itself journals them through
//! [`Scheduler::journaled`]: the same records, without building a
//! `Command` and its `Output` per input. `examples/durable_host.rs` is a
//! host that `fsync`s in groups and
//! survives SIGKILL. `redial serve` (the CLI's `server` feature, outside
//! the library) is the same design as a service: the HTTP API of the
//! contract's `http.md`, each answer sent after its record is `fsync`ed;
//! the README's "Run it as a service" has its guarantees and figures.
//!
//! ## Memory and speed
//!
//! Memory is bounded by what the host keeps alive: live calls, registered
//! agents, paused batches (and lanes, one per (agent, batch) pair of live
//! calls). Ended calls are forgotten, and so are agents and batches that
//! nothing holds, in O(1) when the last call naming them ends: a host that
//! gives every upload its own `batch_id` does not grow ([`Scheduler::footprint`]
//! counts what an engine holds; `tests/lifecycle.rs` runs 10^6 calls with
//! distinct agents and batches and checks that it returns to zero and that
//! resident memory stays flat). Peak-sized tables are given back when they
//! empty: the event queue once drained, the call slots and queues once no
//! call is live.
//!
//! A pending call costs 85-92 bytes without metadata (measured by
//! `cargo bench --bench memory` at 10^6 and 10^7 calls): a 64-byte record
//! in a slab that grows by fixed chunks, a 24-byte timer entry (it
//! carries the call's sequence number, so that ordering the calls a window
//! opening releases reads no record) or a 16-byte ready-queue entry; a
//! call's ID names its slot, so no index maps IDs to calls. Large queues
//! grow by a quarter when full, not by doubling, so little of them is
//! empty.
//! Time-driven work sits in a monotone radix heap (the clock never goes
//! backwards), whose cost does not grow with the number of pending calls;
//! ready calls sit in binary heaps of 16-byte packed keys. Window
//! occurrences are memoised per (zone, window, date), and the last local
//! `schedule_at` converted is remembered (a campaign's calls share their
//! start time); memos never change a result. An attempt costs
//! about 0.8-1.5 µs from 10^3 to 10^7 pending calls (see the README).
//!
//! ## Layout
//!
//! Data types at the bottom, the engine above them, snapshots and the
//! trace harness above the engine; no module imports in a circle.
//!
//! * [`request`] (the request body and its validation), [`number`] (E.164
//!   numbers), [`window`] (windows, wall-clock conversion, the occurrence
//!   memo), [`retry`] (outcomes and gaps), [`config`], [`event`] (what the
//!   engine tells the host), and the private `call` (a live call's compact
//!   record), `time` (instants as seconds), `queue` (the ready queue's
//!   binary heaps and the timers' radix heap), `slab` and `index`.
//! * [`scheduler`]: the public [`Scheduler`] and its rooms, one file per
//!   concern: `admit` (submit, idempotency), `clock` (inputs opening and
//!   closing, timers, windows closing), `dispatch` (handing out calls),
//!   `control` (batches paused, resumed and cancelled, agents registered),
//!   `outcome` (reports, retries, cancel, ending calls); and the parts they
//!   own: `store` (live calls by slot, keys), `registry` (agents, batches,
//!   lanes, with reference counts), `events`, `rebuild` (restore's way in)
//!   and `invariants` (checks of derived state for tests and fuzzing);
//!   `plan` (where a call may trigger, by its rules), `numbers` (per-number
//!   suppressions and cap histories), `suppress`, `inspect`.
//! * [`policy`] (policies as data, the holiday calendar with Easter, and
//!   the memoised permitted-instant computation), [`zones`] (the callee's
//!   zones from the number).
//! * [`snapshot`] (the state as facts, and restore), [`command`] (every
//!   input as a value, and `apply`), [`journal`] (commands as checksummed
//!   records, replay), [`shard`] (several engines behind one router),
//!   [`trace`] (conformance cases), [`template`] (prompt metadata).
//!
//! ## Changes
//!
//! In this release: [`Scheduler::report`] takes the attempt it reports (a
//! [`Dispatch`] or an [`AttemptId`]) and refuses a stale one
//! ([`Scheduler::report_current`] is the old behaviour); [`Event`]
//! serializes flat and names the agent and batch on terminal events;
//! `TimeOfDay::parse` and `ScheduleAt::parse` return a `Result`; the error
//! and event enums are `#[non_exhaustive]`; forgotten batches are unknown;
//! nothing is scheduled after year 9999; calling policies, frequency caps,
//! suppression and call lifetimes (new events `deferred` and `suppressed`,
//! new `expired` reasons, request fields `policy` and `expires_at`,
//! snapshot format 3; [`ConfigError::key`] is now a `String` path);
//! commands ([`Command`], [`Scheduler::apply`], [`Scheduler::position`])
//! and the [`journal`]; batch uploads ([`Scheduler::submit_batch`],
//! [`BatchCall`], [`Command::SubmitBatch`], and [`Output::SubmittedBatch`],
//! which a `match` over [`Output`] must now cover). The
//! README's "Changes" section lists every change.
//!
//! ## Panics, errors and unwraps
//!
//! The engine never panics on host input. Library code denies
//! `clippy::unwrap_used`, `expect_used`, `panic` and `indexing_slicing`;
//! `clippy.toml` bans chrono's panicking APIs (`TimeDelta::minutes`,
//! `NaiveDate::from_ymd`, `LocalResult::unwrap`, `DateTime::naive_local`,
//! ...). Malformed JSON, absurd numbers, unknown IDs, time going backwards
//! and huge metadata all give a typed error ([`Rejection`], [`OpError`],
//! [`SnapshotError`], [`ConfigError`]) and change nothing. Release builds
//! keep overflow checks on.
//!
//! ## Determinism
//!
//! The same inputs give byte-identical outputs, call IDs included
//! (`call-n-s`: the `n`th accepted call, stored in slot `s`; see
//! [`CallId`]). No output depends on
//! `HashMap` iteration; nothing is random. A [`Snapshot`] restored into a
//! new engine continues exactly as the original would.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::disallowed_methods))]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod call;
pub mod command;
pub mod config;
pub mod event;
mod grow;
mod id;
mod index;
pub mod journal;
pub mod number;
pub mod policy;
mod queue;
pub mod request;
pub mod retry;
pub mod scheduler;
pub mod shard;
mod slab;
pub mod snapshot;
pub mod template;
#[cfg(test)]
mod test_rng;
mod time;
pub mod trace;
pub mod window;
#[cfg(feature = "number-zones")]
pub mod zones;

pub use command::{Command, Output};
pub use config::{Config, ConfigError};
pub use event::{
    AttemptId, CallId, DeferReason, Dispatch, Event, EventKind, ExpireReason, OpError,
};
pub use journal::{JournalError, Journaled};
pub use number::{PhoneNumber, PhoneNumberError};
pub use policy::{MaxAttempts, Policy, PolicyError, easter_sunday};
pub use request::{
    BatchCall, CallRequest, ErrorResponse, InvalidScheduleAt, Language, Metadata, Rejection,
    ScheduleAt, SuccessResponse,
};
pub use retry::{Gaps, Outcome};
pub use scheduler::{
    Accepted, AgentInfo, BatchInfo, CallInfo, CallState, Counters, Footprint, ReadyRank, Scheduler,
};
pub use snapshot::{Snapshot, SnapshotError};
pub use window::{InvalidTimeOfDay, Occurrence, TimeOfDay, Window, WindowError, wall_to_instant};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
