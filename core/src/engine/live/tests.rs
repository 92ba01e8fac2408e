//! The live view through the whole engine: time in state, holds, transfers, wrap-up, handled
//! today across a queue's local day start, the waiting list's order and the personal-data rule.

use std::sync::Arc;

use crate::engine::Engine;
use crate::event::{AgentEvent, AgentState, Body, Channel, ContactEvent, ContactStep, Event};
use crate::live::{AgentRow, LiveView};
use crate::settings::Settings;
use crate::time::{parse_rfc3339, Millis, MINUTE, SECOND};

use ContactStep::*;

fn t(s: &str) -> Millis {
    parse_rfc3339(s).unwrap_or_else(|| panic!("{s}"))
}

const T0: &str = "2026-11-23T10:00:00Z";

fn engine(cfg: &str) -> Engine {
    Engine::new(Arc::new(
        Settings::parse(cfg).unwrap_or_else(|e| panic!("{e}")),
    ))
}

fn state(e: &mut Engine, at: Millis, name: &str, state: AgentState, reason: Option<&str>) {
    let event = Event {
        id: None,
        ts: at,
        body: Body::Agent(AgentEvent {
            agent: name.into(),
            state,
            queues: Some(vec!["sales".into()]),
            reason: reason.map(Into::into),
        }),
    };
    e.apply(&event).unwrap_or_else(|r| panic!("{r:?}"));
}

struct C<'a> {
    step: ContactStep,
    id: &'a str,
    queue: Option<&'a str>,
    agent: Option<&'a str>,
}

fn contact(e: &mut Engine, at: Millis, c: C<'_>, f: impl FnOnce(&mut ContactEvent<'_>)) {
    let mut event = ContactEvent {
        step: c.step,
        contact_id: c.id.into(),
        queue: c.queue.map(Into::into),
        agent: c.agent.map(Into::into),
        channel: Channel::Voice,
        wrapup: None,
        resolved: None,
        customer: None,
        scores: Default::default(),
        priority: None,
    };
    f(&mut event);
    let event = Event {
        id: None,
        ts: at,
        body: Body::Contact(event),
    };
    e.apply(&event).unwrap_or_else(|r| panic!("{r:?}"));
}

fn offer(e: &mut Engine, at: Millis, id: &str, queue: &str) {
    let queue = Some(queue);
    contact(
        e,
        at,
        C {
            step: Offered,
            id,
            queue,
            agent: None,
        },
        |_| {},
    );
}

fn step(e: &mut Engine, at: Millis, step: ContactStep, id: &str, agent: &str) {
    let agent = Some(agent);
    contact(
        e,
        at,
        C {
            step,
            id,
            queue: None,
            agent,
        },
        |_| {},
    );
}

fn view_at(e: &mut Engine, now: Millis) -> LiveView {
    e.advance(now);
    LiveView::merge([&e.live_view()])
}

fn agent<'a>(v: &'a LiveView, name: &str) -> &'a AgentRow {
    (v.agents.iter().find(|a| a.agent == name)).unwrap_or_else(|| panic!("{name} not in {v:?}"))
}

#[test]
fn time_in_state_runs_from_the_change_of_state_or_reason_not_from_a_repeat() {
    let mut e = engine("");
    let t0 = t(T0);
    state(&mut e, t0, "ann", AgentState::Available, None);
    state(
        &mut e,
        t0 + 10 * MINUTE,
        "ann",
        AgentState::NotReady,
        Some("lunch"),
    );
    state(
        &mut e,
        t0 + 20 * MINUTE,
        "ann",
        AgentState::NotReady,
        Some("lunch"),
    );
    let v = view_at(&mut e, t0 + 25 * MINUTE);
    let s = agent(&v, "ann").state.clone().unwrap();
    assert_eq!(
        (s.state, s.reason.as_deref()),
        (AgentState::NotReady, Some("lunch"))
    );
    assert_eq!(s.since, t0 + 10 * MINUTE);
    assert_eq!(agent(&v, "ann").queues, ["sales"]);
    // another reason code is another state
    state(
        &mut e,
        t0 + 30 * MINUTE,
        "ann",
        AgentState::NotReady,
        Some("meeting"),
    );
    let v = view_at(&mut e, t0 + 31 * MINUTE);
    assert_eq!(
        agent(&v, "ann").state.as_ref().unwrap().since,
        t0 + 30 * MINUTE
    );
    // a late event older than the latest changes nothing
    state(&mut e, t0 + 29 * MINUTE, "ann", AgentState::Available, None);
    let v = view_at(&mut e, t0 + 31 * MINUTE);
    let s = agent(&v, "ann").state.clone().unwrap();
    assert_eq!((s.state, s.since), (AgentState::NotReady, t0 + 30 * MINUTE));
}

