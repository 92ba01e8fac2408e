//! The forecast KPIs of docs/metrics.md ("Forecast"): Erlang C at `now` from a rolling window's
//! arrivals and handle time and the agents serving the queue now — forecast service level,
//! forecast ASA and agents required.
//!
//! Pure arithmetic. Everything goes through the Erlang B recursion
//! `B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1))` and `C(n, a) = n·B / (n − a·(1 − B))`, never
//! through powers or factorials, so it stays exact (to rounding) and finite for loads of
//! 10,000 Erlangs and more; [`agents_required`] walks the recursion once, O(m).

use super::WindowAgg;
use crate::settings::QueueSettings;
use crate::time::Span;

/// Erlang B: the blocking probability of `n` servers offered `a` Erlangs, by the recursion.
/// `a` must be a finite number `>= 0`.
pub fn erlang_b(n: u64, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = next_b(b, k, a);
    }
    b
}

/// `B(k)` from `B(k − 1)`.
fn next_b(b: f64, k: u64, a: f64) -> f64 {
    let ab = a * b;
    ab / (k as f64 + ab)
}

/// `C(n, a)` from `B(n, a)`, for `n > a`.
fn c_from_b(n: u64, a: f64, b: f64) -> f64 {
    let n = n as f64;
    n * b / (n - a * (1.0 - b))
}

/// Whether Erlang C is defined: `a` a finite load and `n > a`.
fn stable(n: u64, a: f64) -> bool {
    a.is_finite() && a >= 0.0 && n as f64 > a
}

/// Erlang C: the probability that a contact waits, with `n` agents and `a` Erlangs; `None`
/// unless `n > a` (the queue grows without bound).
pub fn erlang_c(n: u64, a: f64) -> Option<f64> {
    stable(n, a).then(|| c_from_b(n, a, erlang_b(n, a)))
}

/// `exp(−(n − a)·T / h)`: the share of waiting contacts still waiting after `T` seconds.
/// `T = 0` waits for nothing (1); `h = 0` (every handle time 0) ends every wait at once (0).
fn still_waiting(n_minus_a: f64, t: f64, h: f64) -> f64 {
    if t <= 0.0 {
        1.0
    } else if h <= 0.0 {
        0.0
    } else {
        (-n_minus_a * t / h).exp()
    }
}

/// `1 − C·exp(−(n − a)·T / h)` from `C(n, a)`.
fn sl_from_c(c: f64, n: u64, a: f64, t: f64, h: f64) -> f64 {
    1.0 - c * still_waiting(n as f64 - a, t, h)
}

/// Forecast service level: the share answered within `t` seconds with `n` agents, `a` Erlangs
/// and mean handle time `h` seconds, `1 − C(n, a)·exp(−(n − a)·t / h)`; 0 unless `n > a`.
pub fn service_level(n: u64, a: f64, t: f64, h: f64) -> f64 {
    erlang_c(n, a).map_or(0.0, |c| sl_from_c(c, n, a, t, h))
}

/// Forecast average speed of answer (seconds), `C(n, a)·h / (n − a)`; `None` unless `n > a`.
pub fn asa(n: u64, a: f64, h: f64) -> Option<f64> {
    erlang_c(n, a).map(|c| c * h / (n as f64 - a))
}

/// How far past `a` the search for [`agents_required`] goes: `C(a + k·√a, a)` falls like a
/// Gaussian tail in `k`, so at `k = 20` (or 100 agents past a small load) it is far below the
/// 2⁻⁵³ that separates any target `<= 1` from 1 in `f64`. Never reached; a bound all the same.
fn search_limit(a: f64) -> f64 {
    a + 20.0 * a.sqrt() + 100.0
}

/// Agents required: the least integer `m > a` whose forecast service level (threshold `t`,
/// mean handle `h`) is at least `target` (0..=1). The recursion is walked once up to the
/// answer, O(m). `None` only when `a` is not a finite load `>= 0`.
pub fn agents_required(a: f64, t: f64, h: f64, target: f64) -> Option<u64> {
    if !(a.is_finite() && a >= 0.0) {
        return None;
    }
    // the least integer above a
    let mut m = a.floor() as u64 + 1;
    let mut b = erlang_b(m, a);
    let limit = search_limit(a);
    loop {
        if sl_from_c(c_from_b(m, a, b), m, a, t, h) >= target {
            return Some(m);
        }
        if m as f64 > limit {
            return None;
        }
        m += 1;
        b = next_b(b, m, a);
    }
}

/// The three forecast gauges of one queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forecast {
    /// `callcenter_forecast_service_level_ratio` (0 when `n <= a`).
    pub service_level: f64,
    /// `callcenter_forecast_asa_seconds`: `None` when `n <= a`.
    pub asa: Option<f64>,
    /// `callcenter_forecast_agents_required`.
    pub agents_required: Option<u64>,
}

/// The forecast from its inputs (docs/metrics.md): `window` is the forecast window of length `span`,
/// `serving` the agents serving the queue now in `available`, `busy` or `wrapup`. `None` while
/// the window holds no offered leg or no completed one.
pub fn forecast(
    window: &WindowAgg,
    span: Span,
    serving: i64,
    settings: &QueueSettings,
) -> Option<Forecast> {
    let offered = window.tally.offered;
    let h = window.aht()?;
    let seconds = span.as_secs_f64();
    if offered <= 0 || seconds <= 0.0 {
        return None;
    }
    // a = lambda * h, lambda = offered / seconds
    let a = offered as f64 / seconds * h;
    let n = u64::try_from(serving).unwrap_or(0);
    let t = settings.sl_threshold.as_secs_f64();
    Some(Forecast {
        service_level: service_level(n, a, t, h),
        asa: asa(n, a, h),
        agents_required: agents_required(a, t, h, settings.sl_target),
    })
}

#[cfg(test)]
mod tests;
