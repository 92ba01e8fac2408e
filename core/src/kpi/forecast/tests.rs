//! Erlang C against published tables, exact rational values and its own definition.

use super::*;
use crate::kpi::FactKind;

/// docs/metrics.md's definition, literally (powers and factorials): fine for small `n`.
fn erlang_c_by_definition(n: u64, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..n {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let top = term * n as f64 / (n as f64 - a);
    top / (sum + top)
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol
}

/// The classic a = 10 Erlangs example: the a = 10 row of the usual Erlang C tables gives the
/// probability of waiting for N = 11..15 agents as 0.6821, 0.4494, 0.2853, 0.1741, 0.1020
/// (checked to the digits printed: half a unit of the last one). It is Call Centre Helper's
/// worked example ("Erlang C Formula – Made Simple With an Easy Worked Example",
/// callcentrehelper.com: 100 calls per half hour, AHT 180 s, 80 % answered within 20 s), which
/// concludes that 14 agents are needed. The exact values (Python `fractions`, the definition's
/// sums in integers) are checked to 1e-12: C, SL = 1 − C·e^(−(N − 10)·20/180) and, for 14
/// agents, ASA = C·180/4 = 7.835937011777243 s.
#[test]
fn the_classic_ten_erlang_example() {
    // (N, table, exact C, exact SL)
    let rows = [
        (11, 0.6821, 0.682_118_204_689_332_4, 0.389_613_811_729_153_3),
        (
            12,
            0.4494,
            0.449_388_224_298_270_86,
            0.640_158_040_374_006_6,
        ),
        (
            13,
            0.2853,
            0.285_270_453_036_492_95,
            0.795_594_788_417_783_1,
        ),
        (
            14,
            0.1741,
            0.174_131_933_595_049_83,
            0.888_350_019_179_466_9,
        ),
        (
            15,
            0.1020,
            0.102_042_367_007_988_01,
            0.941_452_842_869_022_3,
        ),
    ];
    for (n, table, exact, sl) in rows {
        let c = erlang_c(n, 10.0).unwrap();
        assert!(close(c, table, 0.5e-4), "C({n}, 10) = {c}, table {table}");
        assert!(close(c, exact, 1e-12), "C({n}, 10) = {c}, exact {exact}");
        let s = service_level(n, 10.0, 20.0, 180.0);
        assert!(close(s, sl, 1e-12), "SL({n}) = {s}, exact {sl}");
    }
    assert!(close(
        asa(14, 10.0, 180.0).unwrap(),
        7.835_937_011_777_243,
        1e-12
    ));
    assert_eq!(agents_required(10.0, 20.0, 180.0, 0.80), Some(14));
}

/// The example of Mike Hanley's "The Erlang-C formula" page (mitan.co.uk): 360 calls per half
/// hour of 240 s (a = 48 Erlangs), 55 agents, 15 s target. Exact values (Python `fractions`):
/// C = 0.2387009363780092, SL = 0.8458830921705803, ASA = 8.184032104388887 s; 54 agents
/// give SL 0.7929, so 55 are required for 80 %.
#[test]
fn the_forty_eight_erlang_example() {
    let c = erlang_c(55, 48.0).unwrap();
    assert!(close(c, 0.238_700_936_378_009_2, 1e-12), "{c}");
    let s = service_level(55, 48.0, 15.0, 240.0);
    assert!(close(s, 0.845_883_092_170_580_3, 1e-12), "{s}");
    let w = asa(55, 48.0, 240.0).unwrap();
    assert!(close(w, 8.184_032_104_388_887, 1e-10), "{w}");
    assert_eq!(agents_required(48.0, 15.0, 240.0, 0.80), Some(55));
    assert!(service_level(54, 48.0, 15.0, 240.0) < 0.80);
}

#[test]
fn the_recursion_equals_the_definition() {
    for a in [0.3, 1.0, 2.5, 7.9, 10.0, 33.3, 60.0] {
        for n in (a as u64 + 1)..(a as u64 + 25) {
            let got = erlang_c(n, a).unwrap();
            let want = erlang_c_by_definition(n, a);
            assert!(
                close(got, want, 1e-12),
                "C({n}, {a}) = {got}, by definition {want}"
            );
        }
    }
    // Erlang B: B(1, a) = a / (1 + a); B(2, 2) = 2/5
    assert!(close(erlang_b(1, 3.0), 0.75, 1e-15));
    assert!(close(erlang_b(2, 2.0), 0.4, 1e-15));
}

/// 10,000 Erlangs: finite, and the exact rational values (Python `fractions`, 10,100-term
/// integer sums): C(10100, 10000) = 0.22476290646653221, C(10050, 10000) = 0.505689091108157;
/// with T = 20 s and h = 180 s, SL(10012) = 0.7738242477453362, SL(10013) = 0.800232069057641,
/// so 10,013 agents are required for 80 %.
#[test]
fn ten_thousand_erlangs_stay_exact_and_finite() {
    let a = 10_000.0;
    let c = erlang_c(10_100, a).unwrap();
    assert!(close(c, 0.224_762_906_466_532_21, 1e-9), "{c}");
    let c = erlang_c(10_050, a).unwrap();
    assert!(close(c, 0.505_689_091_108_157, 1e-9), "{c}");
    let s = service_level(10_012, a, 20.0, 180.0);
    assert!(close(s, 0.773_824_247_745_336_2, 1e-9), "{s}");
    let s = service_level(10_013, a, 20.0, 180.0);
    assert!(close(s, 0.800_232_069_057_641, 1e-9), "{s}");
    assert_eq!(agents_required(a, 20.0, 180.0, 0.80), Some(10_013));
    let w = asa(10_001, a, 180.0).unwrap();
    assert!(w.is_finite() && w > 0.0, "{w}");
    // far larger loads are still finite
    for a in [1e5, 1e6] {
        let c = erlang_c(a as u64 + 1, a).unwrap();
        assert!(c.is_finite() && c > 0.0 && c <= 1.0, "{c}");
        let m = agents_required(a, 20.0, 180.0, 0.95).unwrap();
        assert!(m as f64 > a && service_level(m, a, 20.0, 180.0) >= 0.95);
    }
}

#[test]
fn no_forecast_without_more_agents_than_erlangs() {
    // n <= a: SL 0, no ASA
    assert_eq!(erlang_c(10, 10.0), None);
    assert_eq!(erlang_c(9, 10.0), None);
    assert_eq!(service_level(10, 10.0, 20.0, 180.0), 0.0);
    assert_eq!(service_level(0, 0.5, 20.0, 180.0), 0.0);
    assert_eq!(asa(10, 10.0, 180.0), None);
    // the least integer strictly above an integral load
    assert!(agents_required(10.0, 20.0, 180.0, 0.0) == Some(11));
    assert!(agents_required(9.5, 20.0, 180.0, 0.0) == Some(10));
    assert_eq!(agents_required(f64::NAN, 20.0, 180.0, 0.8), None);
    assert_eq!(agents_required(f64::INFINITY, 20.0, 180.0, 0.8), None);
}

#[test]
fn a_load_of_zero() {
    // no load: nobody waits, with one agent or more
    assert_eq!(erlang_b(0, 0.0), 1.0);
    assert_eq!(erlang_b(3, 0.0), 0.0);
    assert_eq!(erlang_c(1, 0.0), Some(0.0));
    assert_eq!(service_level(1, 0.0, 20.0, 0.0), 1.0);
    assert_eq!(asa(1, 0.0, 0.0), Some(0.0));
    assert_eq!(agents_required(0.0, 20.0, 0.0, 1.0), Some(1));
    // ... but no agent serves no one
    assert_eq!(erlang_c(0, 0.0), None);
    assert_eq!(service_level(0, 0.0, 20.0, 0.0), 0.0);
}

#[test]
fn targets_at_the_edges() {
    // a target of 1 is reached where C·e^(−(m − a)T/h) rounds away, well inside the bound
    let m = agents_required(10.0, 20.0, 180.0, 1.0).unwrap();
    assert!(m > 14 && (m as f64) < search_limit(10.0), "{m}");
    assert_eq!(service_level(m, 10.0, 20.0, 180.0), 1.0);
    // threshold 0: SL is the share not waiting at all, 1 − C
    assert!(close(
        service_level(14, 10.0, 0.0, 180.0),
        1.0 - 0.174_131_933_595_049_83,
        1e-12
    ));
    // agents required is the least: one fewer misses the target, for many loads and targets
    for a in [0.01, 0.7, 3.0, 12.34, 99.9, 480.0] {
        for target in [0.5, 0.8, 0.9, 0.99] {
            let m = agents_required(a, 20.0, 240.0, target).unwrap();
            assert!(service_level(m, a, 20.0, 240.0) >= target);
            assert!(service_level(m - 1, a, 20.0, 240.0) < target);
        }
    }
}

#[test]
fn the_inputs_come_from_the_window_and_the_agents() {
    let settings = QueueSettings::default(); // 20 s threshold, 0.80 target
    let mut w = WindowAgg::default();
    let span = Span::from_secs(900);
    assert_eq!(forecast(&w, span, 14, &settings), None);
    // 50 offered in 15 minutes, nothing completed yet: no h, no forecast
    for _ in 0..50 {
        w.apply(&FactKind::Offered, 1);
    }
    assert_eq!(forecast(&w, span, 14, &settings), None);
    // completed: 180 s and 144 s (AHT 162 s) -> a = 50 / 900 * 162 = 9 Erlangs
    for talk in [180_000, 144_000] {
        w.apply(
            &FactKind::Completed {
                talk,
                hold: 0,
                wrapup: 0,
            },
            1,
        );
    }
    let f = forecast(&w, span, 12, &settings).unwrap();
    let c = erlang_c_by_definition(12, 9.0);
    assert!(close(
        f.service_level,
        1.0 - c * (-3.0 * 20.0 / 162.0_f64).exp(),
        1e-12
    ));
    assert!(close(f.asa.unwrap(), c * 162.0 / 3.0, 1e-12));
    assert_eq!(f.agents_required, agents_required(9.0, 20.0, 162.0, 0.80));
    // nine agents for nine Erlangs: SL 0, no ASA, still a number of agents required
    let f = forecast(&w, span, 9, &settings).unwrap();
    assert_eq!((f.service_level, f.asa), (0.0, None));
    assert!(f.agents_required.is_some_and(|m| m > 9));
    // offers gone from the window (only completions left): no lambda, no forecast
    let mut only_completed = WindowAgg::default();
    only_completed.apply(
        &FactKind::Completed {
            talk: 1000,
            hold: 0,
            wrapup: 0,
        },
        1,
    );
    assert_eq!(forecast(&only_completed, span, 3, &settings), None);
}
