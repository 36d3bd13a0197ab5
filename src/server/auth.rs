//! Who is calling, and may they now: bearer tokens per provider and the
//! per-provider rate limits.
//!
//! - Identity: `Authorization: Bearer <token>`; the SHA-256 of the token is
//!   compared, in constant time, with every `[[tokens]]` entry (the file holds
//!   hashes only). The match names the caller's [`Role`]: a provider with
//!   its AGB code, or the zorgkantoor. What a role may do: `access.rs`.
//! - Requests: a GCRA limiter (governor) per configured role (per AGB),
//!   `requests_per_second` with `burst`.
//! - Lines: a token bucket per configured AGB refilled at
//!   `lines_per_minute`. A message's lines are only known after its check, so
//!   they are charged then and the bucket may go into debt; while it is in
//!   debt the provider's NEXT request is refused (429, Retry-After: when the
//!   debt is paid off).
//!
//! Memory stays bounded: limiters exist only for configured AGBs, built at
//! start-up; an unknown caller never reaches them (401 first).

use crate::config::{RateLimits, Role, Token};
use crate::types::AgbCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The configured tokens, as raw SHA-256 digests.
pub struct Tokens {
    entries: Vec<(Role, [u8; 32])>,
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Equal without an early exit on the first differing byte.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

impl Tokens {
    pub fn new(tokens: &[Token]) -> Self {
        Self {
            entries: tokens
                .iter()
                .filter_map(|t| unhex(&t.sha256).map(|h| (t.role.clone(), h)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The role a bearer token speaks for. Every entry is compared (no
    /// early exit), so the time taken does not tell which one matched.
    pub fn identify(&self, token: &str) -> Option<Role> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (agb, h) in &self.entries {
            if ct_eq(&digest, h) && found.is_none() {
                found = Some(agb.clone());
            }
        }
        found
    }

    /// The roles with a token (the keys of the limiters).
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.entries.iter().map(|(a, _)| a)
    }
}

/// The token of an `Authorization: Bearer ...` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Lines a provider may still send; negative while in debt.
struct LineBucket {
    balance: f64,
    last: Instant,
}

struct ProviderLimits {
    requests: DefaultDirectRateLimiter,
    lines: Mutex<LineBucket>,
}

/// The limiters of every configured provider.
pub struct Limiter {
    per_agb: HashMap<Role, ProviderLimits>,
    /// Lines per second of refill.
    line_rate: f64,
    line_capacity: f64,
}

/// Why a request is refused, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Requests(Duration),
    Lines(Duration),
}

impl Refusal {
    pub fn retry_after(self) -> Duration {
        match self {
            Refusal::Requests(d) | Refusal::Lines(d) => d,
        }
    }

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Requests(_) => "requests",
            Refusal::Lines(_) => "lines",
        }
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

impl Limiter {
    pub fn new<'a>(agbs: impl Iterator<Item = &'a Role>, limits: &RateLimits) -> Self {
        let quota = Quota::per_second(nz(limits.requests_per_second)).allow_burst(nz(limits.burst));
        let capacity = f64::from(limits.lines_per_minute.max(1));
        let now = Instant::now();
        let per_agb = agbs
            .map(|agb| {
                (
                    agb.clone(),
                    ProviderLimits {
                        requests: RateLimiter::direct(quota),
                        lines: Mutex::new(LineBucket {
                            balance: capacity,
                            last: now,
                        }),
                    },
                )
            })
            .collect();
        Self {
            per_agb,
            line_rate: capacity / 60.0,
            line_capacity: capacity,
        }
    }

    fn refill(&self, b: &mut LineBucket) {
        let now = Instant::now();
        let dt = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        b.balance = (b.balance + dt * self.line_rate).min(self.line_capacity);
    }

    /// One request of `agb`: refused while its line budget is in debt or its
    /// request rate is exceeded (a refused request does not use a request slot
    /// when the line budget refused it).
    pub fn admit(&self, agb: &Role) -> Result<(), Refusal> {
        let Some(p) = self.per_agb.get(agb) else {
            return Ok(()); // not a configured provider: authentication refuses it
        };
        {
            let mut b = p.lines.lock().expect("line bucket");
            self.refill(&mut b);
            if b.balance < 0.0 {
                let secs = (-b.balance / self.line_rate).ceil().max(1.0);
                return Err(Refusal::Lines(Duration::from_secs_f64(secs)));
            }
        }
        p.requests.check().map_err(|not_until| {
            Refusal::Requests(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Charges `lines` checked lines to `agb` (after the check).
    pub fn charge_lines(&self, agb: &AgbCode, lines: u64) {
        if lines == 0 {
            return;
        }
        if let Some(p) = self.per_agb.get(&Role::Aanbieder(agb.clone())) {
            let mut b = p.lines.lock().expect("line bucket");
            self.refill(&mut b);
            b.balance -= lines as f64;
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agb(s: &str) -> Role {
        Role::Aanbieder(crate::types::AgbCode::parse(s).expect("agb"))
    }

    fn token(agb_s: &str, secret: &str) -> Token {
        let h = Sha256::digest(secret.as_bytes());
        Token {
            role: agb(agb_s),
            sha256: hex::encode(h),
        }
    }

    #[test]
    fn tokens_identify_their_provider() {
        let t = Tokens::new(&[token("12345678", "a-secret"), token("87654321", "b-secret")]);
        assert_eq!(t.identify("a-secret"), Some(agb("12345678")));
        assert_eq!(t.identify("b-secret"), Some(agb("87654321")));
        assert_eq!(t.identify("c-secret"), None);
        assert_eq!(t.identify(""), None);
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn requests_over_the_burst_are_refused() {
        let a = agb("12345678");
        let l = Limiter::new(
            [&a].into_iter(),
            &RateLimits {
                requests_per_second: 1,
                burst: 2,
                lines_per_minute: 1000,
            },
        );
        assert!(l.admit(&a).is_ok());
        assert!(l.admit(&a).is_ok());
        let r = l.admit(&a).unwrap_err();
        assert!(matches!(r, Refusal::Requests(_)));
        assert_eq!(retry_after_secs(r.retry_after()), 1);
    }

    #[test]
    fn line_debt_refuses_the_next_request() {
        let a = agb("12345678");
        let l = Limiter::new(
            [&a].into_iter(),
            &RateLimits {
                requests_per_second: 100,
                burst: 100,
                lines_per_minute: 60,
            },
        );
        assert!(l.admit(&a).is_ok());
        l.charge_lines(a.agb().unwrap(), 120); // 60 lines of debt: one minute
        let r = l.admit(&a).unwrap_err();
        assert!(matches!(r, Refusal::Lines(_)));
        assert!((59..=61).contains(&retry_after_secs(r.retry_after())));
    }
}
