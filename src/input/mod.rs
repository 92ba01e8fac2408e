//! Input formats: wire formats decoded into the events of [`crate::event`], and the one step
//! every reader takes with a message — decode (or map a platform's record onto events), count a
//! reject, apply — written once for the Kafka partition workers, `callpulse replay` and
//! `callpulse convert`. A new format is a new file here and one arm in [`Reader::new`].

pub mod asterisk;
pub mod callpulse;
pub mod connect;
mod write;

use std::collections::BTreeMap;

use crate::config::{InputConfig, InputFormat};
use crate::engine::Engine;
use crate::event::{Limits, Reject};
use crate::time::Millis;
use asterisk::{Asterisk, AsteriskSettings};
use connect::{Connect, ConnectSettings};

/// The event-time range a reader applies: `[from, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admit {
    /// Events before this are older than the rebuild horizon of a newly assigned partition.
    pub from: Millis,
    /// Events at or after this had not happened yet at the evaluation instant (replay `--at`).
    pub until: Millis,
}

impl Admit {
    /// Every event.
    pub const ALL: Admit = Admit {
        from: Millis::MIN,
        until: Millis::MAX,
    };
}

/// What became of one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Ingested {
    /// Applied to the engine; `ts` is the event's time.
    Applied { ts: Millis, keys: Keys },
    /// Rejected, by the decoder or by the engine, and counted under its reason.
    Rejected(Reject),
    /// Valid, but older than [`Admit::from`]: not applied.
    BeforeHorizon,
    /// Valid, but at or after [`Admit::until`]: not applied.
    AfterEnd,
}

/// Decodes one `callpulse`-format message and applies it when its time is admitted; a reject is
/// counted in the engine's statistics either way.
pub fn ingest(engine: &mut Engine, payload: &[u8], admit: Admit) -> Ingested {
    match callpulse::decode(payload, engine.limits()) {
        Err(reject) => {
            engine.count_reject(reject.reason);
            Ingested::Rejected(reject)
        }
        Ok(event) if event.ts < admit.from => Ingested::BeforeHorizon,
        Ok(event) if event.ts >= admit.until => Ingested::AfterEnd,
        Ok(event) => match engine.apply(&event) {
            Ok(()) => Ingested::Applied {
                ts: event.ts,
                keys: Keys::of(&event),
            },
            Err(reject) => Ingested::Rejected(reject),
        },
    }
}

/// What an applied contact event tells of the topic's keying (events.md 1.2: a contact's events
/// and a customer's contacts in one queue belong in one partition): a hash of its contact id
/// and, on an offer naming one, a keyed hash of its customer and queue; 0 for none. The
/// service compares them across its partitions (`service::keying`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    pub contact: u64,
    pub customer: u64,
}

impl Keys {
    fn of(event: &crate::event::Event<'_>) -> Keys {
        use std::hash::{BuildHasher, Hash, Hasher};
        let crate::event::Body::Contact(c) = &event.body else {
            return Keys::default();
        };
        let contact = std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default()
            .hash_one(&*c.contact_id);
        let customer = match (&c.customer, &c.queue) {
            (Some(customer), Some(queue)) if c.step == crate::event::ContactStep::Offered => {
                // customer ids are personal data: a hash under a key drawn per process
                let mut h = customer_hasher();
                customer.hash(&mut h);
                queue.hash(&mut h);
                h.finish()
            }
            _ => 0,
        };
        Keys { contact, customer }
    }
}

/// SipHash under a key drawn once per process.
fn customer_hasher() -> siphasher::sip::SipHasher13 {
    static KEY: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    let (k0, k1) = *KEY.get_or_init(|| (rand::random(), rand::random()));
    siphasher::sip::SipHasher13::new_with_keys(k0, k1)
}

/// The messages of a file or stream written one per line (`replay`, `convert`): a trailing
/// `\r` is dropped and blank lines are skipped.
pub fn messages(input: impl std::io::BufRead) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
    input.split(b'\n').filter_map(|line| match line {
        Ok(mut line) => {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            (!line.iter().all(u8::is_ascii_whitespace)).then_some(Ok(line))
        }
        Err(e) => Some(Err(e)),
    })
}

/// A platform's record format mapped onto events.md events. Adapters keep per-stream memory
/// (agents' queue lists, pauses), so each partition has its own.
pub trait Adapter: Send {
    /// Maps one record onto zero or more events.md JSON objects appended to `out`; returns the
    /// record's kind (one of [`Adapter::kinds`]) or why the record is rejected.
    fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject>;
    /// Emits events held back for a follow-up that never came, stamped before `until`.
    fn flush(&mut self, until: Millis, out: &mut Vec<String>);
    /// Every kind `map` returns: the fixed label set of `callpulse_input_records_total`.
    fn kinds(&self) -> &'static [&'static str];
    /// The adapter's memory, for a checkpoint.
    fn save_state(&self) -> Result<Vec<u8>, postcard::Error>;
    /// Takes back the memory `save_state` saved.
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error>;
}

/// One stream's reader: its format's decoder and, for platform formats, the adapter's memory
/// and the records counted by kind.
pub struct Reader {
    format: InputFormat,
    adapter: Option<Box<dyn Adapter>>,
    mapped: Vec<String>,
    kinds: BTreeMap<&'static str, u64>,
}

