//! `cclive report models|projects --server URL`: the team server's spend over the report's
//! range, per person and model or per person and project, as the server's role scoping allows.
//! The figures are the server's (`GET /api/team/v1/spend`, priced there); this file only asks
//! and lays out text. `--json` prints the server's reply as it is.

use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_core::budget::usd;
use cclive_core::report::ReportOptions;
use serde_json::Value;

use crate::cli::{ReportArgs, ReportKindArg};

pub(super) fn run(args: &ReportArgs, url: &str, opts: &ReportOptions) -> anyhow::Result<ExitCode> {
    if !matches!(args.kind, ReportKindArg::Models | ReportKindArg::Projects) {
        bail!("with --server, `cclive report` has `models` and `projects` (each per person)");
    }
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => crate::config::env::team_token()
            .context("--server needs your team token: --token-file FILE or CCLIVE_TEAM_TOKEN")?,
    };
    let (since, until) = opts.bounds();
    let mut query = Vec::new();
    if let Some(t) = since {
        query.push(format!("since_ms={}", t.as_millisecond()));
    }
    if let Some(t) = until {
        query.push(format!("until_ms={}", t.as_millisecond()));
    }
    let endpoint = format!(
        "{}/api/team/v1/spend?{}",
        url.trim_end_matches('/'),
        query.join("&")
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let mut reply = agent
        .get(&endpoint)
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .call()
        .with_context(|| format!("asking the team server at {url}"))?;
    let status = reply.status().as_u16();
    let text = reply
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the team server's answer (HTTP {status})"))?;
    let body: Value = serde_json::from_str(&text)
        .with_context(|| format!("the team server's answer (HTTP {status}) is not JSON"))?;
    if status != 200 {
        bail!(
            "the team server answered {status}: {}",
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (title, field) = match args.kind {
        ReportKindArg::Projects => ("Project", "project"),
        _ => ("Model", "model"),
    };
    let mut rows: Vec<(String, String, f64, u64, u64)> = Vec::new();
    for r in body["rows"].as_array().into_iter().flatten() {
        let person = r["email"].as_str().unwrap_or("?").to_owned();
        let name = r[field].as_str().unwrap_or("(unknown)").to_owned();
        let tokens: u64 = ["input", "output", "cache_read", "cache_creation"]
            .iter()
            .filter_map(|k| r["tokens"][k].as_u64())
            .sum();
        let cost = r["cost_usd"].as_f64().unwrap_or(0.0);
        let responses = r["responses"].as_u64().unwrap_or(0);
        match rows.iter_mut().find(|x| x.0 == person && x.1 == name) {
            Some(x) => {
                x.2 += cost;
                x.3 += tokens;
                x.4 += responses;
            }
            None => rows.push((person, name, cost, tokens, responses)),
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.total_cmp(&a.2)));
    println!(
        "{:<28} {:<36} {:>12} {:>14} {:>10}",
        "Person", title, "Cost", "Tokens", "Responses"
    );
    for (person, name, cost, tokens, responses) in &rows {
        println!(
            "{person:<28} {name:<36} {:>12} {tokens:>14} {responses:>10}",
            usd(*cost)
        );
    }
    println!(
        "{:<28} {:<36} {:>12} {:>14} {:>10}",
        "Total",
        "",
        usd(body["cost_usd"].as_f64().unwrap_or(0.0)),
        rows.iter().map(|r| r.3).sum::<u64>(),
        body["responses"].as_u64().unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}
