//! The crash test: 32 clients submit, dial and report while the server is
//! killed with SIGKILL at random moments and restarted over its data
//! directory. After each restart every answered request must be reflected;
//! over the whole run no (call, attempt) is handed out twice, and the event
//! stream read with cursors has no gap and no duplicate.
//!
//! `REDIAL_SERVE_KILLS=500 cargo test --features server --test serve crash`
//! runs more kills (50 by default); `REDIAL_SERVE_SEED` picks the moments.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::{KEY, Server, temp_dir, try_request};

const CLIENTS: usize = 32;
/// Retries per call: a call ends only when reported completed, or after
/// this many plus one attempts.
const RETRIES: u32 = 10;

/// What the clients were answered. Keyed by call ID, each fact on its own:
/// another client may dial (and report) a call before its submitter has
/// read the submit's answer.
#[derive(Default)]
struct Ledger {
    /// Answered submits.
    calls: BTreeSet<String>,
    /// Calls answered since the last check.
    fresh: Vec<String>,
    /// (call, attempt) of answered dials.
    handed_out: BTreeSet<(String, u64)>,
    twice: Vec<(String, u64)>,
    /// Attempts handed out in answered dials, by call.
    dispatched: BTreeMap<String, u32>,
    /// Calls with an answered `completed` report.
    completed: BTreeSet<String>,
    /// Calls with a `completed` report sent but not answered: it may
    /// have landed.
    maybe_completed: BTreeSet<String>,
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn send(
    addr: &Arc<Mutex<String>>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<Value> {
    let addr = addr.lock().unwrap().clone();
    let text = body.map(Value::to_string);
    let r = try_request(
        &addr,
        method,
        path,
        &[("X-API-KEY", KEY), ("Content-Type", "application/json")],
        text.as_deref().map(str::as_bytes),
    )
    .ok()?;
    assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
    Some(
        json!({"status": r.status, "body": serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null)}),
    )
}

/// One client's work until `stop`.
fn client(
    k: usize,
    addr: Arc<Mutex<String>>,
    gate: Arc<RwLock<()>>,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (k as u64 + 1));
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        let _open = gate.read().unwrap();
        if rng.below(2) == 0 {
            n += 1;
            let body = json!({"to_number": format!("+9198{:02}{:06}", k, n), "agent_id": "a",
                              "batch_id": format!("c{k}"), "number_of_retries": RETRIES,
                              "gap_between_retries": 0});
            if let Some(r) = send(&addr, "POST", "/call/outbound", Some(&body)) {
                assert_eq!(r["status"], 200, "{r}");
                let id = r["body"]["call_id"].as_str().unwrap().to_owned();
                let mut l = ledger.lock().unwrap();
                l.calls.insert(id.clone());
                l.fresh.push(id);
            }
            continue;
        }
        let Some(r) = send(&addr, "POST", "/dial", Some(&json!({"lines": 2}))) else {
            continue;
        };
        let calls = r["body"]["calls"].as_array().cloned().unwrap_or_default();
        {
            let mut l = ledger.lock().unwrap();
            for c in &calls {
                let key = (
                    c["call_id"].as_str().unwrap().to_owned(),
                    c["attempt"].as_u64().unwrap(),
                );
                if !l.handed_out.insert(key.clone()) {
                    l.twice.push(key.clone());
                }
                *l.dispatched.entry(key.0).or_default() += 1;
            }
        }
        for c in calls {
            let id = c["call_id"].as_str().unwrap().to_owned();
            let completed = rng.below(4) == 0;
            let outcome = if completed { "completed" } else { "no_answer" };
            let body = json!({"outcome": outcome, "attempt": c["attempt"]});
            let answer = send(&addr, "POST", &format!("/call/{id}/outcome"), Some(&body));
            let mut l = ledger.lock().unwrap();
            match answer {
                Some(r) if completed && r["status"] == 200 => {
                    l.completed.insert(id);
                }
                None if completed => {
                    l.maybe_completed.insert(id);
                }
                _ => {}
            }
        }
    }
}

/// Reads the event stream with cursors until `stop`, across restarts.
fn reader(addr: Arc<Mutex<String>>, stop: Arc<AtomicBool>) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut after = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(r) = send(&addr, "GET", &format!("/events?after={after}&wait=1"), None) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        assert_eq!(r["status"], 200, "{r}");
        assert!(r["body"].get("missed").is_none(), "{r}");
        for e in r["body"]["events"].as_array().unwrap() {
            let cursor = e["cursor"].as_u64().unwrap();
            assert_eq!(cursor, after + 1, "a gap or a repeat in the event stream");
            after = cursor;
            seen.push(e.clone());
        }
    }
    seen
}

