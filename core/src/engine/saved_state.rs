//! The engine's state as bytes, for checkpoints: everything an engine holds but its config,
//! and the config fingerprint a saved state is valid under.
//!
//! A saved state is restored only under the configuration it was built with: windows, targets,
//! thresholds, horizons and limits shape what every window and contact holds, so a state built
//! under other settings would give numbers no rebuild gives. [`fingerprint`] names that
//! configuration; the caller keeps it beside the state and rebuilds when it differs.

use std::sync::Arc;

use crate::settings::Settings;

use super::contact::Scratch;
use super::index::ContactIndex;
use super::memory::hash_id;
use super::time_guard::{Jump, TimeGuard};
use super::Engine;

/// Why a saved state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("engine state: {0}")]
    Postcard(#[from] postcard::Error),
}

/// Names the configuration an engine state depends on (the engine section, the queue defaults
/// and every configured queue) and the id hash this build uses, whose values a state holds
/// (de-duplication, finished contacts, agents): a build whose hashing differs cannot use it.
pub fn fingerprint(config: &Settings) -> u64 {
    let text = format!(
        "{:?}|{:?}|{:?}|{}",
        config.engine,
        config.defaults,
        config.queues,
        hash_id("callpulse")
    );
    let mut crc = flate2::Crc::new();
    crc.update(text.as_bytes());
    (u64::from(crc.sum()) << 32) | (hash_id(&text) >> 32)
}

/// An engine's state as it was when [`Engine::capture`] took it, whatever the engine does
/// after: what a checkpoint serialises, away from the partition's worker.
pub struct Captured(Engine);

impl Captured {
    /// The bytes [`Engine::save_state`] gave when this was captured.
    pub fn save_state(&self) -> Result<Vec<u8>, StateError> {
        Ok(postcard::to_stdvec(&self.0)?)
    }
}

impl Engine {
    /// Everything this engine holds, but its config.
    pub fn save_state(&self) -> Result<Vec<u8>, StateError> {
        Ok(postcard::to_stdvec(self)?)
    }

    /// Takes this engine's state as of now, cheaply: the largest maps (customer histories,
    /// de-duplication, finished contacts) are shared, shard by shard (what the engine writes to
    /// a shard the capture holds goes to an overlay: nothing of them is copied); the rest is
    /// copied. What is derived from the config or rebuilt on restore is left out, as in
    /// [`Engine::save_state`].
    pub fn capture(&self) -> Captured {
        Captured(Engine {
            config: self.config.clone(),
            limits: self.limits,
            lateness: self.lateness,
            queues: self.queues.clone(),
            queue_ids: self.queue_ids.clone(),
            contacts: self.contacts.clone(),
            free_slots: self.free_slots.clone(),
            contact_ids: ContactIndex::default(),
            open_contacts: self.open_contacts,
            expiry: self.expiry.clone(),
            next_serial: self.next_serial,
            finished: self.finished.clone(),
            dedup: self.dedup.clone(),
            agents: self.agents.clone(),
            live: self.live.clone(),
            no_live: self.no_live,
            customers: self.customers.capture(),
            watermark: self.watermark,
            last_retire_scan: self.last_retire_scan,
            time_guard: TimeGuard::default(),
            jump: Jump::default(),
            now: self.now,
            input_complete: self.input_complete,
            stats: self.stats.clone(),
            scratch: Scratch::default(),
        })
    }

