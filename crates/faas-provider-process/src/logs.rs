//! A function's log: every replica's stdout and stderr lines (and the provider's own notes
//! about the function, such as restarts), one JSON [`LogMessage`] per line in
//! `logs/<ns>/<name>.log`, rotated to `.log.1` beyond `log_max_bytes`. Live lines also go to a
//! broadcast channel for `follow` readers.
//!
//! Each stored line carries a sequence number besides the `LogMessage` fields, so a follower
//! that subscribes and then reads the file sees every line exactly once. Numbers start at the
//! wall clock's nanoseconds when the log is opened, so they keep growing across restarts.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use faas_types::{LogMessage, LogRequest};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use faas_provider::LogStream;

/// Lines a slow follower may fall behind before it skips some.
const LIVE_CAPACITY: usize = 4096;
/// Longest line kept whole; longer output is split.
pub(crate) const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredLine {
    #[serde(flatten)]
    message: LogMessage,
    #[serde(default)]
    seq: u64,
}

/// Appends `text` as a JSON string (quoted and escaped, as serde_json writes it).
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// One function's log file and live feed.
#[derive(Debug)]
pub(crate) struct FunctionLog {
    namespace: String,
    name: String,
    path: PathBuf,
    rotated: PathBuf,
    max_bytes: u64,
    writer: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    file: Option<File>,
    size: u64,
    seq: u64,
    live: Option<broadcast::Sender<Arc<StoredLine>>>,
    closed: bool,
    warned: bool,
}

impl FunctionLog {
    pub(crate) fn open(namespace: &str, name: &str, path: PathBuf, max_bytes: u64) -> FunctionLog {
        let mut rotated = path.clone().into_os_string();
        rotated.push(".1");
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let seq = Utc::now()
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        FunctionLog {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            path,
            rotated: PathBuf::from(rotated),
            max_bytes: max_bytes.max(1),
            writer: Mutex::new(Writer {
                file: None,
                size,
                seq,
                live: Some(broadcast::channel(LIVE_CAPACITY).0),
                closed: false,
                warned: false,
            }),
        }
    }

    /// Appends one line written by `instance` now.
    pub(crate) fn append(&self, instance: &str, text: &str) {
        self.append_many(instance, std::iter::once(text));
    }

