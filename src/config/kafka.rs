//! `[kafka]`: the brokers, the topics and their input formats, the consumer group and its
//! membership, the rebuild horizon, checkpoints and the dead-letter topic.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{InputConfig, SettingError, Span};

/// `[kafka]`: where events come from. Every entry of `properties` goes to librdkafka unchanged.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    #[serde(default = "default_brokers")]
    pub brokers: String,
    #[serde(default = "default_topics")]
    pub topics: Vec<String>,
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Rejected messages are copied here unchanged, with the reason in header `callpulse-reject-reason`.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// On (re)assignment, how far back in event time to re-read so windows are complete again.
    #[serde(default)]
    pub rebuild: Option<Span>,
    /// Compacted topic where each partition worker checkpoints its state with the offset it
    /// covers, so a newly assigned partition resumes there instead of re-reading the rebuild
    /// horizon ("" turns checkpoints off).
    #[serde(default = "default_checkpoint_topic")]
    pub checkpoint_topic: String,
    /// How often a partition worker checkpoints (when it read anything since its last one), and
    /// no sooner than 20 × as long as its last checkpoint took.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: Span,
    /// Static group membership (`group.instance.id`): a stable name per instance (a pod's
    /// name in a StatefulSet), so a restart within `session.timeout.ms` moves no partition.
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// `[[kafka.inputs]]`: topics in other formats (`topics` is the shorthand for the
    /// `callpulse` format). See [`KafkaConfig::inputs`].
    #[serde(default)]
    pub inputs: Vec<InputConfig>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: default_brokers(),
            topics: default_topics(),
            group_id: default_group(),
            dead_letter_topic: None,
            rebuild: None,
            checkpoint_topic: default_checkpoint_topic(),
            checkpoint_interval: default_checkpoint_interval(),
            instance_id: None,
            properties: BTreeMap::new(),
            inputs: Vec::new(),
        }
    }
}

impl KafkaConfig {
    /// Each input's platform settings fit its format, and no topic is read twice.
    pub(super) fn check(&self) -> Result<(), SettingError> {
        let mut topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        for input in &self.inputs {
            input.check()?;
            if topics.contains(&input.topic.as_str()) {
                return Err(SettingError::new(
                    "kafka.inputs",
                    format!(
                        "topic {:?} is listed twice (in kafka.topics or kafka.inputs)",
                        input.topic
                    ),
                ));
            }
            topics.push(&input.topic);
        }
        Ok(())
    }

    /// Every topic consumed and its input: `topics` in the `callpulse` format, then `[[kafka.inputs]]`.
    pub fn inputs(&self) -> Vec<InputConfig> {
        self.topics
            .iter()
            .map(|t| InputConfig {
                topic: t.clone(),
                ..InputConfig::default()
            })
            .chain(self.inputs.iter().cloned())
            .collect()
    }

    /// The input of `topic` (the `callpulse` format for a topic not configured).
    pub fn input_of(&self, topic: &str) -> InputConfig {
        self.inputs
            .iter()
            .find(|i| i.topic == topic)
            .cloned()
            .unwrap_or_else(|| InputConfig {
                topic: topic.into(),
                ..InputConfig::default()
            })
    }
}

fn default_brokers() -> String {
    "localhost:9092".into()
}
fn default_topics() -> Vec<String> {
    vec!["callcenter.events".into()]
}
fn default_group() -> String {
    "callpulse".into()
}
fn default_checkpoint_topic() -> String {
    "callpulse.checkpoints".into()
}
fn default_checkpoint_interval() -> Span {
    Span::from_secs(300)
}
