//! Batch uploads: one template request, and per call only what varies.

use serde::{Deserialize, Serialize};

use super::{CallRequest, Metadata, ScheduleAt};

/// One call of a batch upload ([`Scheduler::submit_batch`]): the fields
/// that vary from call to call. Everything else comes from the batch's
/// template request.
///
/// [`Scheduler::submit_batch`]: crate::Scheduler::submit_batch
///
/// # Example
/// ```
/// use redial::{BatchCall, CallRequest, Metadata};
/// let template = CallRequest::new("", "agent-7");
/// let metadata = Metadata::parse(r#"{"name": "Asha"}"#)?;
/// let call = BatchCall::new("+919876543210").with_metadata(metadata);
/// let request = template.for_call(&call);
/// assert_eq!(request.to_number, "+919876543210");
/// assert_eq!(request.agent_id, "agent-7");
/// assert_eq!(request.metadata.as_ref().map(Metadata::as_str), Some(r#"{"name":"Asha"}"#));
/// # Ok::<(), redial::Rejection>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCall {
    /// The callee, E.164.
    pub to_number: String,
    /// Its metadata, as [`CallRequest::metadata`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// When its first attempt may happen, as
    /// [`CallRequest::schedule_at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_at: Option<ScheduleAt>,
}

impl BatchCall {
    /// A call to `to_number` with no metadata and no schedule.
    pub fn new(to_number: impl Into<String>) -> BatchCall {
        BatchCall {
            to_number: to_number.into(),
            metadata: None,
            schedule_at: None,
        }
    }

    /// The same call with this metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> BatchCall {
        self.metadata = Some(metadata);
        self
    }

    /// The same call with this first-attempt schedule.
    #[must_use]
    pub fn with_schedule(mut self, at: ScheduleAt) -> BatchCall {
        self.schedule_at = Some(at);
        self
    }
}

impl CallRequest {
    /// The request a batch submits for `call`: this template with the
    /// call's number, metadata and schedule in place of its own. A batch
    /// treats each call exactly as a submit of this request.
    ///
    /// # Example
    /// See [`BatchCall`].
    pub fn for_call(&self, call: &BatchCall) -> CallRequest {
        CallRequest {
            to_number: call.to_number.clone(),
            metadata: call.metadata.clone(),
            schedule_at: call.schedule_at,
            ..self.clone()
        }
    }
}
