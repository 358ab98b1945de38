//! Runs every conformance case: the verbatim copy of the shared cases in
//! `tests/conformance/`, the project's own cases in `tests/cases/`, and,
//! when the checkout sits next to it, `../shared/conformance/` itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redial::trace::{Case, check};

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Shared cases whose issue has not landed, by file name, with the reason
/// (`tests/pending_cases.txt`, which `.ci/run` reads too).
fn pending() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("tests/pending_cases.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, why) = l.split_once('\t').expect("name<TAB>reason");
            (name.to_owned(), why.to_owned())
        })
        .collect()
}

fn run_dir(dir: &Path, at_least: usize) {
    let pending = pending();
    let files = cases_in(dir);
    assert!(
        files.len() >= at_least,
        "{}: expected at least {at_least} cases, found {}",
        dir.display(),
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let case = Case::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        // Calling policies read the callee's zones from libphonenumber's
        // data, which only the number-zones feature builds in.
        let needs_numbers =
            !case.config["policies"].is_null() || case.config["zones_from_number"] == true;
        if needs_numbers && !cfg!(feature = "number-zones") {
            eprintln!("skipped without the number-zones feature: {name}");
            continue;
        }
        match (check(&case), pending.get(&name)) {
            (Err(diff), None) => {
                failures.push(format!("{} ({}):\n{diff}", file.display(), case.name));
            }
            (Ok(()), Some(why)) => failures.push(format!(
                "{} passes but is listed as pending ({why}): take it off tests/pending_cases.txt",
                file.display()
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shared_cases_copy() {
    run_dir(&root().join("tests/conformance"), 16);
}

#[test]
fn own_cases() {
    run_dir(&root().join("tests/cases"), 20);
}

#[test]
fn shared_cases_live_when_present() {
    let shared = root().join("../shared/conformance");
    if shared.is_dir() {
        run_dir(&shared, 1);
    }
}

/// A case whose expectation is wrong must fail: the checker is not vacuous.
#[test]
fn checker_detects_a_wrong_expectation() {
    let text =
        std::fs::read_to_string(root().join("tests/conformance/seed_basic_call.json")).unwrap();
    let mut case = Case::from_json(&text).unwrap();
    assert!(check(&case).is_ok());
    case.expect[1]["attempt"] = serde_json::json!(2);
    assert!(check(&case).unwrap_err().contains("attempt"));
    case.expect.pop();
    assert!(check(&case).is_err());
}
