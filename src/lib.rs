//! redial
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

pub mod config;
pub mod event;
mod queue;
pub mod request;
pub mod retry;
pub mod scheduler;
pub mod snapshot;
pub mod template;
pub mod trace;
pub mod window;

pub use config::{Config, ConfigError};
pub use event::{CallId, Dispatch, Event, EventKind, ExpireReason, OpError};
pub use request::{CallRequest, ErrorResponse, Language, Rejection, ScheduleAt, SuccessResponse};
pub use retry::{Gaps, Outcome};
pub use scheduler::{Accepted, CallState, Scheduler};
pub use snapshot::{Snapshot, SnapshotError};
pub use window::{Occurrence, TimeOfDay, Window, WindowError, wall_to_instant};
