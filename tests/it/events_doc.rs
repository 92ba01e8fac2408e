//! `docs/events.md` names every event type, value and reject reason the decoder knows: a new one
//! cannot be added without its line in the doc.

use callpulse::event::RejectReason;
use callpulse::input::callpulse::{CHANNELS, OVERFLOW_REASONS, STATES, STEPS};

#[test]
fn events_doc_names_every_type_value_and_reject_reason() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md"))
        .expect("docs/events.md");
    let names = (STEPS.iter().map(|(n, _)| *n))
        .chain(["agent.state"])
        .chain(CHANNELS.iter().map(|(n, _)| *n))
        .chain(OVERFLOW_REASONS.iter().map(|(n, _)| *n))
        .chain(STATES.iter().map(|(n, _)| *n))
        .chain(RejectReason::ALL.iter().map(|r| r.as_str()));
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/events.md does not name `{name}`"
        );
    }
}