#[test]
fn a_hold_shows_on_the_conversation_until_resumed() {
    let mut e = engine("");
    let t0 = t(T0);
    offer(&mut e, t0, "call-1", "sales");
    step(&mut e, t0 + 5 * SECOND, Answered, "call-1", "ann");
    step(&mut e, t0 + 60 * SECOND, Held, "call-1", "ann");
    let v = view_at(&mut e, t0 + 70 * SECOND);
    let c = agent(&v, "ann").conversation.clone().unwrap();
    assert_eq!(
        (c.queue.as_str(), c.since, c.on_hold),
        ("sales", t0 + 5 * SECOND, true)
    );
    step(&mut e, t0 + 90 * SECOND, Resumed, "call-1", "ann");
    let v = view_at(&mut e, t0 + 95 * SECOND);
    assert!(!agent(&v, "ann").conversation.as_ref().unwrap().on_hold);
}

#[test]
fn a_transfer_ends_the_first_agents_conversation_and_counts_it_handled() {
    let mut e = engine("");
    let t0 = t(T0);
    offer(&mut e, t0, "call-1", "sales");
    step(&mut e, t0 + 5 * SECOND, Answered, "call-1", "ann");
    step(&mut e, t0 + 65 * SECOND, Transferred, "call-1", "ann");
    step(&mut e, t0 + 70 * SECOND, Answered, "call-1", "bob");
    let v = view_at(&mut e, t0 + 80 * SECOND);
    let ann = agent(&v, "ann");
    assert!(ann.conversation.is_none());
    assert_eq!(ann.handled_today.len(), 1);
    assert_eq!(
        (ann.handled_today[0].count, ann.handled_today[0].handle_ms),
        (1, 60 * SECOND)
    );
    let bob = agent(&v, "bob").conversation.clone().unwrap();
    assert_eq!((bob.queue.as_str(), bob.since), ("sales", t0 + 70 * SECOND));
}

#[test]
fn wrap_up_follows_the_end_and_the_contact_is_handled_at_its_end() {
    let mut e = engine("");
    let t0 = t(T0);
    offer(&mut e, t0, "call-1", "sales");
    step(&mut e, t0 + 5 * SECOND, Answered, "call-1", "ann");
    let ended = C {
        step: Ended,
        id: "call-1",
        queue: None,
        agent: Some("ann"),
    };
    contact(&mut e, t0 + 125 * SECOND, ended, |c| c.wrapup = Some(true));
    let v = view_at(&mut e, t0 + 130 * SECOND);
    let ann = agent(&v, "ann");
    assert!(ann.conversation.is_none());
    assert_eq!(
        ann.wrapup.as_ref().map(|w| w.since),
        Some(t0 + 125 * SECOND)
    );
    assert!(
        ann.handled_today.is_empty(),
        "not completed before its wrap-up ends"
    );
    step(&mut e, t0 + 185 * SECOND, WrapupEnded, "call-1", "ann");
    let v = view_at(&mut e, t0 + 190 * SECOND);
    let ann = agent(&v, "ann");
    assert!(ann.wrapup.is_none());
    // handle = talk 120 s + wrap-up 60 s
    assert_eq!(
        (ann.handled_today[0].count, ann.handled_today[0].handle_ms),
        (1, 180 * SECOND)
    );
}

#[test]
fn handled_today_starts_again_at_the_queues_local_day_start() {
    // New York: the day starts at 05:00Z in November
    let mut e = engine("[queues.sales]\ntimezone = \"America/New_York\"\n");
    let handle = |e: &mut Engine, id: &str, at: &str| {
        let at = t(at);
        offer(e, at, id, "sales");
        step(e, at + 10 * SECOND, Answered, id, "ann");
        step(e, at + 70 * SECOND, Ended, id, "ann");
    };
    state(
        &mut e,
        t("2026-11-24T04:00:00Z"),
        "ann",
        AgentState::Available,
        None,
    );
    handle(&mut e, "call-1", "2026-11-24T04:50:00Z");
    handle(&mut e, "call-2", "2026-11-24T04:55:00Z");
    let v = view_at(&mut e, t("2026-11-24T04:59:00Z"));
    assert_eq!(agent(&v, "ann").handled_today[0].count, 2);
    let v = view_at(&mut e, t("2026-11-24T05:00:00Z"));
    assert!(
        agent(&v, "ann").handled_today.is_empty(),
        "a new day in New York"
    );
    handle(&mut e, "call-3", "2026-11-24T05:10:00Z");
    let v = view_at(&mut e, t("2026-11-24T05:20:00Z"));
    let h = &agent(&v, "ann").handled_today[0];
    assert_eq!((h.count, h.handle_ms), (1, 60 * SECOND));
}

