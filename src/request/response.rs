//! The API's response bodies: a [`Rejection`] and the error body it
//! becomes, and the success body.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A rejected request: the HTTP status, the offending field and a message
/// that names the field and what was expected.
///
/// # Example
/// ```
/// let err = redial::CallRequest::from_json(br#"{"to_number": "9876543210", "agent_id": "a"}"#,
///     &redial::Config::default()).unwrap_err();
/// assert_eq!(err.status, 400);
/// assert_eq!(err.field.as_deref(), Some("to_number"));
/// assert_eq!(err.message, r#"Invalid to_number "9876543210": expected E.164 such as +919876543210"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// HTTP status: 400, 404 or 409.
    pub status: u16,
    /// The offending field, if one is to blame.
    pub field: Option<String>,
    /// A human message naming the field and what was expected.
    pub message: String,
}

impl Rejection {
    pub(crate) fn bad(field: &str, message: impl Into<String>) -> Rejection {
        Rejection {
            status: 400,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub(crate) fn bad_body(message: impl Into<String>) -> Rejection {
        Rejection {
            status: 400,
            field: None,
            message: message.into(),
        }
    }

    /// The API's error body, `{"status": "error", "message": ...}`.
    pub fn to_response(&self) -> ErrorResponse {
        ErrorResponse {
            status: "error".to_owned(),
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Rejection {}

/// The API's error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Always `"error"`.
    pub status: String,
    /// What went wrong.
    pub message: String,
}

/// The API's success body. It carries the ID twice, as `call_id` and
/// `call_sid`: the public docs show each in one place and clients read either.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    /// Always `"success"`.
    pub status: String,
    /// Always `"Call queued successfully"`.
    pub message: String,
    /// The call's ID.
    pub call_id: String,
    /// The call's ID again.
    pub call_sid: String,
}

impl SuccessResponse {
    /// The body for a queued call.
    ///
    /// # Example
    /// ```
    /// let body = redial::SuccessResponse::new("call-1");
    /// assert_eq!(serde_json::to_string(&body).unwrap(),
    ///   r#"{"status":"success","message":"Call queued successfully","call_id":"call-1","call_sid":"call-1"}"#);
    /// ```
    pub fn new(call_id: &str) -> SuccessResponse {
        SuccessResponse {
            status: "success".to_owned(),
            message: "Call queued successfully".to_owned(),
            call_id: call_id.to_owned(),
            call_sid: call_id.to_owned(),
        }
    }
}
