//! `redial serve`: the engine behind the HTTP contract
//! (`docs/spec/http.md`), durable on local disk.
//!
//! One thread owns the engine and the journal ([`engine`]); the HTTP side
//! ([`api`]) runs on tokio and only sends it jobs. A 2xx answer to a
//! state-changing request is sent after its journal record is `fsync`ed.
//! At start the server recovers from the data directory ([`store`]) before
//! it listens.

mod api;
mod engine;
mod events;
mod metrics;
mod page;
mod store;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use redial::Config;
use serde::Deserialize;
use tokio::sync::Notify;

use engine::Shared;
use metrics::Metrics;

/// The `serve` subcommand's arguments.
pub struct Options {
    pub data_dir: PathBuf,
    pub listen: String,
    pub config: Option<String>,
    pub no_fsync: bool,
}

/// The configuration file (`--config`): the server's keys and settings,
/// and the engine's configuration under `engine`.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Accepted `X-API-KEY` values (added to `REDIAL_API_KEYS`).
    api_keys: Vec<String>,
    /// The engine's configuration for a new data directory (a recovered
    /// one keeps the configuration its snapshot holds).
    engine: Option<serde_json::Value>,
    /// Commands between snapshots.
    snapshot_every: u64,
    /// Events `GET /events` can still return.
    event_retention: usize,
    /// Longest a client may take to send a request's headers, and again
    /// its body, in milliseconds; a slower one is cut off.
    client_timeout_ms: u64,
    /// Connections served at once; more wait in the listen queue. Each
    /// has at most one request in the engine's queue, so this bounds it.
    max_connections: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            api_keys: Vec::new(),
            engine: None,
            snapshot_every: 100_000,
            event_retention: 100_000,
            client_timeout_ms: 10_000,
            max_connections: 1024,
        }
    }
}

/// Runs the server until it is interrupted or its journal fails.
pub fn run(options: Options) -> Result<ExitCode, String> {
    let settings: Settings = match &options.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => Settings::default(),
    };
    let config = match &settings.engine {
        Some(v) => Some(
            Config::from_json(&v.to_string()).map_err(|e| format!("engine configuration: {e}"))?,
        ),
        None => None,
    };
    let mut keys: BTreeSet<String> = settings.api_keys.iter().cloned().collect();
    if let Ok(env) = std::env::var("REDIAL_API_KEYS") {
        keys.extend(
            env.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
        );
    }
    if keys.is_empty() {
        return Err(
            "no API key: set REDIAL_API_KEYS (comma-separated) or api_keys in --config".into(),
        );
    }
    let addr: SocketAddr = options.listen.parse().map_err(|e| {
        format!(
            "--listen {}: {e}; expected an address such as 127.0.0.1:8080",
            options.listen
        )
    })?;
    let recovered = store::Store::open(
        &options.data_dir,
        config,
        settings.event_retention,
        !options.no_fsync,
    )?;
    // The recovered engine's limit: a data directory keeps its configuration.
    let max_body = recovered.engine.config().max_body_bytes;
    eprintln!(
        "redial serve: recovered position {} ({} journal records replayed) from {}",
        recovered.engine.position(),
        recovered.replayed,
        options.data_dir.display()
    );
    if options.no_fsync {
        eprintln!(
            "redial serve: --no-fsync: answers do NOT mean durable (unsafe; for measurements only)"
        );
    }
    // The attempts chart starts from the retained events, so a restart
    // does not blank it.
    let mut metrics = Metrics::default();
    for at in recovered.events.triggered_at() {
        metrics.attempt_at(at);
    }
    let shared = Arc::new(Shared {
        events: Mutex::new(recovered.events),
        new_events: Notify::new(),
        metrics: Mutex::new(metrics),
        stopped: Notify::new(),
    });
    let (jobs, engine) = engine::spawn(
        recovered.engine,
        recovered.store,
        Arc::clone(&shared),
        settings.snapshot_every.max(1),
    )?;
    let app = api::App {
        jobs,
        shared,
        keys: Arc::new(keys),
        max_body,
        client_timeout: Duration::from_millis(settings.client_timeout_ms.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let served = runtime.block_on(serve(addr, app, settings.max_connections.max(1)));
    // Dropping the runtime drops the last job senders: the engine thread
    // commits what it has and ends.
    drop(runtime);
    let stopped = engine
        .join()
        .map_err(|_| "the engine thread panicked".to_owned())?;
    // The engine's own reason first: it is why serving stopped.
    stopped?;
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Accepts connections until Ctrl-C (or SIGTERM), each served by hyper
/// with a header-read timeout, keep-alive on.
async fn serve(addr: SocketAddr, app: api::App, max_connections: usize) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("listening on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // The line tests and scripts wait for.
    println!("listening on http://{local}");
    let timeout = app.client_timeout;
    let shared = Arc::clone(&app.shared);
    let stopped = shared.stopped.notified();
    tokio::pin!(stopped);
    let service = TowerToHyperService::new(api::router(app));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    loop {
        // A free slot first: at the limit, new connections wait in the
        // kernel's listen queue instead of growing the engine's.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => return Ok(()),
            },
            () = &mut shutdown => return Ok(()),
            () = &mut stopped => return Err("the engine stopped".into()),
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors and the like: wait, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
            () = &mut stopped => return Err("the engine stopped".into()),
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
