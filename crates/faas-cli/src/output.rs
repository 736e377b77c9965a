//! What faas-cli prints, as pure functions so golden tests can pin it: the `list` table
//! (OpenFaaS's printf-padded, tab-separated columns), `describe`, log lines, and the
//! borderless tables of `store list` and `secret list` (tabwriter, as OpenFaaS's).

use std::io::Write as _;

use chrono::{DateTime, Utc};
use faas_types::{FunctionStatus, LogMessage, NamespaceRequest};

use crate::args::{ListSort, LogFormat};
use crate::store::StoreFunction;

/// Sorts functions as `list --sort` asks: by name, most invocations first, or oldest first.
pub fn sort_functions(functions: &mut [FunctionStatus], sort: ListSort) {
    match sort {
        ListSort::Name => functions.sort_by(|a, b| a.name.cmp(&b.name)),
        ListSort::Invocations => functions.sort_by(|a, b| {
            b.invocation_count
                .partial_cmp(&a.invocation_count)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.name.cmp(&b.name))
        }),
        ListSort::Creation => functions.sort_by_key(|a| a.created_at),
    }
}

/// The `list` table. Columns as OpenFaaS's faas-cli prints them: `%-30s\t%-15s\t%-5s`
/// (`Function`, `Invocations`, `Replicas`), and with `verbose` the `Image` column (as wide
/// as the longest image, at least 40) and `CreatedAt` in Go's time format.
pub fn list_table(functions: &[FunctionStatus], verbose: bool) -> String {
    let mut out = String::new();
    if verbose {
        let width = functions
            .iter()
            .map(|f| f.image.chars().count())
            .max()
            .unwrap_or(0)
            .max(40);
        out.push_str(&format!(
            "{:<30}\t{:<width$}\t{:<15}\t{:<5}\t{:<5}\n",
            "Function", "Image", "Invocations", "Replicas", "CreatedAt"
        ));
        for f in functions {
            out.push_str(&format!(
                "{:<30}\t{:<width$}\t{:<15}\t{:<5}\t{:<5}\n",
                f.name,
                f.image,
                f.invocation_count as i64,
                f.replicas,
                go_time(f.created_at.as_ref())
            ));
        }
    } else {
        out.push_str(&format!(
            "{:<30}\t{:<15}\t{:<5}\n",
            "Function", "Invocations", "Replicas"
        ));
        for f in functions {
            out.push_str(&format!(
                "{:<30}\t{:<15}\t{:<5}\n",
                f.name, f.invocation_count as i64, f.replicas
            ));
        }
    }
    out
}

/// A time as Go's `time.Time.String()` writes it in UTC:
/// `2024-10-10 08:42:56.288543292 +0000 UTC` (trailing zeros of the fraction dropped).
pub fn go_time(time: Option<&DateTime<Utc>>) -> String {
    let Some(time) = time else {
        return "0001-01-01 00:00:00 +0000 UTC".to_owned();
    };
    let mut fraction = format!("{:09}", time.timestamp_subsec_nanos());
    while fraction.ends_with('0') {
        fraction.pop();
    }
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    format!("{}{fraction} +0000 UTC", time.format("%Y-%m-%d %H:%M:%S"))
}

