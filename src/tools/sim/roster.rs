//! Staffing: how many agents each queue needs ([`Staffing`]), the headcount that fits a
//! config, the roster that logs agents in and out over the day, and building the agents.

use rand::rngs::SmallRng;
use rand::Rng;

use crate::event::AgentState;
use crate::time::{Millis, MINUTE};

use super::model::{
    erlang_c_agents, profile, splitmix, zipf_weights, Profile, ABSENT_SHARE, SECOND_QUEUE_SHARE,
    SL_TARGET,
};
use super::state::{Activity, Agent, QueueModel};
use super::{shuffle, Scenario, SimConfig, SimEvent, Simulator, Staffing, MAX_QUEUES};

/// Generous staffing: not-ready time (breaks about 15 % of an agent's time, and lunch and
/// breaks that happen to coincide up to 10 % more) that the headcount covers.
const GENEROUS_SHRINKAGE: f64 = 0.25;
/// Generous staffing: the square-root staffing margin of [`generous_on_phones`].
const STAFFING_MARGIN: f64 = 1.5;
/// Realistic staffing: the planner's figure, as a share of what Erlang C asks for. Erlang C
/// knows no abandons (a caller who gives up frees the line for the next) and no agents that
/// help a second queue, so for these queues it asks for more agents than the target needs;
/// planners trim it (Erlang A would model the abandons). Tuned so that the service level of the
/// healthy queues hovers a little above its target (see `tests/it/sim.rs`).
const PLAN_TRIM: f64 = 0.85;
/// Realistic staffing: breaks, lunch, meetings, training, logging out and back in, which the
/// headcount must cover on top of the plan (the roster calls in cover for those on a break).
const PLANNED_SHRINKAGE: f64 = 0.22;
/// Realistic staffing: headcount over what Erlang C asks for at the peak, so that the roster can
/// cover breaks and recall agents at the peak too.
const HEADROOM: f64 = 1.15;
/// Realistic staffing: the spread (standard deviation) of who shows up in a half-hour, as a
/// share of the plan.
const SHOW_UP_SPREAD: f64 = 0.02;
/// Realistic staffing: how long who shows up holds (a workforce-management interval).
const PLAN_INTERVAL: Millis = 30 * MINUTE;
/// Realistic staffing: the plan follows the load this far ahead (agents need a moment to get
/// on the phones).
const PLAN_AHEAD: Millis = 4 * MINUTE;
/// Realistic staffing: when the oldest contact has waited this share of the queue's
/// service-level threshold, the real-time manager recalls agents from off-phone work ...
const RECALL_AT: f64 = 0.75;
/// ... this share of the plan more.
const RECALL_SHARE: f64 = 0.6;
/// How often an agent looks at the roster, minutes (min, max): generous, realistic (real-time
/// management reacts faster).
const ROSTER_CHECK_MIN: [(f64, f64); 2] = [(10.0, 20.0), (2.0, 6.0)];

/// Generous staffing: agents on the phones for an offered load of `erlangs`, square-root
/// staffing with a safety margin (`a + 1.5·√a + 2`), which keeps a queue well above 80/20 at
/// any load, from a quiet night (a few Erlangs) to the daily peak (about a hundred).
fn generous_on_phones(erlangs: f64) -> f64 {
    erlangs + STAFFING_MARGIN * erlangs.sqrt() + 2.0
}

/// Realistic staffing: agents on the phones Erlang C asks for to meet the queue's
/// service-level target at an offered load of `erlangs`.
fn realistic_on_phones(aht_s: f64, sl_threshold_s: f64, erlangs: f64) -> f64 {
    f64::from(erlang_c_agents(erlangs, aht_s, sl_threshold_s, SL_TARGET))
}

/// Headcount a queue needs at its peak load of `erlangs` (what the agents are spread by).
fn peak_headcount(staffing: Staffing, p: &Profile, erlangs: f64) -> f64 {
    match staffing {
        Staffing::Generous => generous_on_phones(erlangs) / (1.0 - GENEROUS_SHRINKAGE),
        Staffing::Realistic => {
            HEADROOM * realistic_on_phones(p.aht_s(), p.sl_threshold_s, erlangs)
                / (1.0 - PLANNED_SHRINKAGE)
        }
    }
}

