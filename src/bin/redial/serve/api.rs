//! The HTTP endpoints (`docs/spec/http.md`): each reads and checks its
//! request, hands the engine thread a job and turns its answer into JSON.
//! Nothing here touches the engine's state directly.

// A refusal is the response itself, built once per request and returned
// straight to axum: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, RawQuery, Request as HttpRequest, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use redial::{AttemptId, CallId, OpError, Outcome, Output};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::engine::{Change, Job, Reply, Request, Shared, Status};
use super::page;

/// Most events one `GET /events` returns.
const EVENTS_PAGE: usize = 1000;
/// Longest `GET /events` waits.
const MAX_WAIT_SECONDS: u64 = 30;

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    pub jobs: Sender<Job>,
    pub shared: Arc<Shared>,
    pub keys: Arc<BTreeSet<String>>,
    pub max_body: usize,
    /// Longest a client may take to send its headers, and its body.
    pub client_timeout: Duration,
}

/// The routes: the keyed API, then the three open ones.
pub fn router(app: App) -> Router {
    let keyed = Router::new()
        .route("/call/outbound", post(submit))
        .route("/call/{id}", get(call))
        .route("/call/{id}/cancel", post(cancel))
        .route("/call/{id}/outcome", post(outcome))
        .route("/dial", post(dial))
        .route("/batch/{id}/pause", post(pause))
        .route("/batch/{id}/resume", post(resume))
        .route("/batch/{id}/cancel", post(cancel_batch))
        .route("/agents/{id}", put(agent))
        .route("/numbers/{e164}/suppress", post(suppress))
        .route("/numbers/{e164}/unsuppress", post(unsuppress))
        .route("/events", get(events))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_key));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/", get(status_page))
        .merge(keyed)
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such route: see the HTTP contract (docs/spec/http.md)",
            )
        })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(app.clone(), timed))
        .with_state(app)
}

/// `{"status": "error", "message": ...}` with a status.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"status": "error", "message": message})),
    )
        .into_response()
}

fn error_with(status: StatusCode, message: &str, extra: &[(&str, &str)]) -> Response {
    let mut body = json!({"status": "error", "message": message});
    if let Value::Object(map) = &mut body {
        for (k, v) in extra {
            map.insert((*k).to_owned(), Value::from(*v));
        }
    }
    (status, axum::Json(body)).into_response()
}

fn success() -> Response {
    axum::Json(json!({"status": "success"})).into_response()
}

async fn require_key(State(app): State<App>, request: HttpRequest, next: Next) -> Response {
    match request.headers().get("x-api-key") {
        None => error(StatusCode::FORBIDDEN, "Missing X-API-KEY in headers"),
        Some(key) if key.to_str().is_ok_and(|k| app.keys.contains(k)) => next.run(request).await,
        Some(_) => error(StatusCode::FORBIDDEN, "Invalid X-API-KEY"),
    }
}

/// Every error answer is JSON: axum's own refusals (a path segment that
/// does not decode, say) come as text and are wrapped here.
async fn json_errors(request: HttpRequest, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error")
    } else {
        &text
    };
    error(status, message)
}

/// Records each request's latency under its route pattern.
async fn timed(State(app): State<App>, request: HttpRequest, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    // A fixed set of labels: a client's made-up method must not grow
    // the metrics.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "OPTIONS" | "PATCH") => m,
        _ => "OTHER",
    }
    .to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    if let Ok(mut m) = app.shared.metrics.lock() {
        m.requests
            .entry(format!("{method} {route}"))
            .or_default()
            .observe(start.elapsed());
    }
    response
}

/// Hands a job to the engine and waits for its answer.
async fn ask(app: &App, request: Request) -> Result<Reply, Response> {
    let (reply, answer) = oneshot::channel();
    let unavailable = || error(StatusCode::SERVICE_UNAVAILABLE, "the engine has stopped");
    app.jobs
        .send(Job { request, reply })
        .map_err(|_| unavailable())?;
    match answer.await {
        Ok(Reply::Failed(message)) => Err(error(StatusCode::SERVICE_UNAVAILABLE, &message)),
        Ok(Reply::Refused(message)) => Err(error(StatusCode::PAYLOAD_TOO_LARGE, &message)),
        Ok(reply) => Ok(reply),
        Err(_) => Err(unavailable()),
    }
}

async fn change(app: &App, change: Change) -> Result<Output, Response> {
    match ask(app, Request::Change(change)).await? {
        Reply::Applied(output) => Ok(output),
        _ => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected engine answer",
        )),
    }
}