    /// Appends lines written by `instance` now, in order, with one write to the file: a
    /// replica's output arrives in chunks of many lines under load.
    pub(crate) fn append_many<'a>(&self, instance: &str, texts: impl IntoIterator<Item = &'a str>) {
        self.append_at(instance, texts, Utc::now());
    }

    fn append_at<'a>(
        &self,
        instance: &str,
        texts: impl IntoIterator<Item = &'a str>,
        timestamp: DateTime<Utc>,
    ) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if writer.closed {
            return;
        }
        // Lines of one chunk share everything but their text and number: encode the shared
        // fields once. The result is what serialising each StoredLine gives (the same fields
        // in the same order), at a fraction of the cost on the per-call path.
        let mut head = Vec::with_capacity(128);
        head.push(b'{');
        for (field, value) in [
            ("name", self.name.as_str()),
            ("namespace", self.namespace.as_str()),
            ("instance", instance),
            (
                "timestamp",
                faas_types::rfc3339::format(&timestamp).as_str(),
            ),
        ] {
            push_json_string(&mut head, field);
            head.push(b':');
            push_json_string(&mut head, value);
            head.push(b',');
        }
        // Followers get the lines too; build them only when someone is following.
        let following = writer
            .live
            .as_ref()
            .is_some_and(|live| live.receiver_count() > 0);
        let mut bytes = Vec::new();
        let mut lines = Vec::new();
        for text in texts {
            writer.seq += 1;
            bytes.extend_from_slice(&head);
            push_json_string(&mut bytes, "text");
            bytes.push(b':');
            push_json_string(&mut bytes, text);
            // Writing into a Vec cannot fail.
            let _ = writeln!(bytes, ",\"seq\":{}}}", writer.seq);
            if following {
                lines.push(Arc::new(StoredLine {
                    message: LogMessage {
                        name: self.name.clone(),
                        namespace: self.namespace.clone(),
                        instance: instance.to_owned(),
                        timestamp,
                        text: text.to_owned(),
                    },
                    seq: writer.seq,
                }));
            }
        }
        if let Err(err) = self.write_lines(&mut writer, &bytes) {
            if !writer.warned {
                writer.warned = true;
                tracing::warn!(
                    function = %self.name, namespace = %self.namespace,
                    "cannot write the function log {}: {err}", self.path.display()
                );
            }
        }
        if let Some(live) = &writer.live {
            for line in lines {
                let _ = live.send(line);
            }
        }
    }

    fn write_lines(&self, writer: &mut Writer, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if writer.file.is_none() {
            if let Some(dir) = self.path.parent() {
                fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            writer.size = file.metadata()?.len();
            writer.file = Some(file);
        }
        if let Some(file) = writer.file.as_mut() {
            file.write_all(bytes)?;
        }
        writer.size += bytes.len() as u64;
        if writer.size > self.max_bytes {
            writer.file = None;
            writer.size = 0;
            fs::rename(&self.path, &self.rotated)?;
        }
        Ok(())
    }

    /// Stops the log (the function was deleted): followers end, later lines are dropped, and
    /// the files are removed.
    pub(crate) fn close_and_remove(&self) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.closed = true;
        writer.live = None;
        writer.file = None;
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(&self.rotated);
    }

    /// Lines as `request` asks: `instance` and `since` filter, `tail` keeps the last ones,
    /// `follow` keeps the stream open for new lines.
    pub(crate) async fn read(&self, request: &LogRequest) -> LogStream {
        let (snapshot, live) = {
            let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let live = if request.follow {
                writer.live.as_ref().map(broadcast::Sender::subscribe)
            } else {
                None
            };
            (writer.seq, live)
        };
        let paths = [self.rotated.clone(), self.path.clone()];
        let instance = request.instance.clone();
        let since = request.since;
        let tail = request.tail_lines();
        let filter = {
            let instance = instance.clone();
            move |line: &StoredLine| {
                instance
                    .as_deref()
                    .is_none_or(|i| line.message.instance == i)
                    && since.is_none_or(|s| line.message.timestamp >= s)
            }
        };
        let backlog_filter = filter.clone();
        let backlog = tokio::task::spawn_blocking(move || {
            let mut lines: Vec<LogMessage> = Vec::new();
            for path in &paths {
                let Ok(bytes) = fs::read(path) else { continue };
                for raw in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    if let Ok(line) = serde_json::from_slice::<StoredLine>(raw) {
                        if line.seq <= snapshot && backlog_filter(&line) {
                            lines.push(line.message);
                        }
                    }
                }
            }
            if let Some(tail) = tail.and_then(|t| usize::try_from(t).ok()) {
                let skip = lines.len().saturating_sub(tail);
                lines.drain(..skip);
            }
            lines
        })
        .await
        .unwrap_or_default();

        let backlog = stream::iter(backlog);
        match live {
            None => backlog.boxed(),
            Some(receiver) => {
                let live = stream::unfold(receiver, move |mut receiver| {
                    let filter = filter.clone();
                    async move {
                        loop {
                            match receiver.recv().await {
                                Ok(line) if line.seq > snapshot && filter(&line) => {
                                    return Some((line.message.clone(), receiver));
                                }
                                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                                Err(broadcast::error::RecvError::Closed) => return None,
                            }
                        }
                    }
                });
                backlog.chain(live).boxed()
            }
        }
    }
}

/// Splits a replica's raw output into log lines: at `\n`, without a trailing `\r`, at most
/// [`MAX_LINE`] bytes each, invalid UTF-8 replaced.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; returns the complete lines among them. A line that lies whole within
    /// `bytes` (the usual case) is borrowed from it, not copied.
    pub(crate) fn feed<'b>(&mut self, mut bytes: &'b [u8]) -> Vec<Cow<'b, str>> {
        let mut lines = Vec::new();
        while !bytes.is_empty() {
            match bytes.iter().position(|b| *b == b'\n') {
                Some(end) if self.pending.is_empty() && end <= MAX_LINE => {
                    lines.push(decode(&bytes[..end]));
                    bytes = &bytes[end + 1..];
                }
                Some(end) => {
                    self.push_limited(&bytes[..end], &mut lines);
                    lines.push(Cow::Owned(self.take()));
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.push_limited(bytes, &mut lines);
                    bytes = &[];
                }
            }
        }
        lines
    }

    /// What is left when the stream ends.
    pub(crate) fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    fn push_limited(&mut self, mut bytes: &[u8], lines: &mut Vec<Cow<'_, str>>) {
        while self.pending.len() + bytes.len() > MAX_LINE {
            let room = MAX_LINE - self.pending.len();
            self.pending.extend_from_slice(&bytes[..room]);
            lines.push(Cow::Owned(self.take()));
            bytes = &bytes[room..];
        }
        self.pending.extend_from_slice(bytes);
    }

    fn take(&mut self) -> String {
        let line = decode(&self.pending).into_owned();
        self.pending.clear();
        line
    }
}

