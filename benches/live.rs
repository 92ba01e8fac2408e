//! The live API at 10,000 agents and 1,000 waiting contacts (goal: under 50 ms a request): the
//! partition engine's live view, the merge, and one page of agents (`order=state`, 1,000 rows)
//! and of waiting contacts written as JSON; and the same when the view comes from a peer
//! instance (its `/api/v1/local` JSON written, read and merged). The view is built only when asked, so at a 2 s
//! wallboard refresh a partition worker spends `live_view / 2 s` of its time on it (goal: 1 %).
//!
//! The worker's cost is also measured side by side: a partition worker applying `agent.state`
//! events as fast as it can for a few seconds, without and with a live view read out every 2 s
//! of wall time, in alternating rounds; the events/s, their ratio and the share of the
//! worker's time spent reading out the view (the cost itself, steady under noisy neighbours
//! where the ratio is not) are printed. `CALLPULSE_BENCH_NO_WORKER=1` skips it.
//!
//! `cargo bench --bench live`

use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::config::Settings;
use callpulse::engine::Engine;
use callpulse::event::{AgentEvent, AgentState, Body, Channel, ContactEvent, ContactStep, Event};
use callpulse::live::page::{agents_page, waiting_page, PageQuery};
use callpulse::live::LiveView;
use callpulse::service::peers::LocalView;
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

/// Events per second of a worker applying `agent.state` events to `engine` for `run` of wall
/// time, reading out its live view every `every` when given; and the share of the time spent
/// reading it out.
fn worker_rate(
    engine: &mut Engine,
    ts: &mut i64,
    run: Duration,
    every: Option<Duration>,
) -> (f64, f64) {
    let states = [AgentState::Available, AgentState::NotReady];
    let names: Vec<String> = (0..AGENTS).map(|a| format!("agent-{a:05}")).collect();
    let start = Instant::now();
    let mut next_view = start + every.unwrap_or(run);
    let mut events = 0u64;
    let mut views = 0usize;
    let mut in_views = Duration::ZERO;
    loop {
        // a batch of 1,000 events between two looks at the clock, as a worker's poll
        for i in 0..1_000usize {
            *ts += 1;
            let a = (events as usize + i) % AGENTS;
            let state = states[(events as usize / AGENTS + a) % 2];
            let event = Event {
                id: None,
                ts: *ts,
                body: Body::Agent(AgentEvent {
                    agent: names[a].as_str().into(),
                    state,
                    queues: None,
                    reason: (state == AgentState::NotReady).then(|| "break".into()),
                }),
            };
            let _ = engine.apply(&event);
        }
        events += 1_000;
        let now = Instant::now();
        if every.is_some() && now >= next_view {
            let began = Instant::now();
            views += engine.live_view().agents.len();
            in_views += began.elapsed();
            next_view += every.unwrap_or(run);
        }
        if now >= start + run {
            break;
        }
    }
    std::hint::black_box(views);
    let took = start.elapsed().as_secs_f64();
    (events as f64 / took, in_views.as_secs_f64() / took)
}

/// Alternating rounds of a worker without and with a live view every 2 s.
fn worker_cost() {
    let mut engine = center();
    let mut ts = START + AGENTS as i64 * 100 + WAITING as i64 + 60_000;
    let run = Duration::from_secs(6);
    let every = Some(Duration::from_secs(2));
    let (mut without, mut with, mut share) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        without.push(worker_rate(&mut engine, &mut ts, run, None).0);
        let (rate, in_views) = worker_rate(&mut engine, &mut ts, run, every);
        with.push(rate);
        share.push(in_views);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut without), median(&mut with));
    println!(
        "worker: {:.0} events/s without a live view, {:.0} events/s with one every 2 s \
         (medians of 3 alternating rounds of 6 s): ratio {:.3}; time spent reading out the \
         view {:.2} % of the worker's",
        a,
        b,
        b / a,
        median(&mut share) * 100.0
    );
}

fn benches(c: &mut Criterion) {
    if std::env::var_os("CALLPULSE_BENCH_NO_WORKER").is_none() {
        worker_cost();
    }
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
    // a group of two: the whole view held by the peer, handed over as `/api/v1/local` JSON
    g.bench_function(
        "api_agents_and_waiting_10k_agents_1k_waiting_from_a_peer",
        |b| {
            b.iter(|| {
                let theirs = LocalView {
                    version: 1,
                    partitions: vec!["events/1".into()],
                    view: engine.live_view(),
                };
                let wire = serde_json::to_vec(&theirs).expect("json");
                let theirs: LocalView = serde_json::from_slice(&wire).expect("json");
                let view = LiveView::merge([&LiveView::default(), &theirs.view]);
                let agents =
                    serde_json::to_vec(&agents_page(&view, &[], &by_state, &config)).expect("json");
                let waiting =
                    serde_json::to_vec(&waiting_page(&view, &[], &all, true)).expect("json");
                wire.len() + agents.len() + waiting.len()
            })
        },
    );
    g.finish();
}

criterion_group!(live, benches);
criterion_main!(live);
