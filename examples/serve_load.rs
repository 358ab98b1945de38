//! Load on a running `redial serve`: keep-alive clients submit calls as
//! fast as the server answers, for a while; prints submits per second and
//! latency percentiles. The README's "Run it as a service" figures come
//! from this.
//!
//! ```sh
//! cargo build --release --features server
//! REDIAL_API_KEYS=k ./target/release/redial serve --data-dir /tmp/load --listen 127.0.0.1:8080 &
//! cargo run --release --features server --example serve_load -- 127.0.0.1:8080 k 64 10
//! ```
//!
//! Arguments: address, API key, clients (64), seconds (10). Each client
//! keeps one connection and sends its next submit when the last is
//! answered, so the figure is what the server sustains at that
//! concurrency, every answer durable unless the server runs `--no-fsync`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .ok_or("usage: serve_load ADDR KEY [CLIENTS] [SECONDS]")?;
    let key = args
        .next()
        .ok_or("usage: serve_load ADDR KEY [CLIENTS] [SECONDS]")?;
    let clients: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    // One thread drives every client: the load generator shares this
    // machine's cores with the server, so it should take as little as it can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|k| {
                let (addr, key) = (addr.clone(), key.clone());
                tokio::spawn(async move { client(k, &addr, &key, until).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await);
        }
        results
    });
    let mut latencies = Vec::new();
    let mut failed = 0_u64;
    for r in results {
        let (l, f) = r.map_err(|_| "a client panicked")??;
        latencies.extend(l);
        failed += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    println!(
        "{clients} clients, {:.1} s: {} submits answered 200 ({:.0}/s), {failed} other answers; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed,
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}

/// One keep-alive connection submitting until `until`: the latencies of
/// its 200s and the count of other answers.
async fn client(
    k: usize,
    addr: &str,
    key: &str,
    until: Instant,
) -> Result<(Vec<Duration>, u64), Error> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut writer) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut n = 0_u64;
    let mut line = String::new();
    let mut request = String::new();
    while Instant::now() < until {
        n += 1;
        let body = format!(
            r#"{{"to_number": "+91{:03}{:07}", "agent_id": "agent-{}", "batch_id": "load", "metadata": {{"customer": {n}, "name": "Abhinav"}}}}"#,
            k % 1000,
            n % 10_000_000,
            k % 8
        );
        request.clear();
        request.push_str(&format!(
            "POST /call/outbound HTTP/1.1\r\nHost: {addr}\r\nX-API-KEY: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        let sent = Instant::now();
        writer.write_all(request.as_bytes()).await?;
        line.clear();
        reader.read_line(&mut line).await?;
        let status: u16 = line.split(' ').nth(1).ok_or("no status line")?.parse()?;
        let mut length = 0_usize;
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut answer = vec![0; length];
        reader.read_exact(&mut answer).await?;
        if status == 200 {
            latencies.push(sent.elapsed());
        } else {
            failed += 1;
        }
    }
    Ok((latencies, failed))
}
