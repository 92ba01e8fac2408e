//! Simulated contact-center traffic: a deterministic discrete-event model of queues, agents and
//! customers on a simulated clock, producing spec-v1 events (`docs/events.md`) as JSON.
//!
//! Owns the traffic model (arrivals, routing, agent behaviour, staffing, scenarios) and its JSON
//! encoding; no I/O and no wall clock: the caller passes simulated time to [`Simulator::advance`].
//!
//! The model, in short:
//! - Arrivals are Poisson per queue (Zipf-like volumes) times an intraday shape on the business
//!   clock (quiet at night, peaks mid-morning and early afternoon, a dip at lunch);
//!   [`SimConfig::rate`] is the offered rate across all queues at the busiest moment of the day.
//! - Staffing ([`Staffing`], `roster.rs`). By default it is **realistic**: like a workforce
//!   planner, the roster sizes each queue with Erlang C for its service-level target (80 % within
//!   the bundled config's threshold: 30 s for sales, 20 s elsewhere) at the load a few minutes
//!   ahead, trimmed to 85 % because Erlang C knows no abandons; who shows up varies by a couple of
//!   percent from one half-hour to the next. Like a real-time manager it covers agents who are on
//!   a break, lets agents put off a break while contacts wait, and recalls agents from off-phone
//!   work while the oldest contact has waited three quarters of the threshold. The service level
//!   then hovers around its target: over the business day the 15-minute service level of a
//!   healthy queue is mostly within 75-97 % (median about 90-95 %), 2-5 % abandon, and a few
//!   times a day it dips under the target for 5 to 35 minutes and recovers on its own.
//!   **Generous** staffing (square-root staffing with a margin, `a + 1.5·√a + 2`, plus 25 %
//!   shrinkage, no real-time management) keeps every healthy queue far above its targets at any
//!   hour: the alert tests use it, so that only the scenario's queue can page.
//! - Each queue is FIFO; a contact goes to the longest-idle available agent serving it. Agents
//!   serving two queues take their first queue's contacts first, and their second queue's only
//!   while their first queue keeps a reserve of idle agents (2 + 2·√ of those logged in), so a
//!   collapsing queue does not drain the healthy ones. Customers have a patience (exponential,
//!   with some very short and some very patient callers) and abandon when it runs out, also
//!   while the agent's phone rings. Callers still waiting after 2 minutes are offered a
//!   callback; those who take it leave (`contact.overflowed`, reason `key`) and the callback is
//!   offered to the same queue. Voice and chat overflow (`timeout`) after 10 minutes of waiting,
//!   e-mail and callbacks after 30 minutes; a queue without any logged-in agent overflows its
//!   contacts after a few seconds (`no_agents`).
//! - Conversations: lognormal talk time, some holds, some transfers to another queue (the same
//!   `contact_id` is then offered there), wrap-up in the queues that use it (the first two,
//!   `model::profile`), and a survey from about 20 % of the answered customers a few minutes
//!   later.
//! - Agents follow the roster (how many are logged in follows the load), take breaks with reason
//!   codes, lunch, and now and then log out and back in. Every change of what an agent shows is
//!   an `agent.state` event carrying its `queues` list.
//!
//! Decisions a producer has to make where the contract is silent:
//! - `contact.ended` and `contact.transferred` always carry an explicit `wrapup` flag
//!   (docs/events.md), so results do not depend on the monitor's per-queue `wrapup` setting.
//!   Transfers start only in queues without wrap-up (`model::profile`) and carry
//!   `wrapup: false`.
//! - Event ids (`e-<run>-<n>`) and contact ids (`c-<run>-<n>`) carry a run tag derived from
//!   the seed and `start_ms`, so a restarted producer does not collide with its earlier ids.
//! - An agent never shows two states in the same millisecond (the monitor would order them by
//!   state, not by arrival): a second change in the same millisecond is shown 1 ms later.
//!
//! Files: `model.rs` (profiles, constants, shape, Erlang C), `state.rs` (what is kept between
//! events), `roster.rs` (staffing and building the agents), `contacts.rs` and `agents.rs` (the
//! two halves of the event handling), `encode.rs` (the JSON), `platform/` (the same traffic
//! rewritten in a telephony platform's own format, e.g. Asterisk queue_log lines).