/// The body of a request that must carry JSON: its content type checked,
/// its size refused before it is read whole, its syntax checked. The
/// syntax check parses a submit's body once more than the engine will,
/// on purpose: a body that is not JSON is refused here, unjournaled (bad
/// input changes nothing), and the check runs on the HTTP threads, not
/// on the engine's.
async fn json_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    optional: bool,
) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over {} bytes", app.max_body),
        )
    };
    if declared.is_some_and(|n| n > app.max_body as u64) {
        return Err(too_large());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    let bytes =
        match tokio::time::timeout(app.client_timeout, axum::body::to_bytes(body, app.max_body))
            .await
        {
            Err(_) => {
                return Err(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body took too long to arrive",
                ));
            }
            Ok(Err(_)) => return Err(too_large()),
            Ok(Ok(bytes)) => bytes,
        };
    if optional && bytes.is_empty() {
        return Ok(bytes);
    }
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        ));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
        ));
    }
    Ok(bytes)
}

/// A body's fields, with a 400 naming what was expected.
fn fields<T: serde::de::DeserializeOwned>(bytes: &[u8], expected: &str) -> Result<T, Response> {
    let text = if bytes.is_empty() {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(text).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("{e}; expected {expected}"),
        )
    })
}

fn op_error(e: &OpError) -> Response {
    let status = match e {
        OpError::UnknownCall(_) | OpError::UnknownBatch(_) => StatusCode::NOT_FOUND,
        OpError::NotInFlight(_) | OpError::StaleReport { .. } => StatusCode::CONFLICT,
        OpError::InvalidId(_) | OpError::InvalidNumber(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_with(status, &e.to_string(), &[("code", e.code())])
}

fn done(output: Output) -> Response {
    match output {
        Output::Done(Ok(())) => success(),
        Output::Done(Err(e)) => op_error(&e),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected engine answer",
        ),
    }
}

/// A call ID from a path: one that cannot exist is an unknown call.
fn call_id(id: &str) -> Result<CallId, Response> {
    id.parse::<CallId>().map_err(|_| {
        error_with(
            StatusCode::NOT_FOUND,
            &format!("unknown call {id}: expected a live call's ID such as call-1-0"),
            &[("code", "unknown_call")],
        )
    })
}

async fn submit(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let run = async {
        let bytes = json_body(&app, &headers, body, false).await?;
        match change(&app, Change::Submit(bytes.to_vec())).await? {
            Output::Submitted(Ok(accepted)) => {
                let id = accepted.call.to_string();
                Ok(axum::Json(json!({
                    "status": "success",
                    "message": "Call queued successfully",
                    "call_id": id,
                    "call_sid": id,
                }))
                .into_response())
            }
            Output::Submitted(Err(r)) => {
                let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
                let field = r.field.clone();
                let extra: Vec<(&str, &str)> =
                    field.iter().map(|f| ("field", f.as_str())).collect();
                Ok(error_with(status, &r.message, &extra))
            }
            _ => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected engine answer",
            )),
        }
    };
    run.await.unwrap_or_else(|r: Response| r)
}

async fn call(State(app): State<App>, Path(id): Path<String>) -> Response {
    let run = async {
        let id = call_id(&id)?;
        match ask(&app, Request::Call(id)).await? {
            Reply::Call(Some(info)) => Ok(axum::Json(json!({
                "call_id": info.call.to_string(),
                "state": info.state.to_string(),
                "attempt": info.attempt,
                "due": info.due,
                "batch_id": info.batch_id.as_deref(),
                "agent_id": &*info.agent_id,
                "to_number": info.to_number.to_string(),
                "priority": info.priority,
            }))
            .into_response()),
            Reply::Call(None) => Err(op_error(&OpError::UnknownCall(id))),
            _ => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected engine answer",
            )),
        }
    };
    run.await.unwrap_or_else(|r: Response| r)
}

async fn simple(app: &App, c: Result<Change, Response>) -> Response {
    match c {
        Ok(c) => change(app, c).await.map_or_else(|r| r, done),
        Err(r) => r,
    }
}

async fn cancel(State(app): State<App>, Path(id): Path<String>) -> Response {
    simple(&app, call_id(&id).map(Change::Cancel)).await
}

async fn pause(State(app): State<App>, Path(id): Path<String>) -> Response {
    simple(&app, Ok(Change::PauseBatch(id))).await
}

async fn resume(State(app): State<App>, Path(id): Path<String>) -> Response {
    simple(&app, Ok(Change::ResumeBatch(id))).await
}

async fn cancel_batch(State(app): State<App>, Path(id): Path<String>) -> Response {
    simple(&app, Ok(Change::CancelBatch(id))).await
}

