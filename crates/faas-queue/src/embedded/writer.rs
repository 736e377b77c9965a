//! The one thread that writes the embedded queue: it takes every operation waiting on its
//! channel, applies them all in one redb write transaction, commits it with one sync, then
//! updates the in-memory index and answers each caller. Concurrent publishes thus share a
//! sync (group commit) and a caller hears `Ok` only once its change is on disk.

use std::sync::Arc;

use redb::{ReadableTable, Table, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::index::Taken;
use super::{now_ms, record, Shared, CALLS, DEAD};
use crate::{DeadLetter, QueueError};

type Reply = oneshot::Sender<Result<usize, QueueError>>;

/// A change to the queue, sent to the writer.
pub(crate) enum Op {
    Publish {
        queue: String,
        bytes: Vec<u8>,
        reply: Reply,
    },
    Ack {
        queue: String,
        seq: u64,
        reply: Reply,
    },
    Retry {
        queue: String,
        id: String,
        seq: u64,
        token: u64,
        visible_at: u64,
        bytes: Vec<u8>,
        reply: Reply,
    },
    DeadLetter {
        queue: String,
        id: String,
        seq: u64,
        token: u64,
        bytes: Vec<u8>,
        reply: Reply,
    },
    Replay {
        id: String,
        reply: Reply,
    },
    Discard {
        id: String,
        reply: Reply,
    },
}

/// What to do to the index once the transaction is committed, or to undo if it is not.
enum Effect {
    /// A call is on disk and visible at this time (unix ms; 0 = now).
    Queued {
        queue: String,
        seq: u64,
        visible_at: u64,
    },
    /// A leased or ready call was removed from the index before the commit.
    Settled {
        queue: String,
        seq: u64,
        taken: Taken,
    },
    /// A call became a dead letter.
    Died { queue: String },
    /// A dead letter was removed (replayed or discarded).
    Buried { queue: String },
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    next_seq: u64,
    max_batch: usize,
}

impl Writer {
    pub fn new(shared: Arc<Shared>, next_seq: u64, max_batch: usize) -> Self {
        Writer {
            shared,
            next_seq,
            max_batch: max_batch.max(1),
        }
    }

    pub fn run(mut self, mut ops: mpsc::UnboundedReceiver<Op>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(op) = ops.blocking_recv() {
            batch.push(op);
            while batch.len() < self.max_batch {
                match ops.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    fn commit(&mut self, batch: &mut Vec<Op>) {
        let mut effects = Vec::new();
        let mut answers: Vec<(Reply, Result<usize, QueueError>)> = Vec::with_capacity(batch.len());
        let seq_before = self.next_seq;
        let outcome = (|| -> Result<(), QueueError> {
            let mut txn = self.shared.db.begin_write()?;
            txn.set_durability(redb::Durability::Immediate);
            {
                let mut calls = txn.open_table(CALLS)?;
                let mut dead = txn.open_table(DEAD)?;
                for op in batch.drain(..) {
                    let (reply, result) = self.apply(op, &mut calls, &mut dead, &mut effects);
                    answers.push((reply, result));
                }
            }
            commit(txn)
        })();

        let mut index = self.shared.index();
        match outcome {
            Ok(()) => {
                let now = now_ms();
                for effect in effects {
                    match effect {
                        Effect::Queued {
                            queue,
                            seq,
                            visible_at,
                        } => {
                            let state = index.queue(&queue);
                            state.insert(seq, visible_at, now);
                            state.notify.notify_waiters();
                        }
                        Effect::Settled { .. } => {}
                        Effect::Died { queue } => index.queue(&queue).dead += 1,
                        Effect::Buried { queue } => {
                            let state = index.queue(&queue);
                            state.dead = state.dead.saturating_sub(1);
                        }
                    }
                }
                drop(index);
                for (reply, result) in answers {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!("queue commit failed: {err}");
                self.next_seq = seq_before;
                for effect in effects {
                    if let Effect::Settled { queue, seq, taken } = effect {
                        let state = index.queue(&queue);
                        state.restore(seq, taken);
                        state.notify.notify_waiters();
                    }
                }
                drop(index);
                let text = err.to_string();
                for (reply, result) in answers {
                    let _ = reply.send(result.and(Err(QueueError::Storage(text.clone()))));
                }
            }
        }
    }

    fn apply(
        &mut self,
        op: Op,
        calls: &mut Table<u64, &[u8]>,
        dead: &mut Table<u64, &[u8]>,
        effects: &mut Vec<Effect>,
    ) -> (Reply, Result<usize, QueueError>) {
        match op {
            Op::Publish {
                queue,
                bytes,
                reply,
            } => {
                let seq = self.next_seq;
                self.next_seq += 1;
                let result = calls.insert(seq, bytes.as_slice()).map(|_| 1);
                if result.is_ok() {
                    effects.push(Effect::Queued {
                        queue,
                        seq,
                        visible_at: 0,
                    });
                }
                (reply, result.map_err(QueueError::from))
            }
            Op::Ack { queue, seq, reply } => {
                let taken = self.shared.index().queue(&queue).take(seq);
                effects.push(Effect::Settled { queue, seq, taken });
                let result = calls.remove(seq).map(|_| 1).map_err(QueueError::from);
                (reply, result)
            }
            Op::Retry {
                queue,
                id,
                seq,
                token,
                visible_at,
                bytes,
                reply,
            } => {
                if let Err(err) = self.take_leased(&queue, &id, seq, token, effects) {
                    return (reply, Err(err));
                }
                let result = calls.insert(seq, bytes.as_slice()).map(|_| 1);
                if result.is_ok() {
                    effects.push(Effect::Queued {
                        queue,
                        seq,
                        visible_at,
                    });
                }
                (reply, result.map_err(QueueError::from))
            }
            Op::DeadLetter {
                queue,
                id,
                seq,
                token,
                bytes,
                reply,
            } => {
                if let Err(err) = self.take_leased(&queue, &id, seq, token, effects) {
                    return (reply, Err(err));
                }
                let result = calls
                    .remove(seq)
                    .and_then(|_| dead.insert(seq, bytes.as_slice()))
                    .map(|_| 1);
                if result.is_ok() {
                    effects.push(Effect::Died { queue });
                }
                (reply, result.map_err(QueueError::from))
            }
            Op::Replay { id, reply } => {
                let result = self.replay(&id, calls, dead, effects);
                (reply, result)
            }
            Op::Discard { id, reply } => {
                let result = (|| {
                    let found = find_dead(dead, &id)?;
                    for (seq, letter) in &found {
                        dead.remove(*seq)?;
                        effects.push(Effect::Buried {
                            queue: letter.call.queue.clone(),
                        });
                    }
                    Ok(found.len())
                })();
                (reply, not_found_if_zero(result, &id))
            }
        }
    }

    /// Removes a leased call from the index, if this lease still holds it.
    fn take_leased(
        &self,
        queue: &str,
        id: &str,
        seq: u64,
        token: u64,
        effects: &mut Vec<Effect>,
    ) -> Result<(), QueueError> {
        let mut index = self.shared.index();
        let state = index.queue(queue);
        if !state.holds(seq, token) {
            return Err(QueueError::LeaseLost(id.to_string()));
        }
        let taken = state.take(seq);
        effects.push(Effect::Settled {
            queue: queue.to_string(),
            seq,
            taken,
        });
        Ok(())
    }

    fn replay(
        &mut self,
        id: &str,
        calls: &mut Table<u64, &[u8]>,
        dead: &mut Table<u64, &[u8]>,
        effects: &mut Vec<Effect>,
    ) -> Result<usize, QueueError> {
        let found = find_dead(dead, id)?;
        for (old_seq, letter) in &found {
            let mut call = letter.call.clone();
            call.attempt = 0;
            let json = serde_json::to_vec(&call)?;
            let seq = self.next_seq;
            self.next_seq += 1;
            dead.remove(*old_seq)?;
            calls.insert(seq, record::encode(0, &call.queue, &json).as_slice())?;
            effects.push(Effect::Buried {
                queue: call.queue.clone(),
            });
            effects.push(Effect::Queued {
                queue: call.queue,
                seq,
                visible_at: 0,
            });
        }
        not_found_if_zero(Ok(found.len()), id)
    }
}

fn commit(txn: WriteTransaction) -> Result<(), QueueError> {
    txn.commit()?;
    Ok(())
}

fn find_dead(dead: &Table<u64, &[u8]>, id: &str) -> Result<Vec<(u64, DeadLetter)>, QueueError> {
    let mut found = Vec::new();
    for entry in dead.iter()? {
        let (key, value) = entry?;
        let record = record::decode(value.value())?;
        let letter: DeadLetter = serde_json::from_slice(record.json)?;
        if letter.call.id == id {
            found.push((key.value(), letter));
        }
    }
    Ok(found)
}

fn not_found_if_zero(result: Result<usize, QueueError>, id: &str) -> Result<usize, QueueError> {
    match result {
        Ok(0) => Err(QueueError::NotFound(id.to_string())),
        other => other,
    }
}