mod agents;
mod contacts;
mod encode;
mod model;
pub mod platform;
mod roster;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Exp1, StandardNormal};

use crate::time::{Millis, DAY, HOUR, SECOND};

use encode::Encoder;
use model::{profile, queue_name, raw_shape, splitmix, zipf_weights, OUTAGE_FROM, OUTAGE_UNTIL};
use state::{Agent, Contact, ContactState, QueueModel, Scheduled, Timer};

/// What kind of day to simulate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Staffing follows demand (see [`Staffing`] for how closely).
    #[default]
    Normal,
    /// The first queue runs a campaign (a quarter more than its peak traffic, around the clock)
    /// while half of its agents never log in: its service level collapses and abandonment
    /// rises while the other queues keep their usual staffing.
    Understaffed,
    /// From 10 to 25 simulated minutes after the start, 80 % of the logged-in agents go
    /// `not_ready` with reason `outage` (busy ones as soon as their conversation ends).
    Outage,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Normal, Scenario::Understaffed, Scenario::Outage];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::Understaffed => "understaffed",
            Scenario::Outage => "outage",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scenario name that is not one of `normal`, `understaffed`, `outage`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario {0:?} (expected normal, understaffed or outage)")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// How the roster staffs the queues (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Staffing {
    /// Erlang C for each queue's service-level target, with planned shrinkage and a little
    /// variation: the service level hovers around its target, as in a real center.
    #[default]
    Realistic,
    /// Square-root staffing with a margin: every queue far above its targets at any hour.
    Generous,
}

impl Staffing {
    pub const ALL: [Staffing; 2] = [Staffing::Realistic, Staffing::Generous];

    pub fn as_str(self) -> &'static str {
        match self {
            Staffing::Realistic => "realistic",
            Staffing::Generous => "generous",
        }
    }
}

impl fmt::Display for Staffing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A staffing name that is not one of `realistic`, `generous`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown staffing {0:?} (expected realistic or generous)")]
pub struct UnknownStaffing(pub String);

impl FromStr for Staffing {
    type Err = UnknownStaffing;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Staffing::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownStaffing(s.to_string()))
    }
}

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Number of queues (at most [`MAX_QUEUES`]): `sales`, `support`, `billing`, `retention`,
    /// `tech`, then `queue-06`, `queue-07`, ...
    pub queues: usize,
    /// Total agents, spread over the queues by workload; about a quarter serve a second queue.
    /// See [`SimConfig::recommended_agents`] for a headcount that fits `rate` and `staffing`.
    pub agents: usize,
    /// Mean contacts offered per simulated second across all queues before the intraday shape,
    /// i.e. at the busiest moment of the day (the shape peaks at 1.0).
    pub rate: f64,
    pub scenario: Scenario,
    /// How the roster staffs the queues.
    pub staffing: Staffing,
    pub seed: u64,
    /// Simulated epoch-ms at which the simulation starts (0 or later: events before 1970 are
    /// invalid timestamps).
    pub start_ms: i64,
    /// Constant traffic at `rate` all day (no intraday shape): tests and benchmarks get the same
    /// volume whatever the hour they run at.
    pub flat: bool,
    /// Moves the simulated business day against the UTC clock: the shape, rosters and lunch at
    /// `t` are those of UTC time `t + day_shift_ms` (the demo uses it to start mid-morning).
    pub day_shift_ms: i64,
    /// Key a contact's events by its contact id instead of the center, so a large center's
    /// traffic spreads over every partition (agent events stay keyed by the center, or by
    /// their first queue with `key_by_queue`). Keyed this way, a customer's contacts land in
    /// several partitions and the customer families are counted apart (docs/events.md).
    pub key_by_contact: bool,
    /// Key events by their queue (agent events by the agent's first queue) instead of the
    /// center: exact only while no contact visits two queues.
    pub key_by_queue: bool,
}

/// The Kafka key of every simulated event unless told otherwise: the simulated center (one
/// PBX or platform instance), as docs/events.md recommends.
pub const CENTER_KEY: &str = "center";

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            queues: 4,
            agents: 40,
            rate: 2.0,
            scenario: Scenario::Normal,
            staffing: Staffing::default(),
            seed: 1,
            start_ms: 0,
            flat: false,
            day_shift_ms: 0,
            key_by_contact: false,
            key_by_queue: false,
        }
    }
}

