//! The wall clock, and the service's [`Clock`]: the one place the product reads the time of day.
//! The engine never does; the service shell passes `now` in, so everything below it stays
//! deterministic.

use std::time::Instant;

use crate::time::Millis;

/// Milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn wall_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// The time of day as the service sees it: the wall clock (always, in production), or a
/// compressed clock on which simulated time runs `factor` times faster than the wall clock
/// (the soak tool runs a day in a couple of hours with it).
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    #[default]
    Wall,
    /// `sim0` at the wall instant `wall0`, then `factor` simulated ms per wall ms.
    Compressed {
        wall0: Instant,
        sim0: Millis,
        factor: f64,
    },
}

impl Clock {
    /// A compressed clock reading `sim0` now.
    pub fn compressed(sim0: Millis, factor: f64) -> Clock {
        Clock::Compressed {
            wall0: Instant::now(),
            sim0,
            factor,
        }
    }

    /// Milliseconds since the Unix epoch, on this clock.
    pub fn now(&self) -> Millis {
        match *self {
            Clock::Wall => wall_now(),
            Clock::Compressed {
                wall0,
                sim0,
                factor,
            } => sim0 + (wall0.elapsed().as_secs_f64() * 1000.0 * factor) as Millis,
        }
    }

    /// Simulated milliseconds per wall millisecond (1 on the wall clock).
    pub fn factor(&self) -> f64 {
        match *self {
            Clock::Wall => 1.0,
            Clock::Compressed { factor, .. } => factor,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_wall_clock_is_the_wall_clock() {
        let before = wall_now();
        let now = Clock::default().now();
        assert!(now >= before && now - before < 1000, "{before} {now}");
        assert_eq!(Clock::Wall.factor(), 1.0);
    }

    #[test]
    fn a_compressed_clock_runs_factor_times_faster_from_its_start() {
        let sim0 = 1_700_000_000_000;
        let wall0 = Instant::now() - Duration::from_millis(1500);
        let clock = Clock::Compressed {
            wall0,
            sim0,
            factor: 60.0,
        };
        let elapsed = wall0.elapsed().as_secs_f64() * 1000.0;
        let now = clock.now();
        // 1.5 s (and a little) of wall time is 90 s (and 60 times that little) simulated
        assert!(now >= sim0 + 90_000, "{}", now - sim0);
        assert!(
            (now - sim0) as f64 <= (elapsed + 500.0) * 60.0,
            "{}",
            now - sim0
        );
        let later = clock.now();
        assert!(later >= now, "monotonic");
        assert_eq!(clock.factor(), 60.0);
        // a fresh one starts where it is told
        let fresh = Clock::compressed(sim0, 1000.0);
        assert!((fresh.now() - sim0) < 1000 * 100, "{}", fresh.now() - sim0);
    }
}
