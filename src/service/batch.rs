//! One partition's messages of a poll round, copied out of librdkafka into one buffer: what a
//! partition worker needs of each (offset, Kafka timestamp, payload, key), with one allocation
//! per batch rather than several per message.

use rdkafka::message::{BorrowedMessage, Message};

use crate::time::Millis;

/// Where a message's bytes lie in the batch buffer (`None`: the message had none).
type ByteRange = Option<(u32, u32)>;

#[derive(Clone, Copy, Debug)]
struct Meta {
    offset: i64,
    timestamp: Option<Millis>,
    payload: ByteRange,
    key: ByteRange,
}

/// Messages of one partition, in offset order.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    messages: Vec<Meta>,
}

/// A message of a batch.
#[derive(Clone, Copy, Debug)]
pub struct Msg<'a> {
    pub offset: i64,
    /// The Kafka timestamp (ms), if the message has one.
    pub timestamp: Option<Millis>,
    pub payload: Option<&'a [u8]>,
    pub key: Option<&'a [u8]>,
}

impl Batch {
    /// An empty batch with room for about `messages` messages of `bytes` bytes in all.
    pub fn with_capacity(messages: usize, bytes: usize) -> Batch {
        Batch {
            bytes: Vec::with_capacity(bytes),
            messages: Vec::with_capacity(messages),
        }
    }

    pub fn push(&mut self, m: &BorrowedMessage<'_>) {
        self.push_parts(m.offset(), m.timestamp().to_millis(), m.payload(), m.key());
    }

    fn push_parts(
        &mut self,
        offset: i64,
        timestamp: Option<Millis>,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
    ) {
        let mut keep = |b: Option<&[u8]>| {
            b.map(|b| {
                let start = self.bytes.len() as u32;
                self.bytes.extend_from_slice(b);
                (start, b.len() as u32)
            })
        };
        let (payload, key) = (keep(payload), keep(key));
        self.messages.push(Meta {
            offset,
            timestamp,
            payload,
            key,
        });
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Bytes held (payloads and keys).
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn first_offset(&self) -> Option<i64> {
        self.messages.first().map(|m| m.offset)
    }

    pub fn iter(&self) -> impl Iterator<Item = Msg<'_>> {
        let get = |s: ByteRange| {
            s.and_then(|(start, len)| {
                self.bytes
                    .get(start as usize..start as usize + len as usize)
            })
        };
        self.messages.iter().map(move |m| Msg {
            offset: m.offset,
            timestamp: m.timestamp,
            payload: get(m.payload),
            key: get(m.key),
        })
    }
}

/// A message given by its parts: offset, timestamp, payload, key.
#[cfg(test)]
type Parts<'a> = (i64, Option<Millis>, Option<&'a [u8]>, Option<&'a [u8]>);

#[cfg(test)]
impl Batch {
    /// A batch of messages given by their parts.
    pub fn of(messages: &[Parts<'_>]) -> Batch {
        let mut b = Batch::default();
        for &(offset, ts, payload, key) in messages {
            b.push_parts(offset, ts, payload, key);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_back_each_message_as_pushed() {
        let b = Batch::of(&[
            (7, Some(100), Some(b"{\"a\":1}"), Some(b"k1")),
            (8, None, None, None),
            (9, Some(300), Some(b""), Some(b"")),
        ]);
        assert_eq!((b.len(), b.first_offset(), b.bytes()), (3, Some(7), 9));
        let got: Vec<_> = b
            .iter()
            .map(|m| (m.offset, m.timestamp, m.payload, m.key))
            .collect();
        assert_eq!(
            got,
            vec![
                (7, Some(100), Some(&b"{\"a\":1}"[..]), Some(&b"k1"[..])),
                (8, None, None, None),
                (9, Some(300), Some(&b""[..]), Some(&b""[..])),
            ]
        );
    }
}
