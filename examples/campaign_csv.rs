//! A campaign from a CSV file: one call per row, with the row's fields as
//! the call's metadata, in one batch. Rows the API refuses are reported
//! with the field and the reason, and the rest of the campaign goes on.
//! Each dispatch's metadata fills the agent's prompt (semantics §7).
//!
//! `cargo run --example campaign_csv [FILE.csv]` (default:
//! `examples/campaign.csv`).

use chrono::{DateTime, Utc};
use redial::template::{Mode, render};
use redial::{Config, Outcome, Scheduler};
use serde_json::{Map, Value, json};

const PROMPT: &str = "Namaste {{metadata.name}}, this is a reminder about your payment of Rs {{metadata.amount_due}}.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/campaign.csv").to_owned()
    });
    let text = std::fs::read_to_string(&path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();

    let now: DateTime<Utc> = "2026-01-14T04:30:00Z".parse()?; // 10:00 in Kolkata
    let mut engine = Scheduler::new(Config::default())?;
    let (mut queued, mut refused) = (0, 0);
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let fields: Map<String, Value> = header
            .iter()
            .zip(&cells)
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let mut metadata = fields.clone();
        metadata.remove("to_number");
        metadata.remove("language");
        if let Some(amount) = fields.get("amount_due").and_then(Value::as_str) {
            metadata.insert(
                "amount_due".into(),
                json!(amount.parse::<u64>().unwrap_or(0)),
            );
        }
        let body = json!({
            "to_number": fields.get("to_number"),
            "agent_id": "payment-reminder",
            "batch_id": "csv-2026-01",
            "language": fields.get("language"),
            "metadata": metadata,
            "min_trigger_time": "09:00",
            "max_trigger_time": "21:00",
            "carry_over": true,
            "number_of_retries": 2,
            "idempotency_key": format!("csv-2026-01-row-{row}"),
        });
        match engine.submit(now, body.to_string().as_bytes()) {
            Ok(a) => {
                queued += 1;
                println!("row {}: queued as {}", row + 2, a.call);
            }
            Err(r) => {
                refused += 1;
                println!(
                    "row {}: refused ({} on {}): {}",
                    row + 2,
                    r.status,
                    r.field.as_deref().unwrap_or("body"),
                    r.message
                );
            }
        }
    }
    let batch = engine.batch("csv-2026-01").ok_or("the batch is known")?;
    println!(
        "batch: {} ready, {} waiting; {refused} refused",
        batch.ready, batch.waiting
    );
    assert_eq!((queued, refused), (4, 1));

    for d in engine.dial(now, 10)? {
        let prompt = render(PROMPT, &d.metadata_value()?, Mode::Strict)?;
        let language = d.language.map(|l| l.to_string()).unwrap_or_default();
        println!("dial {} [{language}] {prompt}", d.to_number);
        engine.report(now, &d, Outcome::Completed)?;
    }
    assert_eq!(engine.live_calls(), 0);
    println!("completed: {}", engine.counters().completed);
    Ok(())
}