impl SimConfig {
    /// Agents needed for this `rate` with this `staffing`: per queue, what the staffing puts on
    /// the phones at its peak load, plus shrinkage. Realistic: the headcount is a pool with
    /// headroom to cover breaks and to recall agents from off-phone work, so it is about as
    /// large as the generous one, but far fewer of it are logged in at any time.
    ///
    /// Handle times are realistic (about 4-5 minutes), so the offered load is large: at the
    /// default rate of 2 contacts/s this is several hundred agents, far more than 40.
    pub fn recommended_agents(&self) -> usize {
        let n = self.queues.min(MAX_QUEUES);
        if n == 0 || !(self.rate.is_finite() && self.rate > 0.0) {
            return 0;
        }
        let total: f64 = zipf_weights(n)
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let p = profile(i);
                peak_headcount(self.staffing, &p, self.rate * w * p.aht_s())
            })
            .sum();
        total.ceil() as usize
    }
}

/// A roughly normal number (mean 0, deviation 1, within ±3) drawn from a hash: the same for
/// the same inputs, whatever else the simulator drew.
fn hashed_normal(key: u64) -> f64 {
    let h = splitmix(key);
    // Irwin-Hall: the sum of 12 uniforms (5 bits each) minus 6.
    let sum: f64 = (0..12).map(|k| ((h >> (5 * k)) & 31) as f64 / 31.0).sum();
    (sum - 6.0).clamp(-3.0, 3.0)
}

impl Simulator {
    /// Share of queue `q`'s agents the roster wants logged in at `t`.
    ///
    /// Generous: what square-root staffing asks for at the load of the moment over what it asks
    /// for at the peak (plus 10 % slack); small loads need proportionally more agents, so a
    /// quiet night keeps more than the traffic's share. Realistic: the plan of agents on the
    /// phones, plus cover for those of the queue on a break now, plus agents recalled while
    /// contacts wait long, over the queue's headcount.
    pub(super) fn roster_share(&mut self, q: u16, t: Millis) -> f64 {
        let peak = self.queues[q as usize].peak_erlangs;
        let share = match self.cfg.staffing {
            Staffing::Generous => {
                1.1 * generous_on_phones(peak * self.shape(t)) / generous_on_phones(peak)
            }
            Staffing::Realistic => {
                let minute = t.div_euclid(MINUTE);
                let plan = match self.queues[q as usize].plan {
                    Some((m, plan)) if m == minute => plan,
                    _ => {
                        let plan = self.realistic_plan(q, t);
                        self.queues[q as usize].plan = Some((minute, plan));
                        plan
                    }
                };
                let threshold_ms = self.queues[q as usize].sl_threshold_s * 1000.0;
                let recall = if self.waiting_longer_than(q, t, (RECALL_AT * threshold_ms) as Millis)
                {
                    RECALL_SHARE * plan
                } else {
                    0.0
                };
                let qm = &self.queues[q as usize];
                (plan + recall + f64::from(qm.on_break)) / f64::from(qm.headcount.max(1))
            }
        };
        share.min(1.0)
    }

    /// The realistic roster's plan for queue `q` at `t`: agents on the phones, Erlang C for
    /// the load a few minutes ahead, trimmed, times who shows up in this half-hour.
    fn realistic_plan(&self, q: u16, t: Millis) -> f64 {
        let qm = &self.queues[q as usize];
        let load = qm.peak_erlangs * self.shape(t + PLAN_AHEAD);
        let interval = self.business_ms(t).div_euclid(PLAN_INTERVAL);
        let key = self.cfg.seed ^ splitmix(u64::from(q) ^ splitmix(interval as u64));
        let show_up = 1.0 + SHOW_UP_SPREAD * hashed_normal(key);
        PLAN_TRIM * realistic_on_phones(qm.aht_s, qm.sl_threshold_s, load) * show_up
    }

