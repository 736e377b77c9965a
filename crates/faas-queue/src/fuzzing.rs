//! Entry points for the fuzz targets (`fuzz/`, replayed on stable by `crates/faas-fuzz`): the
//! embedded queue's stored-record layout, reachable without opening a queue. Not an API.

use crate::QueueError;

/// A stored record's header fields and JSON, as the embedded queue reads them back.
pub struct StoredRecord<'a> {
    /// Visible-at (calls) or dead-at (dead letters), unix milliseconds.
    pub stamp_ms: u64,
    /// The queue name.
    pub queue: &'a str,
    /// The call's or dead letter's JSON.
    pub json: &'a [u8],
}

/// Decodes a stored value as opening the queue and reading a call do.
pub fn decode_record(bytes: &[u8]) -> Result<StoredRecord<'_>, QueueError> {
    let record = crate::embedded::record::decode(bytes)?;
    Ok(StoredRecord {
        stamp_ms: record.stamp_ms,
        queue: record.queue,
        json: record.json,
    })
}

/// Encodes a stored value as publishing, retrying and dead-lettering do.
pub fn encode_record(stamp_ms: u64, queue: &str, json: &[u8]) -> Vec<u8> {
    crate::embedded::record::encode(stamp_ms, queue, json)
}
