//! How a call or dead letter is laid out in a redb value: a small binary header (a time in
//! unix milliseconds and the queue name) before the JSON, so opening the queue can rebuild its
//! index without decoding every call.

use crate::QueueError;

/// `stamp_ms` (8 bytes, little endian), queue name length (2 bytes), queue name, JSON.
pub(crate) fn encode(stamp_ms: u64, queue: &str, json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + queue.len() + json.len());
    out.extend_from_slice(&stamp_ms.to_le_bytes());
    out.extend_from_slice(&(queue.len() as u16).to_le_bytes());
    out.extend_from_slice(queue.as_bytes());
    out.extend_from_slice(json);
    out
}

/// The header fields and the JSON of a stored value.
pub(crate) struct Record<'a> {
    pub stamp_ms: u64,
    pub queue: &'a str,
    pub json: &'a [u8],
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Record<'_>, QueueError> {
    let corrupt = || QueueError::Storage("a stored record is shorter than its header".into());
    let stamp: [u8; 8] = bytes
        .get(..8)
        .ok_or_else(corrupt)?
        .try_into()
        .map_err(|_| corrupt())?;
    let len: [u8; 2] = bytes
        .get(8..10)
        .ok_or_else(corrupt)?
        .try_into()
        .map_err(|_| corrupt())?;
    let len = u16::from_le_bytes(len) as usize;
    let queue = bytes.get(10..10 + len).ok_or_else(corrupt)?;
    let queue = std::str::from_utf8(queue)
        .map_err(|_| QueueError::Storage("a stored queue name is not UTF-8".into()))?;
    Ok(Record {
        stamp_ms: u64::from_le_bytes(stamp),
        queue,
        json: &bytes[10 + len..],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let bytes = super::encode(42, "slow", b"{}");
        let record = super::decode(&bytes).unwrap();
        assert_eq!(
            (record.stamp_ms, record.queue, record.json),
            (42, "slow", &b"{}"[..])
        );
        assert!(super::decode(&bytes[..5]).is_err());
    }
}