/// Every answered submit is live unless an answered or possible
/// `completed` report, or its last retry, ended it; answered completions
/// are gone.
fn check(server: &Server, ledger: &mut Ledger, sample: &mut Rng, all: bool) {
    let ids: Vec<String> = if all {
        ledger.calls.iter().cloned().collect()
    } else {
        let mut ids = std::mem::take(&mut ledger.fresh);
        let known: Vec<&String> = ledger.calls.iter().collect();
        for _ in 0..50.min(known.len()) {
            ids.push(known[sample.below(known.len() as u64) as usize].clone());
        }
        ids
    };
    for id in ids {
        let dispatched = ledger.dispatched.get(&id).copied().unwrap_or(0);
        let r = server.get(&format!("/call/{id}"));
        if ledger.completed.contains(&id) {
            assert_eq!(r.status, 404, "{id} was completed: {}", r.body);
        } else if !ledger.maybe_completed.contains(&id) && dispatched <= RETRIES {
            assert_eq!(
                r.status, 200,
                "{id} was acknowledged and not ended: {}",
                r.body
            );
            let attempt = r.json()["attempt"].as_u64().unwrap();
            assert!(
                attempt >= u64::from(dispatched),
                "{id}: attempt {attempt} after {dispatched} dispatches"
            );
        }
    }
}

#[test]
fn acknowledged_means_durable_across_kills() {
    let kills: usize = std::env::var("REDIAL_SERVE_KILLS").map_or(50, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("REDIAL_SERVE_SEED").map_or(7, |v| v.parse().unwrap());
    let dir = temp_dir("crash");
    // Snapshots every 200 commands, so recovery also starts from them.
    let mut server = Server::start(&dir, &json!({"snapshot_every": 200}));
    let addr = Arc::new(Mutex::new(server.addr.clone()));
    let gate = Arc::new(RwLock::new(()));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (addr, gate, ledger, stop) =
                (addr.clone(), gate.clone(), ledger.clone(), stop.clone());
            std::thread::spawn(move || client(k, addr, gate, ledger, stop))
        })
        .collect();
    let events = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || reader(addr, stop))
    };
    let mut rng = Rng(seed | 1);
    let mut sample = Rng(seed.wrapping_mul(31) | 1);
    let start = Instant::now();
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(20 + rng.below(120)));
        server.kill();
        // Clients finish (or fail) what they were doing, then wait.
        let closed = gate.write().unwrap();
        server.crash_and_restart();
        *addr.lock().unwrap() = server.addr.clone();
        check(&server, &mut ledger.lock().unwrap(), &mut sample, false);
        drop(closed);
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let seen = events.join().unwrap();
    let mut ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
    check(&server, &mut ledger, &mut sample, true);
    assert!(
        ledger.twice.is_empty(),
        "handed out twice: {:?}",
        ledger.twice
    );

    // The stream as read live, across all the kills, is the stream the
    // last server holds: same cursors, same events, for as many as it
    // retains (a long run ends with more than `event_retention`). With
    // what it holds past the live reader's last, that is the whole
    // stream: no (call, attempt) triggers twice in it, answered or not.
    let mut stored = Vec::new();
    let mut after = 0;
    let mut missed = None;
    loop {
        let page = server.get(&format!("/events?after={after}")).json();
        missed.get_or_insert(page["missed"].as_u64().unwrap_or(0));
        let batch = page["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            break;
        }
        after = page["next"].as_u64().unwrap();
        stored.extend(batch);
    }
    let missed = usize::try_from(missed.unwrap_or(0)).unwrap();
    assert!(missed <= seen.len() && seen.len() <= missed + stored.len());
    assert_eq!(&stored[..seen.len() - missed], &seen[missed..]);
    let whole: Vec<&Value> = seen.iter().chain(&stored[seen.len() - missed..]).collect();
    let mut triggered = BTreeSet::new();
    for e in whole.iter().filter(|e| e["event"] == "triggered") {
        let key = (
            e["call_id"].as_str().unwrap().to_owned(),
            e["attempt"].as_u64().unwrap(),
        );
        assert!(triggered.insert(key.clone()), "{key:?} triggered twice");
    }
    let answered_calls = ledger.calls.len();
    assert!(
        answered_calls > 100 && ledger.handed_out.len() > 100,
        "too little work: {answered_calls} calls"
    );
    assert!(ledger.handed_out.iter().all(|k| triggered.contains(k)));
    eprintln!(
        "{kills} kills in {:?}: {answered_calls} answered submits, {} answered dispatches, {} events",
        start.elapsed(),
        ledger.handed_out.len(),
        whole.len()
    );
}