async fn unsuppress(State(app): State<App>, Path(number): Path<String>) -> Response {
    simple(&app, Ok(Change::Unsuppress(number))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome: Outcome,
    #[serde(default)]
    attempt: Option<u32>,
}

async fn outcome(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match call_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let expected = r#"{"outcome": "no_answer"} with an optional "attempt""#;
    change_from_body(
        &app,
        &headers,
        body,
        false,
        expected,
        |b: OutcomeBody| match b.attempt {
            Some(attempt) => Change::Report(AttemptId { call: id, attempt }, b.outcome),
            None => Change::ReportCurrent(id, b.outcome),
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentBody {
    max_concurrent_calls: Option<u32>,
}

async fn agent(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let expected = r#"{"max_concurrent_calls": N or null}"#;
    change_from_body(&app, &headers, body, false, expected, |b: AgentBody| {
        Change::Agent(id, b.max_concurrent_calls)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressBody {
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

async fn suppress(
    State(app): State<App>,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // No body at all means no end.
    let expected = r#"{"until": an RFC 3339 instant or null}"#;
    change_from_body(&app, &headers, body, true, expected, |b: SuppressBody| {
        Change::Suppress(number, b.until)
    })
    .await
}

/// A state change made from a JSON body's fields, applied and answered
/// `{"status": "success"}` or with the engine's refusal.
async fn change_from_body<T: serde::de::DeserializeOwned>(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    optional: bool,
    expected: &str,
    make: impl FnOnce(T) -> Change,
) -> Response {
    let made = match json_body(app, headers, body, optional).await {
        Ok(bytes) => fields(&bytes, expected).map(make),
        Err(r) => Err(r),
    };
    simple(app, made).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DialBody {
    lines: u32,
}

async fn dial(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let run = async {
        let bytes = json_body(&app, &headers, body, false).await?;
        let b: DialBody = fields(&bytes, r#"{"lines": N} with N from 1 to 1000"#)?;
        if !(1..=1000).contains(&b.lines) {
            return Err(error_with(
                StatusCode::BAD_REQUEST,
                &format!("lines {}: expected 1 to 1000", b.lines),
                &[("field", "lines")],
            ));
        }
        match change(&app, Change::Dial(b.lines)).await? {
            Output::Dialed(Ok(calls)) => {
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|d| {
                        json!({
                            "call_id": d.call.to_string(),
                            "attempt": d.attempt,
                            "to_number": d.to_number.to_string(),
                            "agent_id": &*d.agent_id,
                            "batch_id": d.batch_id.as_deref(),
                            "language": d.language,
                            "metadata": d.metadata_value().unwrap_or(Value::Null),
                        })
                    })
                    .collect();
                Ok(axum::Json(json!({ "calls": calls })).into_response())
            }
            Output::Dialed(Err(e)) => Err(op_error(&e)),
            _ => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected engine answer",
            )),
        }
    };
    run.await.unwrap_or_else(|r: Response| r)
}

/// `after` and `wait` from a query string.
fn events_query(query: Option<&str>) -> Result<(u64, u64), Response> {
    let (mut after, mut wait) = (0, 0);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = value.parse::<u64>().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("{key}={value}: expected a non-negative integer"),
            )
        });
        match key {
            "after" => after = number?,
            "wait" => wait = number?.min(MAX_WAIT_SECONDS),
            other => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown query parameter {other}: expected after and wait"),
                ));
            }
        }
    }
    Ok((after, wait))
}

async fn events(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let (after, wait) = match events_query(query.as_deref()) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        // Registered before the read, so an append between the read and
        // the wait still wakes it.
        let notified = app.shared.new_events.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let page = match app.shared.events.lock() {
            Ok(log) => log.read(after, EVENTS_PAGE),
            Err(_) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the event log is unavailable",
                );
            }
        };
        if !page.events.is_empty() || tokio::time::Instant::now() >= deadline {
            let mut body = String::from("{\"events\":[");
            for (i, e) in page.events.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(e);
            }
            body.push_str(&format!("],\"next\":{}", page.next));
            if page.missed > 0 {
                body.push_str(&format!(",\"missed\":{}", page.missed));
            }
            body.push('}');
            return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

async fn status(app: &App) -> Result<Status, Response> {
    match ask(app, Request::Status).await? {
        Reply::Status(s) => Ok(*s),
        _ => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected engine answer",
        )),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    match status(&app).await {
        Ok(s) => match app.shared.metrics.lock() {
            Ok(mut m) => {
                m.prune(&s);
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    m.render(&s),
                )
                    .into_response()
            }
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable"),
        },
        Err(r) => r,
    }
}

async fn status_page(State(app): State<App>) -> Response {
    match status(&app).await {
        Ok(s) => {
            let hours = app
                .shared
                .metrics
                .lock()
                .map(|m| m.hours())
                .unwrap_or_default();
            Html(page::render(&s, &hours)).into_response()
        }
        Err(r) => r,
    }
}
