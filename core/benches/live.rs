//! The live API at 10,000 agents and 1,000 waiting contacts (goal: under 50 ms a request): the
//! partition engine's live view, the merge, and one page of agents (`order=state`, 1,000 rows)
//! and of waiting contacts written as JSON. The view is built only when asked, so at a 2 s
//! wallboard refresh a partition worker spends `live_view / 2 s` of its time on it (goal: 1 %).
//!
//! `cargo bench --bench live`

use std::sync::Arc;

use callpulse_core::settings::Settings;
use callpulse_core::engine::Engine;
use callpulse_core::event::{AgentEvent, AgentState, Body, Channel, ContactEvent, ContactStep, Event};
use callpulse_core::live::page::{agents_page, waiting_page, PageQuery};
use callpulse_core::live::LiveView;
use criterion::{criterion_group, criterion_main, Criterion};

const AGENTS: usize = 10_000;
const WAITING: usize = 1_000;
const QUEUES: usize = 50;
const START: i64 = 1_795_000_000_000;

fn contact(
    ts: i64,
    step: ContactStep,
    id: &str,
    queue: Option<&str>,
    agent: Option<&str>,
) -> Event<'static> {
    Event {
        id: None,
        ts,
        body: Body::Contact(ContactEvent {
            step,
            contact_id: id.to_string().into(),
            queue: queue.map(|q| q.to_string().into()),
            agent: agent.map(|a| a.to_string().into()),
            channel: Channel::Voice,
            wrapup: None,
            resolved: None,
            customer: None,
            scores: Default::default(),
            priority: Some(1),
        }),
    }
}

/// 10,000 agents over 50 queues (a third on a call, a sixth not ready) and 1,000 contacts
/// waiting, all within the last half hour.
fn center() -> Engine {
    let text = "[engine]\nmax_agents = 20000\nmax_open_contacts = 100000\n";
    let mut engine = Engine::new(Arc::new(Settings::parse(text).expect("config")));
    let states = [
        AgentState::Available,
        AgentState::Busy,
        AgentState::NotReady,
        AgentState::Busy,
        AgentState::Wrapup,
        AgentState::Available,
    ];
    for a in 0..AGENTS {
        let name = format!("agent-{a:05}");
        let ts = START + a as i64 * 100;
        let state = states[a % states.len()];
        let event = Event {
            id: None,
            ts,
            body: Body::Agent(AgentEvent {
                agent: name.clone().into(),
                state,
                queues: Some(vec![
                    format!("q{:02}", a % QUEUES).into(),
                    format!("q{:02}", (a + 7) % QUEUES).into(),
                ]),
                reason: (state == AgentState::NotReady).then(|| "break".into()),
            }),
        };
        let _ = engine.apply(&event);
        if state == AgentState::Busy {
            let id = format!("call-{a}");
            let q = format!("q{:02}", a % QUEUES);
            let _ = engine.apply(&contact(ts, ContactStep::Offered, &id, Some(&q), None));
            let _ = engine.apply(&contact(
                ts + 1,
                ContactStep::Answered,
                &id,
                None,
                Some(&name),
            ));
        }
    }
    let end = START + AGENTS as i64 * 100;
    for w in 0..WAITING {
        let q = format!("q{:02}", w % QUEUES);
        let _ = engine.apply(&contact(
            end + w as i64,
            ContactStep::Offered,
            &format!("wait-{w}"),
            Some(&q),
            None,
        ));
    }
    engine.advance(end + WAITING as i64 + 60_000);
    engine
}

fn benches(c: &mut Criterion) {
    let engine = center();
    let config = Settings::parse("").expect("config");
    let view = LiveView::merge([&engine.live_view()]);
    println!(
        "live view: {} agents, {} waiting contacts",
        view.agents.len(),
        view.waiting.len()
    );
    let mut g = c.benchmark_group("live");
    g.sample_size(20);
    g.bench_function("partition_live_view_10k_agents_1k_waiting", |b| {
        b.iter(|| engine.live_view().agents.len())
    });
    let by_state = PageQuery::parse("order=state&limit=1000").expect("query");
    let all = PageQuery::parse("limit=1000").expect("query");
    g.bench_function("api_agents_and_waiting_10k_agents_1k_waiting", |b| {
        b.iter(|| {
            let view = LiveView::merge([&engine.live_view()]);
            let agents =
                serde_json::to_vec(&agents_page(&view, &[], &by_state, &config)).expect("json");
            let waiting = serde_json::to_vec(&waiting_page(&view, &[], &all, true)).expect("json");
            agents.len() + waiting.len()
        })
    });
    g.finish();
}

criterion_group!(live, benches);
criterion_main!(live);
