//! `redial serve` over real HTTP on loopback: the real binary, a plain
//! socket client, bounded request counts (needs `--features server`).
#![cfg(feature = "server")]

mod crash;
mod http;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http::{KEY, Server, post, request, temp_dir};
use serde_json::{Value, json};

fn settings() -> Value {
    json!({"snapshot_every": 1000, "client_timeout_ms": 400})
}

/// The submit bodies of the seed's conformance cases, as the files hold them.
fn seed_requests() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("seed_")
        })
        .collect();
    names.sort();
    for path in names {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for step in case["steps"].as_array().unwrap() {
            if step["op"] == "submit" {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, step["request"].clone()));
            }
        }
    }
    out
}

/// Whether the server should accept `body` now, by its window: a call
/// whose window has no carry-over must be able to trigger today, before
/// the window closes in the callee's zone (semantics 3.2), and the server
/// stamps a request with the wall clock (the seed's `schedule_at` is in
/// the past, so the call is due at once). The seed's numbers are Indian,
/// so the zone is Asia/Kolkata unless the body names one. `None` within
/// two minutes of the window's end, where the server may see either side.
fn window_accepts_now(body: &Value) -> Option<bool> {
    use chrono::Timelike;
    let close = body["max_trigger_time"].as_str();
    let Some(close) = close.filter(|_| body["carry_over"] != true) else {
        return Some(true);
    };
    let zone: chrono_tz::Tz = match body["timezone"].as_str() {
        Some(name) => name.parse().unwrap(),
        None => {
            assert!(body["to_number"].as_str().unwrap().starts_with("+91"));
            chrono_tz::Asia::Kolkata
        }
    };
    let (h, m) = close.split_once(':').unwrap();
    let close = h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap();
    let now =
        chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).with_timezone(&zone);
    let now = i64::from(now.hour()) * 60 + i64::from(now.minute());
    ((now - close).abs() > 2).then_some(now < close)
}