#[test]
fn waiting_contacts_are_listed_oldest_first_with_channel_and_priority() {
    let mut e = engine("");
    let t0 = t(T0);
    let offered = |id, at: Millis, channel, priority| {
        move |e: &mut Engine| {
            let c = C {
                step: Offered,
                id,
                queue: Some("sales"),
                agent: None,
            };
            contact(e, at, c, |c| {
                c.channel = channel;
                c.priority = priority;
            })
        }
    };
    offered("c2", t0 + 20 * SECOND, Channel::Chat, Some(5))(&mut e);
    offered("c1", t0 + 10 * SECOND, Channel::Voice, None)(&mut e);
    offered("c3", t0 + 30 * SECOND, Channel::Voice, None)(&mut e);
    offer(&mut e, t0 + 15 * SECOND, "s1", "support");
    step(&mut e, t0 + 40 * SECOND, Answered, "c3", "ann");
    let v = view_at(&mut e, t0 + 50 * SECOND);
    let rows: Vec<(&str, &str, Millis, Channel, Option<i64>)> = (v.waiting.iter())
        .map(|w| {
            (
                w.queue.as_str(),
                w.contact_id.as_str(),
                w.since,
                w.channel,
                w.priority,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("sales", "c1", t0 + 10 * SECOND, Channel::Voice, None),
            ("sales", "c2", t0 + 20 * SECOND, Channel::Chat, Some(5)),
            ("support", "s1", t0 + 15 * SECOND, Channel::Voice, None),
        ]
    );
}

#[test]
fn no_customer_id_ever_reaches_the_view() {
    let mut e = engine("");
    let t0 = t(T0);
    let c = C {
        step: Offered,
        id: "call-1",
        queue: Some("sales"),
        agent: None,
    };
    contact(&mut e, t0, c, |c| c.customer = Some("+15551234567".into()));
    let c = C {
        step: Offered,
        id: "call-2",
        queue: Some("sales"),
        agent: None,
    };
    contact(&mut e, t0, c, |c| c.customer = Some("+15557654321".into()));
    step(&mut e, t0 + SECOND, Answered, "call-2", "ann");
    let v = view_at(&mut e, t0 + 10 * SECOND);
    assert_eq!(v.waiting.len(), 1);
    assert_eq!(
        agent(&v, "ann").conversation.as_ref().map(|c| c.since),
        Some(t0 + SECOND)
    );
    let text = format!("{v:?}");
    for number in ["15551234567", "15557654321"] {
        assert!(!text.contains(number), "{text}");
    }
}

#[test]
fn agents_beyond_max_agents_are_not_tracked() {
    let mut e = engine("[engine]\nmax_agents = 2\n");
    let t0 = t(T0);
    for name in ["a1", "a2", "a3"] {
        state(&mut e, t0, name, AgentState::Available, None);
    }
    assert_eq!(e.live.len(), 2);
    assert_eq!(e.live.untracked, 1);
    assert_eq!(view_at(&mut e, t0 + SECOND).agents.len(), 2);
}

#[test]
fn a_checkpoint_keeps_the_live_view() {
    let mut e = engine("");
    let t0 = t(T0);
    state(&mut e, t0, "ann", AgentState::NotReady, Some("lunch"));
    offer(&mut e, t0, "call-1", "sales");
    step(&mut e, t0 + SECOND, Answered, "call-1", "bob");
    offer(&mut e, t0 + 2 * SECOND, "call-2", "sales");
    e.advance(t0 + 10 * SECOND);
    let before = e.live_view();
    let bytes = e.save_state().unwrap();
    let config = Arc::new(Settings::parse("").unwrap());
    let restored = Engine::restore_state(config, &bytes).unwrap();
    assert_eq!(restored.live_view(), before);
    assert_eq!(before.agents.len(), 2);
    assert_eq!(before.waiting.len(), 1);
}
