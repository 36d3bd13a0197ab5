//! A route's gate: after [`FAILURES_TO_CLOSE`] attempts in a row failed, the
//! upstream is taken to be down and the worker stops sending to it, except
//! one probe now and then (the interval doubling from `retry_initial_ms` up
//! to [`PROBE_MAX`]); the first success opens the gate again.
//!
//! Without it every row was attempted on its own backoff during an outage:
//! at full load about six attempts per row in 20 s, some 50,000 a second,
//! each a connect, a log line and a retry written, and the answers' p99
//! rose 2.6x (`scripts/load-faults.sh`). A row met while the gate is closed
//! is parked in the worker's memory (a bounded number; past that it is left
//! to its lease, and the store hands it out again once the lease ends): not
//! sent, not written, and sent as soon as the gate opens.

use prometheus::IntGauge;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts in a row after which a route is taken to be down.
pub const FAILURES_TO_CLOSE: u32 = 8;

/// The longest wait between two probes of a closed route.
pub const PROBE_MAX: Duration = Duration::from_secs(5);

/// What the gate lets a row do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Send,
    /// Send it: the probe of a closed route.
    Probe,
    /// Leave it to its lease.
    Hold,
}

#[derive(Debug)]
struct State {
    failures: u32,
    closed: bool,
    probing: bool,
    /// When the probe in flight was let through.
    probe_since: Instant,
    next_probe: Instant,
    interval: Duration,
}

/// One route's gate.
#[derive(Debug)]
pub struct Gate {
    route: &'static str,
    initial: Duration,
    max: Duration,
    /// A probe not heard of for this long is taken to be lost (its attempt
    /// ends within the upstream timeout), so another may go.
    probe_lost: Duration,
    state: Mutex<State>,
    /// Set to 1 while closed (`zio_gateway_upstream_down`).
    down: Option<IntGauge>,
}

impl Gate {
    /// `initial`: the first probe interval (the upstreams' `retry_initial_ms`);
    /// `timeout`: the longest an attempt takes.
    pub fn new(route: &'static str, initial: Duration, timeout: Duration) -> Self {
        let initial = initial.clamp(Duration::from_millis(1), PROBE_MAX);
        Self {
            route,
            initial,
            max: PROBE_MAX,
            probe_lost: timeout.saturating_mul(2),
            state: Mutex::new(State {
                failures: 0,
                closed: false,
                probing: false,
                probe_since: Instant::now(),
                next_probe: Instant::now(),
                interval: initial,
            }),
            down: None,
        }
    }

    /// Shows the gate's state on `gauge`: 1 while closed, else 0.
    pub fn reporting_to(mut self, gauge: IntGauge) -> Self {
        gauge.set(i64::from(self.is_closed()));
        self.down = Some(gauge);
        self
    }

