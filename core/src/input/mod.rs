//! Input formats: wire formats decoded into the events of [`crate::event`], and the one step
//! every reader takes with a message — decode (or map a platform's record onto events), count a
//! reject, apply — written once for the Kafka partition workers, `callpulse replay` and
//! `callpulse convert`. A message that holds several JSON records back to back is read as
//! several ([`stored::several`]). A new format is a new file here and one arm in
//! `Reader::with`.

pub mod asterisk;
pub mod callpulse;
pub mod connect;
pub mod freeswitch;
pub mod history;
pub mod stored;
pub mod taskrouter;
mod write;

use std::collections::BTreeMap;

use crate::engine::Engine;
use crate::event::{Limits, Reject, RejectReason};
use crate::settings::{InputConfig, InputFormat};
use crate::time::Millis;
use asterisk::{Asterisk, AsteriskSettings};
use connect::{Connect, ConnectSettings};
use freeswitch::{Freeswitch, FreeswitchSettings};
use taskrouter::{Taskrouter, TaskrouterSettings};

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
    let decoded = callpulse::decode(payload, engine.limits());
    apply(engine, decoded, admit)
}

/// Applies one decoded message when its time is admitted, or counts its reject.
fn apply(
    engine: &mut Engine,
    decoded: Result<crate::event::Event<'_>, Reject>,
    admit: Admit,
) -> Ingested {
    match decoded {
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

/// What an applied contact event tells of the topic's keying (docs/events.md: a contact's events
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

/// A platform's record format mapped onto docs/events.md events. Adapters keep per-stream memory
/// (agents' queue lists, pauses), so each partition has its own.
pub trait Adapter: Send {
    /// Maps one record onto zero or more docs/events.md JSON objects appended to `out`; returns the
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
    /// Whether records are written when what they describe is over (a contact record when its
    /// contact ends), so a history of them in delivery order is not in time order.
    fn written_when_over(&self) -> bool {
        false
    }
    /// The records of a message that holds several in the platform's own framing (a JSON
    /// array), each mapped and counted on its own; `None` for one record.
    fn records(&self, _message: &[u8]) -> Option<Vec<Vec<u8>>> {
        None
    }
}

/// Whether a reject may be of a message that holds several records (each may be fine).
fn several_records(reason: RejectReason) -> bool {
    matches!(reason, RejectReason::MalformedJson | RejectReason::TooLarge)
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
    /// The reader of a live stream (a Kafka partition) for an engine of the default lateness
    /// (`[engine] allowed_lateness`).
    pub fn new(input: &InputConfig) -> Reader {
        Reader::with_lateness(input, 60 * crate::time::SECOND)
    }

    /// The reader of a live stream whose records may arrive out of order within `lateness`,
    /// the engine's.
    pub fn with_lateness(input: &InputConfig, lateness: Millis) -> Reader {
        Reader::with(input, lateness, false)
    }

    /// The reader of a history read from a file (`replay`, `convert`), records out of order
    /// within `lateness`: a platform's adapter may hold records back until the end (see
    /// [`Reader::flush`]).
    pub fn history(input: &InputConfig, lateness: Millis) -> Reader {
        Reader::with(input, lateness, true)
    }

    fn with(input: &InputConfig, lateness: Millis, history: bool) -> Reader {
        let adapter: Option<Box<dyn Adapter>> = match input.format {
            InputFormat::Callpulse => None,
            InputFormat::Asterisk => Some(Box::new(Asterisk::new(AsteriskSettings {
                timezone: input.timezone,
                reorder: AsteriskSettings::reorder_within(lateness),
            }))),
            InputFormat::Connect => {
                let settings = ConnectSettings {
                    queue_names: input.queue_names.clone(),
                };
                Some(Box::new(if history {
                    Connect::history(settings)
                } else {
                    Connect::new(settings)
                }))
            }
            InputFormat::Freeswitch => Some(Box::new(Freeswitch::new(FreeswitchSettings {
                wrapup_seconds: input.wrapup_seconds.unwrap_or(0),
                agent_wrapup_seconds: input.agent_wrapup_seconds.clone(),
                agent_queues: input.agent_queues.clone(),
            }))),
            InputFormat::Taskrouter => {
                let defaults = TaskrouterSettings::default();
                Some(Box::new(Taskrouter::new(TaskrouterSettings {
                    abandon_reasons: input
                        .abandon_reasons
                        .clone()
                        .unwrap_or(defaults.abandon_reasons),
                    activities: input.activities.clone(),
                    default_channel: input.default_channel.unwrap_or_default(),
                    identities: input.identities.unwrap_or_default(),
                    agent_queues: input.agent_queues.clone(),
                })))
            }
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

    /// Whether a history in this format must be put in time order before the engine (its
    /// records are written when what they describe is over: see [`history::TimeOrder`]).
    pub fn needs_time_order(&self) -> bool {
        self.adapter.as_ref().is_some_and(|a| a.written_when_over())
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
    /// A record an adapter rejects is counted in the engine's statistics and reported once; a
    /// message of several records back to back is read record by record.
    pub fn read(
        &mut self,
        engine: &mut Engine,
        payload: &[u8],
        admit: Admit,
        mut each: impl FnMut(Ingested),
    ) {
        let limit = self
            .format
            .max_record_bytes(engine.limits().max_message_bytes);
        let Some(adapter) = self.adapter.as_mut() else {
            let decoded = callpulse::decode(payload, engine.limits());
            if let Err(reject) = &decoded {
                let parts = several_records(reject.reason)
                    .then(|| stored::several(payload, limit))
                    .flatten();
                if let Some(parts) = parts {
                    for part in parts {
                        match part {
                            Ok(record) => each(ingest(engine, &payload[record], admit)),
                            Err(reason) => {
                                engine.count_reject(reason);
                                each(Ingested::Rejected(Reject::new(reason, "record")));
                            }
                        }
                    }
                    return;
                }
            }
            each(apply(engine, decoded, admit));
            return;
        };
        self.mapped.clear();
        let kinds = &mut self.kinds;
        map_message(
            adapter.as_mut(),
            payload,
            limit,
            &mut self.mapped,
            |r| match r {
                Ok(kind) => *kinds.entry(kind).or_default() += 1,
                Err(reject) => {
                    engine.count_reject(reject.reason);
                    each(Ingested::Rejected(reject));
                }
            },
        );
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

    /// `callpulse convert` (and the replay of a history put in time order): the docs/events.md JSON
    /// lines one message stands for, each reject of it reported to `rejected`.
    pub fn convert(
        &mut self,
        payload: &[u8],
        limits: &Limits,
        out: &mut Vec<String>,
        mut rejected: impl FnMut(Reject),
    ) {
        match self.adapter.as_mut() {
            Some(adapter) => {
                let kinds = &mut self.kinds;
                map_message(
                    adapter.as_mut(),
                    payload,
                    self.format.max_record_bytes(limits.max_message_bytes),
                    out,
                    |r| match r {
                        Ok(kind) => *kinds.entry(kind).or_default() += 1,
                        Err(reject) => rejected(reject),
                    },
                );
            }
            None => {
                // a valid docs/events.md event is its own line
                let pass = |record: &[u8], out: &mut Vec<String>| {
                    callpulse::decode(record, limits)
                        .map(|_| out.push(String::from_utf8_lossy(record).trim().to_string()))
                };
                let Err(reject) = pass(payload, out) else {
                    return;
                };
                let parts = several_records(reject.reason)
                    .then(|| stored::several(payload, limits.max_message_bytes))
                    .flatten();
                let Some(parts) = parts else {
                    return rejected(reject);
                };
                for part in parts {
                    let passed = match part {
                        Ok(record) => pass(&payload[record], out),
                        Err(reason) => Err(Reject::new(reason, "record")),
                    };
                    if let Err(reject) = passed {
                        rejected(reject);
                    }
                }
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

/// Maps one message with `adapter` — record by record when it holds several back to back —
/// reporting each record's kind or reject to `each`.
fn map_message(
    adapter: &mut dyn Adapter,
    payload: &[u8],
    limit: usize,
    out: &mut Vec<String>,
    mut each: impl FnMut(Result<&'static str, Reject>),
) {
    if let Some(records) = adapter.records(payload) {
        for record in records {
            each(adapter.map(&record, out));
        }
        return;
    }
    match adapter.map(payload, out) {
        Err(reject) if several_records(reject.reason) => match stored::several(payload, limit) {
            Some(parts) => {
                for part in parts {
                    each(match part {
                        Ok(record) => adapter.map(&payload[record], out),
                        Err(reason) => Err(Reject::new(reason, "record")),
                    });
                }
            }
            None => each(Err(reject)),
        },
        result => each(result),
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

impl Adapter for Freeswitch {
    fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        Freeswitch::map(self, record, out)
    }
    fn flush(&mut self, until: Millis, out: &mut Vec<String>) {
        Freeswitch::flush(self, until, out)
    }
    fn kinds(&self) -> &'static [&'static str] {
        freeswitch::KINDS
    }
    fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        Freeswitch::save_state(self)
    }
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        Freeswitch::restore_state(self, bytes)
    }
}

impl Adapter for Taskrouter {
    fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        Taskrouter::map(self, record, out)
    }
    fn flush(&mut self, _until: Millis, _out: &mut Vec<String>) {}
    fn kinds(&self) -> &'static [&'static str] {
        taskrouter::KINDS
    }
    fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        Taskrouter::save_state(self)
    }
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        Taskrouter::restore_state(self, bytes)
    }
    fn records(&self, message: &[u8]) -> Option<Vec<Vec<u8>>> {
        Taskrouter::records(message)
    }
}

impl Adapter for Connect {
    fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        Connect::map(self, record, out)
    }
    fn flush(&mut self, _until: Millis, out: &mut Vec<String>) {
        // only a history holds records (for a queue's name), until its end
        Connect::flush(self, out)
    }
    fn kinds(&self) -> &'static [&'static str] {
        connect::KINDS
    }
    fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        Connect::save_state(self)
    }
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        Connect::restore_state(self, bytes)
    }
    fn written_when_over(&self) -> bool {
        // contact records are; contact events and agent records are not, and sorting them by
        // time changes nothing
        true
    }
}
