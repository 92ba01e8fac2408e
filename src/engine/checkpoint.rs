//! The engine's state as bytes, for checkpoints: everything an engine holds but its config,
//! and the config fingerprint a saved state is valid under.
//!
//! A saved state is restored only under the configuration it was built with: windows, targets,
//! thresholds, horizons and limits shape what every window and contact holds, so a state built
//! under other settings would give numbers no rebuild gives. [`fingerprint`] names that
//! configuration; the caller keeps it beside the state and rebuilds when it differs.

use std::sync::Arc;

use crate::config::Config;

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
pub fn fingerprint(config: &Config) -> u64 {
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
    pub fn restore_state(config: Arc<Config>, bytes: &[u8]) -> Result<Engine, StateError> {
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