/// The most queues a simulator creates (the monitor's default `max_queues`).
pub const MAX_QUEUES: usize = 1000;

/// One event: the Kafka key, its instant and its JSON (or, after a [`platform`] writer, one
/// record of a platform's format).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimEvent {
    /// The Kafka key: [`CENTER_KEY`]; with [`SimConfig::key_by_queue`] the queue name (for
    /// agent events the agent's first queue); with [`SimConfig::key_by_contact`] a contact
    /// event's contact id.
    pub key: String,
    pub ts_ms: i64,
    /// One spec-v1 JSON object (a platform writer's record: its message text).
    pub json: String,
    /// On a `contact.ended` with `wrapup: true`: how long the after-call work lasts (its
    /// `contact.wrapup_ended` follows that much later). Platforms that announce wrap-up when the
    /// conversation ends (Asterisk's WRAPUPSTART) need it then. `None` elsewhere.
    pub wrapup_ms: Option<i64>,
}

/// The traffic simulator; see the module documentation.
pub struct Simulator {
    cfg: SimConfig,
    rng: SmallRng,
    enc: Encoder,
    now: Millis,
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    shape_peak: f64,
    queues: Vec<QueueModel>,
    agents: Vec<Agent>,
    contacts: Vec<Contact>,
    free_contacts: Vec<u32>,
    next_contact: u64,
    outage_active: bool,
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let run = format!(
            "{:08x}",
            splitmix(cfg.seed ^ splitmix(cfg.start_ms as u64)) as u32
        );
        let shape_peak = (0..24 * 60)
            .map(|m| raw_shape(m as f64 / 60.0))
            .fold(0.0, f64::max);
        let nq = cfg.queues.min(MAX_QUEUES);
        let weights = zipf_weights(nq);
        let rate = if cfg.rate.is_finite() && cfg.rate > 0.0 {
            cfg.rate
        } else {
            0.0
        };
        let mut queues: Vec<QueueModel> = (0..nq)
            .map(|i| {
                let p = profile(i);
                let mut mix = p.mix;
                for c in 1..4 {
                    mix[c] += mix[c - 1];
                }
                let surge = if i == 0 && cfg.scenario == Scenario::Understaffed {
                    model::SURGE
                } else {
                    1.0
                };
                QueueModel {
                    name: queue_name(i),
                    wrapup: p.wrapup,
                    transfers: p.transfers,
                    mix,
                    talk_factor: p.talk_factor,
                    weight: weights[i],
                    peak_per_ms: surge * rate * weights[i] / 1000.0,
                    peak_erlangs: rate * weights[i] * p.aht_s(),
                    aht_s: p.aht_s(),
                    sl_threshold_s: p.sl_threshold_s,
                    patience_factor: p.patience_factor,
                    idle: Default::default(),
                    waiting: Default::default(),
                    recalls: Default::default(),
                    logged_in: 0,
                    headcount: 0,
                    on_break: 0,
                    plan: None,
                }
            })
            .collect();
        let agents = if nq == 0 {
            Vec::new()
        } else {
            roster::build_agents(&cfg, &mut queues, &mut rng)
        };
        let mut sim = Simulator {
            now: cfg.start_ms,
            rng,
            enc: Encoder {
                run,
                next: 0,
                key_by_contact: cfg.key_by_contact,
                key_by_queue: cfg.key_by_queue,
            },
            heap: BinaryHeap::new(),
            seq: 0,
            shape_peak,
            queues,
            agents,
            contacts: Vec::new(),
            free_contacts: Vec::new(),
            next_contact: 0,
            outage_active: false,
            cfg,
        };
        let start = sim.cfg.start_ms;
        for q in 0..sim.queues.len() {
            sim.schedule_arrival(q as u16, start);
        }
        for a in 0..sim.agents.len() {
            let at = start + sim.rng.random_range(0..20 * SECOND);
            sim.schedule(at, Timer::Roster(a as u32));
        }
        if sim.cfg.scenario == Scenario::Outage {
            sim.schedule(start + OUTAGE_FROM, Timer::OutageStart);
            sim.schedule(start + OUTAGE_UNTIL, Timer::OutageEnd);
        }
        sim
    }

    /// Appends to `out`, in non-decreasing ts order, every event with ts < until_ms that has
    /// not been emitted yet.
    pub fn advance(&mut self, until_ms: i64, out: &mut Vec<SimEvent>) {
        while self.heap.peek().is_some_and(|s| s.at < until_ms) {
            let Some(Scheduled { at, timer, .. }) = self.heap.pop() else {
                break;
            };
            self.now = at;
            self.handle(timer, at, out);
        }
    }

    pub fn queue_names(&self) -> Vec<String> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    // -----------------------------------------------------------------------------------------

    fn schedule(&mut self, at: Millis, timer: Timer) {
        debug_assert!(at >= self.now);
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            timer,
        });
    }

    fn uniform_ms(&mut self, lo_s: f64, hi_s: f64) -> Millis {
        (self.rng.random_range(lo_s..hi_s) * 1000.0) as Millis
    }

    fn exp_ms(&mut self, mean_s: f64) -> Millis {
        let e: f64 = self.rng.sample(Exp1);
        (e * mean_s * 1000.0) as Millis
    }

    fn lognormal_ms(&mut self, mean_s: f64, cv: f64) -> Millis {
        let s2 = (1.0 + cv * cv).ln();
        let mu = mean_s.ln() - s2 / 2.0;
        let z: f64 = self.rng.sample(StandardNormal);
        ((mu + s2.sqrt() * z).exp() * 1000.0) as Millis
    }

    /// The instant on the business day's clock ([`SimConfig::day_shift_ms`]).
    fn business_ms(&self, t: Millis) -> Millis {
        t.saturating_add(self.cfg.day_shift_ms)
    }

    /// The intraday shape at `t`, 0..=1 (1 with [`SimConfig::flat`]).
    fn shape(&self, t: Millis) -> f64 {
        if self.cfg.flat {
            return 1.0;
        }
        raw_shape(self.business_ms(t).rem_euclid(DAY) as f64 / HOUR as f64) / self.shape_peak
    }

    fn schedule_arrival(&mut self, q: u16, from: Millis) {
        let per_ms = self.queues[q as usize].peak_per_ms;
        if per_ms > 0.0 {
            let e: f64 = self.rng.sample(Exp1);
            let gap = (e / per_ms).min(DAY as f64) as Millis;
            self.schedule(from + gap.max(1), Timer::Arrive(q));
        }
    }

    fn handle(&mut self, timer: Timer, t: Millis, out: &mut Vec<SimEvent>) {
        match timer {
            Timer::Arrive(q) => {
                self.schedule_arrival(q, t);
                // Understaffed: the first queue runs a campaign — more than its peak traffic
                // around the clock (see `Simulator::new`) — while its roster follows the usual
                // day and half of it is absent.
                let surge = q == 0 && self.cfg.scenario == Scenario::Understaffed;
                if surge || self.rng.random::<f64>() < self.shape(t) {
                    self.arrive(q, t, out);
                }
            }
            Timer::Deadline(slot, gen) => self.deadline(slot, gen, t, out),
            Timer::Answer(slot, gen) => self.answer(slot, gen, t, out),
            Timer::Hold(slot, gen) => self.hold(slot, gen, t, out),
            Timer::Respond(slot, gen) => self.respond(slot, gen, t, out),
            Timer::Resume(slot, gen) => self.resume(slot, gen, t, out),
            Timer::End(slot, gen) => self.end(slot, gen, t, out),
            Timer::Reoffer(slot, gen, q) => {
                let c = &self.contacts[slot as usize];
                if c.gen == gen && c.state == ContactState::Transit {
                    self.offer(slot, q, t, out);
                }
            }
            Timer::Agent(a, token, kind) => self.agent_timer(a as usize, token, kind, t, out),
            Timer::Roster(a) => self.roster(a as usize, t, out),
            Timer::Flush(a) => {
                self.agents[a as usize].flush_pending = false;
                self.show(a as usize, t, out);
            }
            Timer::OutageStart => self.outage_start(t, out),
            Timer::OutageEnd => self.outage_end(t),
            Timer::Survey(no, q, scores) => self.survey(no, q, scores, t, out),
        }
    }
}

fn shuffle<T>(v: &mut [T], rng: &mut SmallRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