#[test]
fn the_seeds_examples_get_the_documented_answers() {
    let dir = temp_dir("seed");
    let server = Server::start(&dir, &settings());
    let seeds = seed_requests();
    assert!(seeds.len() >= 6, "{seeds:?}");
    for (case, body) in &seeds {
        let r = request(
            &server.addr,
            "POST",
            "/call/outbound",
            &[("X-API-KEY", KEY), ("Content-Type", "application/json")],
            Some(serde_json::to_string_pretty(body).unwrap().as_bytes()),
        );
        let accepts = window_accepts_now(body);
        if accepts == Some(false) || (accepts.is_none() && r.status == 400) {
            // Past today's window with no carry-over: the 400 that says so.
            assert_eq!(r.status, 400, "{case}: {}", r.body);
            let j = r.json();
            assert_eq!(j["field"], "max_trigger_time", "{case}");
            let message = j["message"].as_str().unwrap();
            assert!(message.contains("carry_over is false"), "{case}: {message}");
            continue;
        }
        assert_eq!(r.status, 200, "{case}: {}", r.body);
        let j = r.json();
        assert_eq!(j["status"], "success", "{case}");
        assert_eq!(j["message"], "Call queued successfully", "{case}");
        assert!(
            j["call_id"].as_str().unwrap().starts_with("call-"),
            "{case}"
        );
        assert_eq!(j["call_id"], j["call_sid"], "{case}");
        // The call is there, as submitted.
        let info = server
            .get(&format!("/call/{}", j["call_id"].as_str().unwrap()))
            .json();
        assert_eq!(info["to_number"], body["to_number"], "{case}");
        assert_eq!(info["agent_id"], body["agent_id"], "{case}");
    }
    // Without a key, and with a wrong one: the seed's 403 bodies.
    let body = serde_json::to_vec(&seeds[0].1).unwrap();
    let submit_with = |key: Option<&str>| {
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend(key.map(|k| ("X-API-KEY", k)));
        request(
            &server.addr,
            "POST",
            "/call/outbound",
            &headers,
            Some(&body),
        )
    };
    for (key, message) in [
        (None, "Missing X-API-KEY in headers"),
        (Some("nope"), "Invalid X-API-KEY"),
    ] {
        let r = submit_with(key);
        assert_eq!(r.status, 403);
        assert_eq!(r.json(), json!({"status": "error", "message": message}));
    }
    // Both keys of REDIAL_API_KEYS work.
    for key in ["other-key", KEY] {
        let r = submit_with(Some(key));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // A rejection carries the engine's status, message and field.
    let r = server.post(
        "/call/outbound",
        &json!({"to_number": "12345", "agent_id": "a"}),
    );
    assert_eq!(r.status, 400);
    let j = r.json();
    assert_eq!(
        (j["status"].as_str(), j["field"].as_str()),
        (Some("error"), Some("to_number")),
        "{j}"
    );
}

#[test]
fn a_dialer_needs_only_dial_and_outcome() {
    let dir = temp_dir("dialer");
    let server = Server::start(&dir, &settings());
    // A day from now: the server's clock is the wall clock.
    let later = chrono::DateTime::<chrono::Utc>::from(
        std::time::SystemTime::now() + Duration::from_secs(86_400),
    )
    .to_rfc3339();
    let submit = |n: u32, retries: u32| {
        let r = server.post(
            "/call/outbound",
            &json!({"to_number": format!("+9198765432{n:02}"), "agent_id": "a", "batch_id": "b",
                    "metadata": {"name": "Abhinav", "n": n}, "number_of_retries": retries,
                    "gap_between_retries": 0}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["call_id"].as_str().unwrap().to_owned()
    };
    let one = submit(1, 0);
    let two = submit(2, 1);
    let info = server.get(&format!("/call/{one}")).json();
    assert_eq!(info["state"], "ready", "{info}");
    assert_eq!(
        (info["attempt"].as_u64(), info["batch_id"].as_str()),
        (Some(1), Some("b"))
    );

    let calls = server.post("/dial", &json!({"lines": 5})).json()["calls"].clone();
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0]["call_id"], one.as_str());
    assert_eq!(calls[0]["metadata"], json!({"name": "Abhinav", "n": 1}));
    assert_eq!(calls[0]["attempt"], 1);
    assert_eq!(
        server.get(&format!("/call/{one}")).json()["state"],
        "in_flight"
    );
    // Nothing left: an empty dial.
    assert_eq!(
        server.post("/dial", &json!({"lines": 1})).json(),
        json!({"calls": []})
    );

    // Outcomes: the current attempt, or a named one.
    let report = |call: &str, body: Value| server.post(&format!("/call/{call}/outcome"), &body);
    let r = report(&one, json!({"outcome": "completed"}));
    assert_eq!((r.status, r.json()), (200, json!({"status": "success"})));
    server
        .get(&format!("/call/{one}"))
        .assert_refused(404, "unknown_call");
    report(&one, json!({"outcome": "completed"})).assert_refused(404, "unknown_call");
    report(&two, json!({"outcome": "no_answer", "attempt": 2})).assert_refused(409, "stale_report");
    let r = report(&two, json!({"outcome": "no_answer", "attempt": 1}));
    assert_eq!(r.status, 200, "{}", r.body);
    report(&two, json!({"outcome": "busy"})).assert_refused(409, "not_in_flight");
    let r = report(&two, json!({"outcome": "maybe"}));
    assert_eq!(r.status, 400, "{}", r.body);

    // Batches: pause holds the retry back, resume releases it.
    assert_eq!(server.post("/batch/b/pause", &json!(null)).status, 200);
    assert_eq!(
        server.post("/dial", &json!({"lines": 5})).json(),
        json!({"calls": []})
    );
    assert_eq!(server.post("/batch/b/resume", &json!(null)).status, 200);
    let calls = server.post("/dial", &json!({"lines": 5})).json();
    assert_eq!(calls["calls"][0]["attempt"], 2, "{calls}");
    server
        .post("/batch/nobody/pause", &json!(null))
        .assert_refused(404, "unknown_batch");
    // Cancelling the batch ends its in-flight call at its report.
    assert_eq!(server.post("/batch/b/cancel", &json!(null)).status, 200);
    assert_eq!(
        server.get(&format!("/call/{two}")).json()["state"],
        "in_flight"
    );
    let r = server.post(
        &format!("/call/{two}/outcome"),
        &json!({"outcome": "no_answer"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.get(&format!("/call/{two}")).status, 404);

    // Agents' caps: one line for agent c.
    let r = request(
        &server.addr,
        "PUT",
        "/agents/c",
        &[("X-API-KEY", KEY), ("Content-Type", "application/json")],
        Some(br#"{"max_concurrent_calls": 1}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for n in [10, 11] {
        let r = server.post(
            "/call/outbound",
            &json!({"to_number": format!("+91987654{n:04}"), "agent_id": "c"}),
        );
        assert_eq!(r.status, 200);
    }
    assert_eq!(
        server.post("/dial", &json!({"lines": 5})).json()["calls"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Suppression: a suppressed number's waiting call ends, and a submit
    // for it is refused with 403 until it is lifted.
    let body = json!({"to_number": "+919876500099", "agent_id": "a", "schedule_at": later});
    let id = server.post("/call/outbound", &body).json()["call_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server.post("/numbers/%2B919876500099/suppress", &json!({"until": null}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.get(&format!("/call/{id}")).status, 404);
    let r = server.post("/call/outbound", &body);
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (403, Some("error")),
        "{}",
        r.body
    );
    assert_eq!(
        server
            .post("/numbers/%2B919876500099/unsuppress", &json!(null))
            .status,
        200
    );
    assert_eq!(server.post("/call/outbound", &body).status, 200);
    let r = server.post("/numbers/12/suppress", &json!({}));
    assert_eq!(r.status, 400, "{}", r.body);

    // Cancel one call.
    let r = server.post(
        "/call/outbound",
        &json!({"to_number": "+919876500100", "agent_id": "a", "schedule_at": later}),
    );
    let id = r.json()["call_id"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get(&format!("/call/{id}")).json()["state"],
        "waiting"
    );
    assert_eq!(
        server
            .post(&format!("/call/{id}/cancel"), &json!(null))
            .status,
        200
    );
    assert_eq!(
        server
            .post(&format!("/call/{id}/cancel"), &json!(null))
            .status,
        404
    );
    assert_eq!(
        server.post("/call/call-99-0/cancel", &json!(null)).status,
        404
    );
    assert_eq!(
        server.post("/call/not-an-id/cancel", &json!(null)).status,
        404
    );
}

#[test]
fn events_have_cursors_that_survive_a_crash() {
    let dir = temp_dir("events");
    // A snapshot every 5 commands: recovery starts from one.
    let mut server = Server::start(&dir, &json!({"snapshot_every": 5}));
    for n in 0..12 {
        let r = server.post(
            "/call/outbound",
            &json!({"to_number": format!("+9198765{n:05}"), "agent_id": "a"}),
        );
        assert_eq!(r.status, 200);
    }
    server.post("/dial", &json!({"lines": 3}));
    let all = server.get("/events").json();
    let events = all["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 15, "{all}");
    let cursors: Vec<u64> = events
        .iter()
        .map(|e| e["cursor"].as_u64().unwrap())
        .collect();
    assert_eq!(cursors, (1..=15).collect::<Vec<_>>());
    assert_eq!(all["next"], 15);
    let page = server.get("/events?after=10").json();
    assert_eq!(page["events"].as_array().unwrap().len(), 5);
    assert_eq!(page["events"][0]["cursor"], 11);

    server.crash_and_restart();
    // The same events, with the same cursors, after recovery.
    assert_eq!(
        server.get("/events").json()["events"].as_array().unwrap(),
        &events
    );
    assert!(
        std::fs::read_dir(&*dir)
            .unwrap()
            .any(|e| e.unwrap().file_name() == "snapshot.bin")
    );

    // A long poll returns when an event arrives, not at its deadline.
    let addr = server.addr.clone();
    let waiter = std::thread::spawn(move || {
        let start = Instant::now();
        let r = request(
            &addr,
            "GET",
            "/events?after=15&wait=20",
            &[("X-API-KEY", KEY)],
            None,
        );
        (start.elapsed(), r.json())
    });
    std::thread::sleep(Duration::from_millis(300));
    server.post(
        "/call/outbound",
        &json!({"to_number": "+919876599999", "agent_id": "a"}),
    );
    let (waited, page) = waiter.join().unwrap();
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(page["events"][0]["cursor"], 16, "{page}");
    assert_eq!(page["events"][0]["event"], "accepted");
    // Nothing after the last: an empty page at once without wait.
    assert_eq!(
        server.get("/events?after=16").json(),
        json!({"events": [], "next": 16})
    );
    assert_eq!(server.get("/events?after=x").status, 400);
}

#[test]
fn bad_input_gets_json_errors_and_changes_nothing() {
    let dir = temp_dir("bad");
    let server = Server::start(&dir, &settings());
    server.post(
        "/call/outbound",
        &json!({"to_number": "+919876543210", "agent_id": "a"}),
    );
    let before = server.position();
    let keyed = [("X-API-KEY", KEY), ("Content-Type", "application/json")];
    let check = |r: http::Response, status: u16| {
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.json()["status"], "error", "{}", r.body);
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    // Not JSON, the wrong type, unknown routes and methods, bad fields.
    let text = [("X-API-KEY", KEY), ("Content-Type", "text/plain")];
    let untyped = [("X-API-KEY", KEY)];
    // (method, path, headers, body, status)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        Option<&'a [u8]>,
        u16,
    );
    let cases: [Case; 12] = [
        (
            "POST",
            "/call/outbound",
            &keyed,
            Some(b"{\"to_number\": "),
            400,
        ),
        ("POST", "/call/outbound", &keyed, Some(b"\xff\xfe"), 400),
        ("POST", "/call/outbound", &text, Some(b"{}"), 415),
        ("POST", "/call/outbound", &untyped, Some(b"{}"), 415),
        ("GET", "/nowhere", &keyed, None, 404),
        ("GET", "/call/%FF%FE", &keyed, None, 400),
        ("BREW", "/dial", &keyed, None, 405),
        ("DELETE", "/call/outbound", &keyed, None, 405),
        ("POST", "/dial", &keyed, Some(br#"{"lines": 0}"#), 400),
        ("POST", "/dial", &keyed, Some(br#"{"lines": 1e9}"#), 400),
        ("POST", "/dial", &keyed, Some(br#"{"line": 1}"#), 400),
        (
            "PUT",
            "/agents/a",
            &keyed,
            Some(br#"{"max_concurrent_calls": -1}"#),
            400,
        ),
    ];
    for (method, path, headers, body, status) in cases {
        check(request(&server.addr, method, path, headers, body), status);
    }
    // Over max_body_bytes (64 KiB): refused from its declared length...
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /call/outbound HTTP/1.1\r\nHost: x\r\nX-API-KEY: {KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    check(http::read_response(&mut stream).unwrap(), 413);
    // ...or, chunked with no length, once it passes the limit.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /call/outbound HTTP/1.1\r\nHost: x\r\nX-API-KEY: {KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 32 * 1024];
    for _ in 0..3 {
        if write!(stream, "{:x}\r\n", chunk.len()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    check(http::read_response(&mut stream).unwrap(), 413);
    // Huge metadata within the limit is the engine's 400.
    let big = "x".repeat(60_000);
    let r = server.post(
        "/call/outbound",
        &json!({"to_number": "+919876543219", "agent_id": "a", "metadata": {"k": big}}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let after_rejection = server.position();
    assert_eq!(
        after_rejection,
        before + 1,
        "a rejected submit is journaled like any command"
    );

    // A slow client is cut off: headers never finished...
    let start = Instant::now();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"POST /call/outbound HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut buf);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // ...and a body that stops halfway.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /call/outbound HTTP/1.1\r\nHost: x\r\nX-API-KEY: {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"to"
    )
    .unwrap();
    let start = Instant::now();
    check(http::read_response(&mut stream).unwrap(), 408);
    assert!(start.elapsed() < Duration::from_secs(5));

    // None of it changed the state, and the server still answers.
    assert_eq!(server.position(), after_rejection);
    let r = server.post(
        "/call/outbound",
        &json!({"to_number": "+919876543211", "agent_id": "a"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        post(&server.addr, "/dial", &json!({"lines": 2})).json()["calls"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn the_open_endpoints_need_no_key_and_show_no_number() {
    let dir = temp_dir("open");
    let mut server = Server::start(&dir, &settings());
    server.post(
        "/call/outbound",
        &json!({"to_number": "+919876543210", "agent_id": "a", "batch_id": "spring <sale>"}),
    );
    server.post("/dial", &json!({"lines": 1}));
    let r = request(&server.addr, "GET", "/healthz", &[], None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let r = request(&server.addr, "GET", "/", &[], None);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(
        r.body.contains("<meta http-equiv=\"refresh\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<td>spring &lt;sale&gt;</td>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<svg id=\"chart\""), "{}", r.body);
    assert!(r.body.contains(" UTC, attempts: 1</title>"), "{}", r.body);
    assert!(!r.body.contains("9876543210"));
    let r = request(&server.addr, "GET", "/metrics", &[], None);
    assert_eq!(r.status, 200);
    for line in [
        "redial_calls{state=\"in_flight\"} 1",
        "redial_calls{state=\"ready\"} 0",
        "redial_batch_calls{batch=\"spring <sale>\",state=\"in_flight\"} 1",
        "redial_batch_attempts_total{batch=\"spring <sale>\"} 1",
        "redial_fsync_seconds_count 2",
    ] {
        assert!(r.body.lines().any(|l| l == line), "{line} in\n{}", r.body);
    }
    assert!(
        r.body
            .contains("redial_request_seconds_count{route=\"POST /dial\"} 1"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("9876543210"));
    // The chart is rebuilt from the retained events after a restart.
    server.crash_and_restart();
    let r = request(&server.addr, "GET", "/", &[], None);
    assert!(r.body.contains(" UTC, attempts: 1</title>"), "{}", r.body);
}

#[test]
fn a_data_directory_keeps_the_configuration_it_was_created_with() {
    let dir = temp_dir("config");
    let in_two_days = chrono::DateTime::<chrono::Utc>::from(
        std::time::SystemTime::now() + Duration::from_secs(2 * 86_400),
    )
    .to_rfc3339();
    let body = json!({"to_number": "+919876543210", "agent_id": "a", "schedule_at": in_two_days});
    let mut server = Server::start(&dir, &json!({"engine": {"max_schedule_ahead_days": 1}}));
    let r = server.post("/call/outbound", &body);
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("schedule_at")),
        "{}",
        r.body
    );
    // Restarted with another engine section: the directory's own wins, so
    // the journal replays as it was written.
    server.kill();
    let mut server = Server::start(&dir, &json!({"engine": {"max_schedule_ahead_days": 30}}));
    assert_eq!(server.post("/call/outbound", &body).status, 400);
    server.crash_and_restart();
    assert_eq!(server.post("/call/outbound", &body).status, 400);
    // A new directory takes the new configuration.
    let other = temp_dir("config-new");
    let fresh = Server::start(&other, &json!({"engine": {"max_schedule_ahead_days": 30}}));
    assert_eq!(fresh.post("/call/outbound", &body).status, 200);
}

#[test]
fn connections_over_the_limit_wait_for_a_free_one() {
    let dir = temp_dir("limit");
    let server = Server::start(
        &dir,
        &json!({"max_connections": 2, "client_timeout_ms": 500}),
    );
    // Two clients that never finish their headers hold both slots...
    let mut stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // ...so a third waits until the header timeout frees one, then is served.
    let start = Instant::now();
    let r = request(&server.addr, "GET", "/healthz", &[], None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(200),
        "served at once: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    stalled.clear();
}
