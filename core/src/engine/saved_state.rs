//! The engine's state as bytes, for checkpoints: everything an engine holds but its config,
//! and the config fingerprint a saved state is valid under.
//!
//! A saved state is restored only under the configuration it was built with: windows, targets,
//! thresholds, horizons and limits shape what every window and contact holds, so a state built
//! under other settings would give numbers no rebuild gives. [`fingerprint`] names that
//! configuration; the caller keeps it beside the state and rebuilds when it differs.

use std::sync::Arc;

use crate::settings::Settings;

use super::memory::hash_id;
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

impl Engine {
    /// Everything this engine holds, but its config.
    pub fn save_state(&self) -> Result<Vec<u8>, StateError> {
        Ok(postcard::to_stdvec(self)?)
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
}