/// A line's text: without a trailing `\r`, invalid UTF-8 replaced; borrowed when it can be.
fn decode(line: &[u8]) -> Cow<'_, str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stored_lines_are_what_serialising_them_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns/f.log");
        let log = FunctionLog::open("ns", "f", path.clone(), 1 << 20);
        let at = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let texts = [
            "plain",
            "quote \" and \\ slash",
            "tab\tnew\u{1}ctl",
            "ünïcödé ✓",
            "",
        ];
        log.append_at("f-1", texts, at);
        let written = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), texts.len());
        let first_seq = serde_json::from_str::<StoredLine>(lines[0]).unwrap().seq;
        for (i, (line, text)) in lines.iter().zip(texts).enumerate() {
            let expected = StoredLine {
                message: LogMessage {
                    name: "f".into(),
                    namespace: "ns".into(),
                    instance: "f-1".into(),
                    timestamp: at,
                    text: text.into(),
                },
                seq: first_seq + i as u64,
            };
            assert_eq!(*line, serde_json::to_string(&expected).unwrap());
            let parsed: StoredLine = serde_json::from_str(line).unwrap();
            assert_eq!(parsed.message, expected.message);
        }
    }

    fn request(tail: i64, instance: Option<&str>) -> LogRequest {
        LogRequest {
            name: "f".into(),
            tail,
            instance: instance.map(str::to_owned),
            ..LogRequest::default()
        }
    }

    async fn texts(stream: LogStream) -> Vec<String> {
        stream.map(|m| m.text).collect().await
    }

    #[tokio::test]
    async fn tail_instance_since_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let log = FunctionLog::open("ns", "f", dir.path().join("ns/f.log"), 1 << 20);
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        for i in 0..5 {
            let instance = if i % 2 == 0 { "f-1" } else { "f-2" };
            log.append_at(
                instance,
                [format!("line {i}").as_str()],
                t0 + chrono::Duration::seconds(i),
            );
        }
        assert_eq!(texts(log.read(&request(0, None)).await).await.len(), 5);
        assert_eq!(
            texts(log.read(&request(2, None)).await).await,
            vec!["line 3", "line 4"]
        );
        assert_eq!(
            texts(log.read(&request(0, Some("f-2"))).await).await,
            vec!["line 1", "line 3"]
        );
        let mut since = request(0, None);
        since.since = Some(t0 + chrono::Duration::seconds(3));
        assert_eq!(
            texts(log.read(&since).await).await,
            vec!["line 3", "line 4"]
        );

        // A tiny limit rotates on every line; one rotated file is kept.
        let small = FunctionLog::open("ns", "g", dir.path().join("ns/g.log"), 10);
        for i in 0..4 {
            small.append("g-1", &format!("x{i}"));
        }
        assert_eq!(texts(small.read(&request(0, None)).await).await, vec!["x3"]);
        assert!(dir.path().join("ns/g.log.1").exists());
    }

    #[tokio::test]
    async fn follow_sees_new_lines_once_and_ends_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(FunctionLog::open(
            "ns",
            "f",
            dir.path().join("f.log"),
            1 << 20,
        ));
        log.append("f-1", "old");
        let mut follow = request(0, None);
        follow.follow = true;
        let mut stream = log.read(&follow).await;
        assert_eq!(stream.next().await.unwrap().text, "old");
        log.append("f-1", "new");
        assert_eq!(stream.next().await.unwrap().text, "new");
        log.close_and_remove();
        assert!(stream.next().await.is_none());
        assert!(!dir.path().join("f.log").exists());
    }

    #[test]
    fn splitter_handles_partial_and_long_lines() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"a\r\nb"), vec!["a"]);
        assert_eq!(s.feed(b"c\n"), vec!["bc"]);
        let long = vec![b'x'; MAX_LINE + 10];
        let lines = s.feed(&long);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(s.finish().unwrap().len(), 10);
        assert_eq!(s.finish(), None);
    }
}
