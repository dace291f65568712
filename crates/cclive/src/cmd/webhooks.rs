//! `cclive webhooks test|list`: check the `[[webhook]]` (and `[[on_change]]`) setup without
//! waiting for a session to change.
//!
//! `test` sends one sample payload (`"test": true`, a made-up session) to each webhook, signed
//! like a real delivery, one attempt each, and prints how each answered; `--on-change` also runs
//! every on_change command with it. `list` shows what is configured, URLs without their path.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::{WebhooksAction, WebhooksArgs, WebhooksListArgs, WebhooksTestArgs};
use crate::config::Settings;
use crate::sinks::notify::settings::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE_SIZE, DEFAULT_WEBHOOK_TIMEOUT, redact_url,
};
use crate::sinks::notify::webhook::{self, Attempt, Next};
use crate::sinks::notify::{Delivery, EventName, WebhookSettings, event::sample_payload, exec};

/// Runs the subcommand.
pub(super) fn run(args: &WebhooksArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match &args.action {
        WebhooksAction::Test(a) => test(a, settings),
        WebhooksAction::List(a) => list(a, settings),
    }
}

fn test(args: &WebhooksTestArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let event = EventName::parse(&args.event).with_context(|| {
        format!(
            "unknown event {:?}; known events: {}",
            args.event,
            EventName::ALL.map(EventName::as_str).join(", ")
        )
    })?;
    let targets: Vec<WebhookSettings> = if let Some(url) = &args.url {
        vec![WebhookSettings {
            name: "--url".into(),
            url: url.clone(),
            events: EventName::ALL.to_vec(),
            secret: None,
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            queue_size: DEFAULT_QUEUE_SIZE,
        }]
    } else {
        settings
            .webhooks
            .value
            .iter()
            .filter(|w| args.name.as_ref().is_none_or(|n| *n == w.name))
            .cloned()
            .collect()
    };
    if let Some(name) = &args.name
        && targets.is_empty()
    {
        bail!(
            "no [[webhook]] named {name:?} in {}",
            settings.config_file.value.display()
        );
    }
    let hooks = if args.on_change {
        settings.on_change.value.clone()
    } else {
        Vec::new()
    };
    if targets.is_empty() && hooks.is_empty() {
        bail!(
            "no [[webhook]] in {}; add one (see `cclive config --default`) or pass --url",
            settings.config_file.value.display()
        );
    }
    let payload = sample_payload(event, jiff::Timestamp::now());
    let delivery = Delivery::new(&payload);
    let mut failed = 0;
    for target in &targets {
        let agent = webhook::agent(target);
        let started = Instant::now();
        let attempt = webhook::attempt(&agent, target, &delivery, 1);
        let ms = started.elapsed().as_millis();
        let shown = format!("{} ({})", target.name, redact_url(&target.url));
        match (&attempt, webhook::next_step(&attempt)) {
            (Attempt::Answered { status, .. }, Next::Done) => {
                println!("ok    {shown}: HTTP {status} in {ms} ms");
            }
            (Attempt::Answered { status, .. }, next) => {
                failed += 1;
                let retried = if matches!(next, Next::Retry(_)) {
                    "; a real delivery would be retried"
                } else {
                    "; a real delivery would not be retried"
                };
                println!("FAIL  {shown}: HTTP {status} in {ms} ms{retried}");
            }
            (Attempt::Failed { error, .. }, _) => {
                failed += 1;
                println!("FAIL  {shown}: {error} after {ms} ms");
            }
        }
    }
    for hook in &hooks {
        let outcome = exec::run_once(hook, &delivery);
        match &outcome.error {
            None => println!("ok    {} (on_change): exit code 0", hook.name),
            Some(error) => {
                failed += 1;
                println!("FAIL  {} (on_change): {error}", hook.name);
            }
        }
        for (stream, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            for line in text.lines().take(5) {
                println!("      {stream}: {line}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn list(args: &WebhooksListArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    if args.json {
        let v = serde_json::json!({
            "webhooks": settings.webhooks.value,
            "on_change": settings.on_change.value,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let events = |e: &[EventName]| {
        if e.len() == EventName::ALL.len() {
            "*".to_owned()
        } else {
            e.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
        }
    };
    let mut out = String::new();
    for w in &settings.webhooks.value {
        let _ = writeln!(
            out,
            "webhook    {:<16} {}  events={}  signed={}  timeout={:?}  attempts={}",
            w.name,
            redact_url(&w.url),
            events(&w.events),
            if w.secret.is_some() { "yes" } else { "no" },
            w.timeout,
            w.max_attempts,
        );
    }
    for h in &settings.on_change.value {
        let _ = writeln!(
            out,
            "on_change  {:<16} {}  events={}  timeout={:?}",
            h.name,
            h.command,
            events(&h.events),
            h.timeout,
        );
    }
    if out.is_empty() {
        println!(
            "No [[webhook]] or [[on_change]] in {}.",
            settings.config_file.value.display()
        );
    } else {
        print!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}