impl Reader {
    /// A reader for an engine of the default lateness (`[engine] allowed_lateness`).
    pub fn new(input: &InputConfig) -> Reader {
        Reader::with_lateness(input, 60 * crate::time::SECOND)
    }

    /// A reader whose records may arrive out of order within `lateness`, the engine's.
    pub fn with_lateness(input: &InputConfig, lateness: Millis) -> Reader {
        let adapter: Option<Box<dyn Adapter>> = match input.format {
            InputFormat::Callpulse => None,
            InputFormat::Asterisk => Some(Box::new(Asterisk::new(AsteriskSettings {
                timezone: input.timezone,
                reorder: AsteriskSettings::reorder_within(lateness),
            }))),
            InputFormat::Connect => Some(Box::new(Connect::new(ConnectSettings {
                queue_names: input.queue_names.clone(),
            }))),
        };
        let kinds = adapter
            .as_ref()
            .map(|a| a.kinds().iter().map(|k| (*k, 0)).collect())
            .unwrap_or_default();
        Reader {
            format: input.format,
            adapter,
            mapped: Vec::new(),
            kinds,
        }
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Records read so far by kind (platform formats; empty for `callpulse`).
    pub fn kinds(&self) -> &BTreeMap<&'static str, u64> {
        &self.kinds
    }

    /// The reader's memory, for a checkpoint: the records counted by kind and the adapter's.
    pub fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        let adapter = match &self.adapter {
            Some(a) => a.save_state()?,
            None => Vec::new(),
        };
        let kinds: Vec<(&str, u64)> = self.kinds.iter().map(|(k, n)| (*k, *n)).collect();
        postcard::to_stdvec(&(kinds, adapter))
    }

    /// Takes back the memory [`Reader::save_state`] saved (of a reader of the same format).
    pub fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let (kinds, adapter): (Vec<(String, u64)>, Vec<u8>) = postcard::from_bytes(bytes)?;
        if let Some(a) = self.adapter.as_mut() {
            a.restore_state(&adapter)?;
        }
        for (kind, n) in kinds {
            if let Some(count) = self
                .kinds
                .iter_mut()
                .find(|(k, _)| **k == kind)
                .map(|e| e.1)
            {
                *count = n;
            }
        }
        Ok(())
    }

    /// Reads one message and ingests every event it carries, reporting each outcome to `each`.
    /// A record an adapter rejects is counted in the engine's statistics and reported once.
    pub fn read(
        &mut self,
        engine: &mut Engine,
        payload: &[u8],
        admit: Admit,
        mut each: impl FnMut(Ingested),
    ) {
        let Some(adapter) = self.adapter.as_mut() else {
            each(ingest(engine, payload, admit));
            return;
        };
        self.mapped.clear();
        match adapter.map(payload, &mut self.mapped) {
            Ok(kind) => *self.kinds.entry(kind).or_default() += 1,
            Err(reject) => {
                engine.count_reject(reject.reason);
                each(Ingested::Rejected(reject));
            }
        }
        for event in &self.mapped {
            each(ingest(engine, event.as_bytes(), admit));
        }
    }

    /// Emits and ingests what the adapter held back before `until` (call as time moves on).
    pub fn flush(
        &mut self,
        engine: &mut Engine,
        until: Millis,
        admit: Admit,
        mut each: impl FnMut(Ingested),
    ) {
        let Some(adapter) = self.adapter.as_mut() else {
            return;
        };
        self.mapped.clear();
        adapter.flush(until, &mut self.mapped);
        for event in &self.mapped {
            each(ingest(engine, event.as_bytes(), admit));
        }
    }

    /// `callpulse convert`: the events.md JSON lines one message stands for, or its reject.
    pub fn convert(
        &mut self,
        payload: &[u8],
        limits: &Limits,
        out: &mut Vec<String>,
    ) -> Result<(), Reject> {
        match self.adapter.as_mut() {
            Some(adapter) => adapter.map(payload, out).map(|_| ()),
            None => {
                callpulse::decode(payload, limits)?;
                out.push(String::from_utf8_lossy(payload).trim().to_string());
                Ok(())
            }
        }
    }

    /// `callpulse convert`: what the adapter still holds at the end of the input.
    pub fn convert_rest(&mut self, out: &mut Vec<String>) {
        if let Some(adapter) = self.adapter.as_mut() {
            adapter.flush(Millis::MAX, out);
        }
    }
}

impl Adapter for Asterisk {
    fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        Asterisk::map(self, record, out)
    }
    fn flush(&mut self, until: Millis, out: &mut Vec<String>) {
        Asterisk::flush(self, until, out)
    }
    fn kinds(&self) -> &'static [&'static str] {
        asterisk::KINDS
    }
    fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        Asterisk::save_state(self)
    }
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        Asterisk::restore_state(self, bytes)
    }
}

impl Adapter for Connect {
    fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        Connect::map(self, record, out)
    }
    fn flush(&mut self, _until: Millis, _out: &mut Vec<String>) {
        // a record's events go out with it: nothing is held back
    }
    fn kinds(&self) -> &'static [&'static str] {
        connect::KINDS
    }
    fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        Ok(Vec::new()) // stateless: a record's events go out with it
    }
    fn restore_state(&mut self, _bytes: &[u8]) -> Result<(), postcard::Error> {
        Ok(())
    }
}