/// What `describe` prints, as OpenFaaS's faas-cli does (a tabwriter with one space of
/// padding).
pub fn describe(function: &FunctionStatus, invocations: i64, url: &str, async_url: &str) -> String {
    let status = if function.available_replicas > 0 {
        "Ready"
    } else {
        "Not Ready"
    };
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(1).minwidth(0);
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(w, "{key}\t {value}");
    };
    line("Name:", &function.name);
    line("Status:", status);
    line("Replicas:", &function.replicas.to_string());
    line(
        "Available replicas:",
        &function.available_replicas.to_string(),
    );
    line("Invocations:", &invocations.to_string());
    line("Image:", &function.image);
    line(
        "Function process:",
        function.env_process.as_deref().unwrap_or(""),
    );
    line("URL:", url);
    line("Async URL:", async_url);
    for (title, map) in [
        ("Labels:", &function.labels),
        ("Annotations:", &function.annotations),
    ] {
        if let Some(map) = map.as_ref().filter(|m| !m.is_empty()) {
            let mut first = true;
            for (key, value) in map {
                let prefix = if first { title } else { "" };
                first = false;
                let _ = writeln!(w, "{prefix} \t {key} : {value}");
            }
        }
    }
    let _ = w.flush();
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// What `namespace get` prints: the name, then labels and annotations one per line.
pub fn namespace(namespace: &NamespaceRequest) -> String {
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(1).minwidth(0);
    let _ = writeln!(w, "Name:\t{}", namespace.name);
    for (title, map) in [
        ("Labels:", &namespace.labels),
        ("Annotations:", &namespace.annotations),
    ] {
        match map.as_ref().filter(|m| !m.is_empty()) {
            None => {
                let _ = writeln!(w, "{title}\t<none>");
            }
            Some(map) => {
                for (index, (key, value)) in map.iter().enumerate() {
                    let prefix = if index == 0 { title } else { "" };
                    let _ = writeln!(w, "{prefix}\t{key} : {value}");
                }
            }
        }
    }
    let _ = w.flush();
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Options for printing log lines.
#[derive(Debug, Clone)]
pub struct LogStyle {
    /// plain, keyvalue or json.
    pub format: LogFormat,
    /// strftime format; empty prints no time.
    pub time_format: String,
    /// Print the function's name.
    pub name: bool,
    /// Print the replica.
    pub instance: bool,
}

/// One log line as OpenFaaS's faas-cli prints it.
pub fn log_line(message: &LogMessage, style: &LogStyle) -> String {
    let time = if style.time_format.is_empty() {
        None
    } else {
        Some(message.timestamp.format(&style.time_format).to_string())
    };
    let text = message.text.trim_end_matches('\n');
    match style.format {
        LogFormat::Json => serde_json::to_string(message).unwrap_or_default(),
        LogFormat::Keyvalue => {
            let mut out = String::new();
            if let Some(time) = time {
                out.push_str(&format!("timestamp=\"{time}\" "));
            }
            if style.name {
                out.push_str(&format!("name=\"{}\" ", message.name));
            }
            if style.instance {
                out.push_str(&format!("instance=\"{}\" ", message.instance));
            }
            out.push_str(&format!("text=\"{text}\" "));
            out
        }
        LogFormat::Plain => {
            let mut out = String::new();
            if let Some(time) = time {
                out.push_str(&time);
                out.push(' ');
            }
            if style.name {
                out.push_str(&message.name);
                out.push(' ');
            }
            if style.instance {
                out.push_str(&format!("({}) ", message.instance));
            }
            out.push_str(text);
            out
        }
    }
}

/// `store list`: a blank line, `FUNCTION  DESCRIPTION` (and `IMAGE` when verbose), one row per
/// entry, a blank line.
pub fn store_table(items: &[StoreFunction], platform: &str, verbose: bool) -> String {
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(1).minwidth(0);
    let _ = writeln!(w);
    if verbose {
        let _ = writeln!(w, "FUNCTION\tIMAGE\tDESCRIPTION");
    } else {
        let _ = writeln!(w, "FUNCTION\tDESCRIPTION");
    }
    for item in items {
        if verbose {
            let image = item.image_for(platform).unwrap_or_default();
            let _ = writeln!(w, "{}\t{}\t{}", item.name, image, item.description);
        } else {
            let _ = writeln!(w, "{}\t{}", item.name, short_description(&item.description));
        }
    }
    let _ = writeln!(w);
    let _ = w.flush();
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn short_description(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX - 3).collect();
    format!("{}...", cut.trim_end())
}

/// `store describe`.
pub fn store_item(item: &StoreFunction, platform: &str) -> String {
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(3).minwidth(0);
    let _ = writeln!(w, "Info for: {}\n", item.title);
    let mut row = |k: &str, v: &str| {
        let _ = writeln!(w, "{k}\t{v}");
    };
    row("Name", &item.name);
    row("Description", &item.description);
    row("Image", &item.image_for(platform).unwrap_or_default());
    row("Process", &item.fprocess);
    row("Repo URL", &item.repo_url);
    if let Some(package) = &item.package {
        row(
            "Package",
            &format!("{package} (built into faas-cli, pushed on deploy)"),
        );
    }
    let _ = w.flush();
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// `secret list`.
pub fn secret_table(names: &[String]) -> String {
    let mut out = String::from("\nNAME\n");
    for name in names {
        out.push_str(name);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn go_time_strings() {
        let t = Utc.with_ymd_and_hms(2024, 10, 10, 8, 42, 56).unwrap()
            + chrono::Duration::nanoseconds(288_543_000);
        assert_eq!(go_time(Some(&t)), "2024-10-10 08:42:56.288543 +0000 UTC");
        let t = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(go_time(Some(&t)), "2024-01-02 03:04:05 +0000 UTC");
        assert_eq!(go_time(None), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn log_formats() {
        let m = LogMessage {
            name: "hello".into(),
            namespace: "openfaas-fn".into(),
            instance: "hello-1".into(),
            timestamp: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
            text: "hi there\n".into(),
        };
        let mut style = LogStyle {
            format: LogFormat::Plain,
            time_format: "%Y-%m-%dT%H:%M:%SZ".into(),
            name: false,
            instance: false,
        };
        assert_eq!(log_line(&m, &style), "2024-01-02T03:04:05Z hi there");
        style.name = true;
        style.instance = true;
        assert_eq!(
            log_line(&m, &style),
            "2024-01-02T03:04:05Z hello (hello-1) hi there"
        );
        style.format = LogFormat::Keyvalue;
        assert_eq!(
            log_line(&m, &style),
            "timestamp=\"2024-01-02T03:04:05Z\" name=\"hello\" instance=\"hello-1\" text=\"hi there\" "
        );
        style.format = LogFormat::Json;
        assert!(log_line(&m, &style).starts_with("{\"name\":\"hello\""));
        style.format = LogFormat::Plain;
        style.time_format.clear();
        style.name = false;
        style.instance = false;
        assert_eq!(log_line(&m, &style), "hi there");
    }
}