    /// An engine as [`Engine::save_state`] left it, under `config` (which must have the
    /// [`fingerprint`] the state was saved under: the caller checks).
    pub fn restore_state(config: Arc<Settings>, bytes: &[u8]) -> Result<Engine, StateError> {
        let mut engine: Engine = postcard::from_bytes(bytes)?;
        let fresh = Engine::new(config.clone());
        engine.limits = fresh.limits;
        engine.lateness = fresh.lateness;
        for q in &mut engine.queues {
            q.restored(config.queue(&q.name).clone(), &config.engine);
        }
        for (slot, (id, _)) in engine
            .contacts
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| Some((slot, c.as_ref()?)))
        {
            let id = id.as_str();
            engine.contact_ids.insert(id, hash_id(id), slot as u32);
        }
        engine.customers.restored();
        engine.config = config;
        Ok(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{render, Exposition};
    use crate::input::{ingest, Admit};

    fn text(engine: &Engine) -> String {
        let mut out = Exposition::new();
        let snap = engine.snapshot();
        let all = crate::settings::ExportConfig::full(snap.window_labels.clone());
        render(&snap, &all, &mut out);
        out.finish()
    }

    /// A capture is the state at the instant it was taken: the engine writing on to the maps it
    /// shares (customer histories, de-duplication, finished contacts) afterwards changes
    /// nothing in it, and it serialises to the bytes the engine gave then.
    #[test]
    fn a_capture_serialises_to_the_state_it_was_taken_at_whatever_follows() {
        let config = Arc::new(Settings::default());
        let mut engine = Engine::new(config.clone());
        let t0 = 1_795_420_800_000i64;
        let lines = |from: usize, to: usize| -> Vec<String> {
            (from..to)
                .flat_map(|i| {
                    let t = t0 + i as i64 * 1_000;
                    let customer = i * 7 % 400;
                    [
                        format!(r#"{{"type":"contact.offered","ts":{t},"id":"o{i}","contact_id":"c{i}","queue":"q{}","customer":"+1555{customer:07}"}}"#, i % 5),
                        format!(r#"{{"type":"contact.answered","ts":{},"id":"a{i}","contact_id":"c{i}","agent":"ag{}"}}"#, t + 2_000, i % 30),
                        format!(r#"{{"type":"contact.ended","ts":{},"id":"e{i}","contact_id":"c{i}","agent":"ag{}"}}"#, t + 5_000, i % 30),
                    ]
                })
                .collect()
        };
        for l in lines(0, 2_000) {
            let _ = ingest(&mut engine, l.as_bytes(), Admit::ALL);
        }
        engine.advance(t0 + 2_000_000);
        assert!(engine.customers.len() >= 400, "customer histories are held");
        let then = engine.save_state().unwrap();
        let expected = text(&Engine::restore_state(config.clone(), &then).unwrap());
        let captured = engine.capture();
        for l in lines(2_000, 4_000) {
            let _ = ingest(&mut engine, l.as_bytes(), Admit::ALL);
        }
        engine.advance(t0 + 30 * 3_600_000);
        assert_ne!(engine.save_state().unwrap(), then, "the engine went on");
        let bytes = captured.save_state().unwrap();
        assert_eq!(bytes, then);
        let restored = Engine::restore_state(config, &bytes).unwrap();
        assert_eq!(text(&restored), expected);
        assert_ne!(text(&restored), text(&engine));
    }

    /// A restored engine goes on exactly as the one it was saved from: contacts found again by
    /// their ids (short and long), distributions and windows as they were.
    #[test]
    fn a_restored_engine_goes_on_as_the_saved_one() {
        let config = Arc::new(Settings::default());
        let mut engine = Engine::new(config.clone());
        let t0 = 1_795_420_800_000i64;
        let long = "x".repeat(40);
        let ids: Vec<String> = (0..300)
            .map(|i| {
                if i % 3 == 0 {
                    format!("{long}{i}")
                } else {
                    format!("c{i}")
                }
            })
            .collect();
        let mut first = Vec::new();
        let mut then = Vec::new();
        for (i, c) in ids.iter().enumerate() {
            let t = t0 + i as i64 * 1_000;
            first.push(format!(r#"{{"type":"contact.offered","ts":{t},"id":"o{i}","contact_id":"{c}","queue":"q{}"}}"#, i % 7));
            first.push(format!(r#"{{"type":"contact.answered","ts":{},"id":"a{i}","contact_id":"{c}","agent":"ag{i}"}}"#, t + 3_000 + i as i64 * 37 % 50_000));
            then.push(format!(r#"{{"type":"contact.ended","ts":{},"id":"e{i}","contact_id":"{c}","agent":"ag{i}"}}"#, t + 400_000 + i as i64 * 91 % 200_000));
        }
        // a duplicate of an event before the checkpoint is still recognized after it
        then.insert(0, first[first.len() - 1].clone());
        for l in &first {
            let _ = ingest(&mut engine, l.as_bytes(), Admit::ALL);
        }
        engine.advance(t0 + 320_000);
        let bytes = engine.save_state().unwrap();
        let mut restored = Engine::restore_state(config, &bytes).unwrap();
        assert_eq!(text(&restored), text(&engine));
        for l in &then {
            let a = ingest(&mut engine, l.as_bytes(), Admit::ALL);
            let b = ingest(&mut restored, l.as_bytes(), Admit::ALL);
            assert_eq!(a, b, "{l}");
        }
        let end = t0 + 2_000_000;
        engine.advance(end);
        restored.advance(end);
        assert_eq!(restored.stats(), engine.stats());
        assert_eq!(restored.open_contacts(), engine.open_contacts());
        assert_eq!(text(&restored), text(&engine));
        assert_eq!(
            engine
                .stats()
                .rejected(crate::event::RejectReason::Duplicate),
            1
        );
    }

    /// The customer histories' expiry order, which is not saved but rebuilt on restore,
    /// forgets and evicts the same histories in the same order as the engine that never
    /// stopped: repeat and callback facts, held and forgotten customers equal after the
    /// restore. It holds one entry per history (the regression: stale entries piled up and
    /// were swept at once, holding the partition for half a second at a million customers).
    #[test]
    fn a_restored_engine_forgets_and_evicts_customers_as_the_saved_one() {
        let mut settings = Settings::default();
        settings.engine.max_customers = 150;
        let config = Arc::new(settings);
        let mut engine = Engine::new(config.clone());
        let t0 = 1_795_420_800_000i64;
        let lines = |from: usize, to: usize| -> Vec<String> {
            (from..to)
                .flat_map(|i| {
                    // repeats close together and far apart, customers touched again and again
                    let t = t0 + i as i64 * 7_000;
                    let customer = (i * 13) % 240;
                    let answered = i % 3 != 0;
                    let outcome = if answered {
                        format!(r#"{{"type":"contact.answered","ts":{},"id":"a{i}","contact_id":"c{i}","agent":"ag{}"}}"#, t + 2_000, i % 30)
                    } else {
                        format!(r#"{{"type":"contact.abandoned","ts":{},"id":"a{i}","contact_id":"c{i}"}}"#, t + 9_000)
                    };
                    [
                        format!(r#"{{"type":"contact.offered","ts":{t},"id":"o{i}","contact_id":"c{i}","queue":"q{}","customer":"+1555{customer:07}"}}"#, i % 3),
                        outcome,
                        format!(r#"{{"type":"contact.ended","ts":{},"id":"e{i}","contact_id":"c{i}","agent":"ag{}"}}"#, t + 20_000, i % 30),
                    ]
                })
                .collect()
        };
        for l in lines(0, 900) {
            let _ = ingest(&mut engine, l.as_bytes(), Admit::ALL);
        }
        engine.advance(t0 + 900 * 7_000);
        let mut restored =
            Engine::restore_state(config, &engine.capture().save_state().unwrap()).unwrap();
        let mut step = t0 + 900 * 7_000;
        for chunk in lines(900, 2_400).chunks(300) {
            for l in chunk {
                let a = ingest(&mut engine, l.as_bytes(), Admit::ALL);
                let b = ingest(&mut restored, l.as_bytes(), Admit::ALL);
                assert_eq!(a, b, "{l}");
            }
            step += 100 * 7_000;
            engine.advance(step);
            restored.advance(step);
            assert_eq!(restored.customers.len(), engine.customers.len());
            // one expiry entry per history, however often its customer came back: nothing
            // stale piles up to be swept at once
            assert_eq!(engine.customers.expiry_entries(), engine.customers.len());
        }
        let end = t0 + 40 * 3_600_000;
        engine.advance(end);
        restored.advance(end);
        assert!(
            engine.stats().customers_forgotten > 0,
            "the capacity was reached"
        );
        assert_eq!(restored.stats(), engine.stats());
        assert_eq!(text(&restored), text(&engine));
    }
}
