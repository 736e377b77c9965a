//! `logs`: streams `/system/logs` (NDJSON) and prints each line; `--tail` (on by default)
//! keeps following, as in OpenFaaS.

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use faas_types::{LogMessage, LogRequest};
use futures_util::StreamExt as _;

use crate::args::LogsArgs;
use crate::context::Context;
use crate::output::{self, LogStyle};

/// Runs `logs`.
pub async fn run(ctx: &Context, args: LogsArgs) -> anyhow::Result<()> {
    let client = ctx.client_with_optional_stack()?;
    let (name, namespace) = match faas_types::parse_function_ref(&args.name) {
        (name, Some(ns)) => (name.to_owned(), Some(ns.to_owned())),
        (name, None) => (name.to_owned(), ctx.namespace().map(str::to_owned)),
    };
    let since = since(&args, Utc::now())?;
    let request = LogRequest {
        name: name.clone(),
        namespace: namespace.clone(),
        instance: args.instance.clone(),
        since,
        tail: args.lines.max(0),
        follow: args.tail,
    };
    let response = client
        .logs(&request.to_query(), &name, namespace.as_deref())
        .await?;
    let style = LogStyle {
        format: args.output,
        time_format: args.time_format.clone(),
        name: args.print_name,
        instance: args.print_instance,
    };
    let mut stream = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut stdout = std::io::stdout();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("the log stream broke off")?;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            print_line(&line, &style, &mut stdout)?;
        }
    }
    if !pending.is_empty() {
        print_line(&pending, &style, &mut stdout)?;
    }
    Ok(())
}

fn print_line(line: &[u8], style: &LogStyle, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    match serde_json::from_str::<LogMessage>(text) {
        Ok(message) => writeln!(out, "{}", output::log_line(&message, style))?,
        Err(_) => writeln!(out, "{text}")?,
    }
    out.flush()?;
    Ok(())
}

/// `--since-time` wins over `--since` (a duration back from `now`).
fn since(args: &LogsArgs, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
    if let Some(text) = args.since_time.as_deref().filter(|t| !t.is_empty()) {
        let time = DateTime::parse_from_rfc3339(text).with_context(|| {
            format!("--since-time {text:?} is not an RFC3339 time such as 2024-03-01T10:00:00Z")
        })?;
        return Ok(Some(time.with_timezone(&Utc)));
    }
    if let Some(text) = args.since.as_deref().filter(|t| !t.is_empty()) {
        let Some(duration) = faas_types::duration::parse(text) else {
            bail!("--since {text:?} is not a duration such as 30s, 5m or 1h30m");
        };
        let duration = chrono::Duration::from_std(duration).context("--since is too long")?;
        return Ok(Some(now - duration));
    }
    Ok(None)
}