    /// The roster: agents log in and out so staffing follows the load.
    pub(super) fn roster(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let (lo, hi) = ROSTER_CHECK_MIN[usize::from(self.cfg.staffing == Staffing::Realistic)];
        let next = self.uniform_ms(lo * 60.0, hi * 60.0);
        self.schedule(t + next, super::state::Timer::Roster(a as u32));
        let share = self.roster_share(self.agents[a].queues[0], t);
        let ag = &mut self.agents[a];
        let wanted = !ag.absent && ag.rank < share;
        match (wanted, ag.activity) {
            (true, Activity::Out) => self.login(a, t, out),
            (true, _) => ag.pending_logout = false,
            (false, Activity::Out) => {}
            (false, Activity::Idle | Activity::NotReady(_)) => self.logout(a, t, out),
            (false, _) => ag.pending_logout = true,
        }
    }
}

/// Spreads the agents over the queues by what each needs at its peak; a quarter get a second
/// queue. Understaffed: half of the first queue's agents never log in.
pub(super) fn build_agents(
    cfg: &SimConfig,
    queues: &mut [QueueModel],
    rng: &mut SmallRng,
) -> Vec<Agent> {
    let nq = queues.len();
    let work: Vec<f64> = queues
        .iter()
        .enumerate()
        .map(|(i, q)| match cfg.staffing {
            Staffing::Generous => generous_on_phones(q.peak_erlangs),
            Staffing::Realistic => peak_headcount(cfg.staffing, &profile(i), q.peak_erlangs),
        })
        .collect();
    let total: f64 = work.iter().sum();
    let share: Vec<f64> = work.iter().map(|w| w / total).collect();
    let n = cfg.agents;
    let base = usize::from(n >= nq);
    let rest = n - base * nq;
    let mut counts: Vec<usize> = share
        .iter()
        .map(|s| base + (rest as f64 * s).floor() as usize)
        .collect();
    let mut order: Vec<usize> = (0..nq).collect();
    order.sort_by(|&x, &y| {
        let fx = (rest as f64 * share[x]).fract();
        let fy = (rest as f64 * share[y]).fract();
        fy.total_cmp(&fx).then(x.cmp(&y))
    });
    let mut left = n - counts.iter().sum::<usize>();
    for &q in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[q] += 1;
        left -= 1;
    }
    let mut primaries: Vec<u16> = Vec::with_capacity(n);
    for (q, &c) in counts.iter().enumerate() {
        primaries.extend(std::iter::repeat_n(q as u16, c));
    }
    shuffle(&mut primaries, rng);
    let mut agents: Vec<Agent> = primaries
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut qs = vec![p];
            if nq > 1 && rng.random_bool(SECOND_QUEUE_SHARE) {
                let others: f64 = (0..nq).filter(|&q| q != p as usize).map(|q| share[q]).sum();
                let mut u = rng.random::<f64>() * others;
                let mut pick = p;
                for q in (0..nq).filter(|&q| q != p as usize) {
                    pick = q as u16;
                    u -= share[q];
                    if u < 0.0 {
                        break;
                    }
                }
                qs.push(pick);
            }
            let queue_names = qs
                .iter()
                .map(|&q| queues[q as usize].name.clone())
                .collect();
            Agent {
                name: format!("agent-{:04}", i + 1),
                queues: qs,
                queue_names,
                rank: 0.0,
                absent: false,
                activity: Activity::Out,
                token: 0,
                chain: 0,
                idle_since: 0,
                pending_break: None,
                pending_logout: false,
                outage: false,
                acw: None,
                lunch_day: i64::MIN,
                shown: (AgentState::LoggedOut, None),
                shown_at: Millis::MIN,
                flush_pending: false,
            }
        })
        .collect();
    let mut seen = vec![0usize; nq];
    for (q, &c) in queues.iter_mut().zip(&counts) {
        q.headcount = c as u32;
    }
    for ag in &mut agents {
        let q = ag.queues[0] as usize;
        ag.rank = (seen[q] as f64 + 0.5) / counts[q] as f64;
        seen[q] += 1;
    }
    if cfg.scenario == Scenario::Understaffed {
        let mut first: Vec<usize> = (0..agents.len())
            .filter(|&a| agents[a].queues[0] == 0)
            .collect();
        shuffle(&mut first, rng);
        let n = (first.len() as f64 * ABSENT_SHARE).round() as usize;
        for &a in &first[..n] {
            agents[a].absent = true;
        }
    }
    agents
}
