//! Bytes per pending call, measured with a counting global allocator (not
//! estimated): the heap growth from building an engine of N pending calls
//! (no metadata), divided by N. Prints one line per size; runs as a
//! `harness = false` bench so `cargo bench` includes it.
//!
//! A second line per size runs N calls with distinct agent and batch IDs
//! to completion, 1,000 at a time (a host that gives every upload its own
//! `batch_id`), and prints the heap and resident growth over the last 90%
//! of them and what the engine still holds: policy.md 6 says nothing.
//!
//! Sizes: `REDIAL_BENCH_SIZES=1000000,10000000` (default); CI smoke runs
//! use `REDIAL_BENCH_SMOKE=1` (10,000 calls only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use redial::{CallRequest, Config, Outcome, Scheduler, TimeOfDay};

/// Counts live heap bytes. The only unsafe code in the project: a global
/// allocator must implement an unsafe trait; it forwards to the system's.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The process's resident set (Linux), for the "under 2 GiB at 1e7" check.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

fn measure(n: usize) -> (f64, f64) {
    let now: DateTime<Utc> = "2026-03-06T00:00:00Z".parse().unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let mut e = Scheduler::new(Config::default()).unwrap();
    for i in 0..n {
        let mut r = CallRequest::new(
            &format!("+9198{:08}", i % 100_000_000),
            ["a0", "a1", "a2", "a3", "a4"][i % 5],
        );
        r.batch_id = Some(["b0", "b1", "b2"][i % 3].to_owned());
        r.number_of_retries = 3;
        if i % 2 == 0 {
            r.min_trigger_time = TimeOfDay::new(9, 0);
            r.max_trigger_time = TimeOfDay::new(18, 0);
            r.carry_over = true;
        }
        e.submit_request(now, r).unwrap();
        // Drained after every input, as the run loop does: the event queue's
        // capacity is the host's to bound, not the calls'.
        while e.poll_event().is_some() {}
    }
    let waiting = LIVE.load(Ordering::Relaxed) - before;
    if let Some(rss) = resident_bytes() {
        println!(
            "memory/{n}: process resident {:.2} GiB with the engine built",
            rss as f64 / f64::from(1 << 30)
        );
    }
    // The same calls once they are all ready (due now) instead of waiting.
    drop(e);
    let before = LIVE.load(Ordering::Relaxed);
    let mut e = Scheduler::new(Config::default()).unwrap();
    for i in 0..n {
        let r = CallRequest::new(
            &format!("+9198{:08}", i % 100_000_000),
            ["a0", "a1", "a2", "a3", "a4"][i % 5],
        );
        e.submit_request(now, r).unwrap();
        // Drained after every input, as the run loop does: the event queue's
        // capacity is the host's to bound, not the calls'.
        while e.poll_event().is_some() {}
    }
    let ready = LIVE.load(Ordering::Relaxed) - before;
    (waiting as f64 / n as f64, ready as f64 / n as f64)
}

/// Runs calls `from..to`, each with its own agent and batch, to completion.
fn churn(e: &mut Scheduler, now: DateTime<Utc>, from: usize, to: usize) {
    let mut start = from;
    while start < to {
        let end = (start + 1_000).min(to);
        for i in start..end {
            let mut r = CallRequest::new(
                &format!("+9198{:08}", i % 100_000_000),
                &format!("agent-{i}"),
            );
            r.batch_id = Some(format!("upload-{i}"));
            e.submit_request(now, r).unwrap();
        }
        for d in e.dial(now, 1_000).unwrap() {
            e.report(now, &d, Outcome::Completed).unwrap();
        }
        while e.poll_event().is_some() {}
        start = end;
    }
}

/// Heap and resident growth over the last 90% of `n` churned calls.
fn churn_growth(n: usize) {
    let now: DateTime<Utc> = "2026-03-06T06:00:00Z".parse().unwrap();
    let mut e = Scheduler::new(Config::default()).unwrap();
    churn(&mut e, now, 0, n / 10);
    let (heap, rss) = (LIVE.load(Ordering::Relaxed), resident_bytes());
    churn(&mut e, now, n / 10, n);
    let heap_growth = LIVE.load(Ordering::Relaxed) as i64 - heap as i64;
    let rss_growth = resident_bytes()
        .zip(rss)
        .map_or(0, |(after, before)| after as i64 - before as i64);
    let f = e.footprint();
    println!(
        "memory/{n}: distinct agent and batch per call, run to completion: heap {heap_growth:+} bytes, resident {:+.2} MB over the last 90%; the engine holds {} calls, {} agents, {} batches, {} lanes",
        rss_growth as f64 / f64::from(1 << 20),
        f.live_calls,
        f.agents,
        f.batches,
        f.lanes
    );
}

fn main() {
    // `cargo bench` passes flags such as --bench; they do not apply here.
    let sizes: Vec<usize> = if std::env::var_os("REDIAL_BENCH_SMOKE").is_some() {
        vec![10_000]
    } else {
        std::env::var("REDIAL_BENCH_SIZES")
            .ok()
            .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1_000_000, 10_000_000])
    };
    for n in sizes {
        let (mixed, ready) = measure(n);
        println!(
            "memory/{n}: {mixed:.0} bytes per pending call (half of them waiting for a window); {ready:.0} bytes per ready call"
        );
        churn_growth(n);
    }
}