    fn report(&self, closed: bool) {
        if let Some(g) = &self.down {
            g.set(i64::from(closed));
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a row may be sent now.
    pub fn admit(&self, now: Instant) -> Admit {
        let mut s = self.state();
        if !s.closed {
            return Admit::Send;
        }
        if self.probe_due_in(&s, now) {
            s.probing = true;
            s.probe_since = now;
            return Admit::Probe;
        }
        Admit::Hold
    }

    /// Whether `admit` would let a probe through now: the route is closed
    /// and its next probe is due.
    pub fn probe_due(&self, now: Instant) -> bool {
        self.probe_due_in(&self.state(), now)
    }

    fn probe_due_in(&self, s: &State, now: Instant) -> bool {
        let lost = s.probing && now >= s.probe_since + self.probe_lost;
        s.closed && (!s.probing || lost) && now >= s.next_probe
    }

    /// Counts the outcome of an attempt `admit` allowed; `true` when it
    /// opened the gate again.
    pub fn record(&self, admitted: Admit, ok: bool, now: Instant) -> bool {
        let mut s = self.state();
        if ok {
            let reopened = s.closed;
            if reopened {
                tracing::info!(route = self.route, "upstream answers again: sending");
                self.report(false);
            }
            s.failures = 0;
            s.closed = false;
            s.probing = false;
            s.interval = self.initial;
            return reopened;
        }
        s.failures = s.failures.saturating_add(1);
        if admitted == Admit::Probe {
            s.probing = false;
            s.interval = (s.interval * 2).min(self.max);
            s.next_probe = now + s.interval;
        } else if !s.closed && s.failures >= FAILURES_TO_CLOSE {
            tracing::warn!(
                route = self.route,
                failures = s.failures,
                probe_ms = s.interval.as_millis() as u64,
                "upstream down: rows wait in the outbox, one probe at a time"
            );
            s.closed = true;
            s.probing = false;
            s.next_probe = now + s.interval;
            self.report(true);
        }
        false
    }

    /// Whether the route is taken to be down.
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn failures_below_the_threshold_and_successes_keep_it_open() {
        let g = Gate::new("ZIO", 100 * MS, 1000 * MS);
        let t = Instant::now();
        for _ in 0..FAILURES_TO_CLOSE - 1 {
            assert_eq!(g.admit(t), Admit::Send);
            g.record(Admit::Send, false, t);
        }
        g.record(Admit::Send, true, t);
        for _ in 0..FAILURES_TO_CLOSE - 1 {
            g.record(Admit::Send, false, t);
        }
        assert!(!g.is_closed());
        assert_eq!(g.admit(t), Admit::Send);
    }

    /// A gate with a first probe interval of `initial`, closed at `t` by
    /// as many failures as it takes.
    fn closed(initial: Duration, t: Instant) -> Gate {
        let g = Gate::new("ZIO", initial, 1000 * MS);
        for _ in 0..FAILURES_TO_CLOSE {
            g.record(Admit::Send, false, t);
        }
        assert!(g.is_closed());
        g
    }

    #[test]
    fn a_closed_route_holds_rows_and_lets_one_probe_through_per_interval() {
        let t = Instant::now();
        let g = closed(100 * MS, t);
        assert_eq!(g.admit(t), Admit::Hold);
        assert_eq!(g.admit(t + 99 * MS), Admit::Hold);
        assert_eq!(g.admit(t + 100 * MS), Admit::Probe);
        // One probe at a time.
        assert_eq!(g.admit(t + 150 * MS), Admit::Hold);
        // A failed probe doubles the interval.
        let t2 = t + 200 * MS;
        g.record(Admit::Probe, false, t2);
        assert_eq!(g.admit(t2 + 199 * MS), Admit::Hold);
        assert_eq!(g.admit(t2 + 200 * MS), Admit::Probe);
        // A successful probe opens the gate.
        assert!(g.record(Admit::Probe, true, t2 + 210 * MS));
        assert!(!g.is_closed());
        assert_eq!(g.admit(t2 + 210 * MS), Admit::Send);
    }

    #[test]
    fn a_probe_never_heard_of_again_does_not_close_the_route_for_good() {
        let t = Instant::now();
        let g = closed(100 * MS, t);
        assert_eq!(g.admit(t + 100 * MS), Admit::Probe);
        assert_eq!(g.admit(t + 2099 * MS), Admit::Hold);
        assert_eq!(g.admit(t + 2100 * MS), Admit::Probe);
    }

    #[test]
    fn the_gauge_shows_a_route_down_while_the_gate_is_closed() {
        let t = Instant::now();
        let gauge = IntGauge::new("down", "test").unwrap();
        gauge.set(7);
        let g = Gate::new("ZIO", 100 * MS, 1000 * MS).reporting_to(gauge.clone());
        assert_eq!(gauge.get(), 0);
        for _ in 0..FAILURES_TO_CLOSE - 1 {
            g.record(Admit::Send, false, t);
        }
        assert_eq!(gauge.get(), 0);
        g.record(Admit::Send, false, t);
        assert_eq!(gauge.get(), 1);
        assert_eq!(g.admit(t + 100 * MS), Admit::Probe);
        g.record(Admit::Probe, false, t + 100 * MS);
        assert_eq!(gauge.get(), 1);
        assert_eq!(g.admit(t + 300 * MS), Admit::Probe);
        g.record(Admit::Probe, true, t + 300 * MS);
        assert_eq!(gauge.get(), 0);
    }

    #[test]
    fn probes_are_at_most_probe_max_apart() {
        let t = Instant::now();
        let g = closed(3 * PROBE_MAX, t);
        let mut now = t + PROBE_MAX;
        for _ in 0..10 {
            assert_eq!(g.admit(now), Admit::Probe);
            g.record(Admit::Probe, false, now);
            now += PROBE_MAX;
        }
        assert_eq!(g.admit(now - MS), Admit::Hold);
    }
}
