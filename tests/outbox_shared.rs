//! The outbox shared by several gateway instances on one PostgreSQL: each
//! `PgLedger` here is one instance (its own connection). Claims are exact
//! (no row under two live leases, every row delivered once), a row is
//! concluded only under the lease that claimed it, a request's held rows
//! are left to it, and a dead instance's rows are taken over after its
//! lease. Time is passed in (`now_ms`), so the leases end when the test
//! says, not by the clock. SQLite (one process, leases in memory) shows the
//! same conclusion rule.
//!
//! Needs a PostgreSQL (see tests/ledger_support): without one the
//! PostgreSQL tests print "SKIPPED: no PostgreSQL" and return.

mod ledger_support;

use ledger_support::*;
use std::collections::BTreeMap;
use std::sync::Mutex;
use zio_gateway::model::verdict::Route;
use zio_gateway::sinks::ledger::postgres::PgLedger;
use zio_gateway::sinks::ledger::sqlite::SqliteLedger;
use zio_gateway::sinks::ledger::{ClaimScope, ForwardPlan, Lease, LedgerStore, OutboxRow};
use zio_gateway::types::{Eenheid, Period};

/// When the rows were recorded (Unix ms); every claim below is later.
const T0: i64 = 1_700_000_000_000;
const LEASE: i64 = 60_000;

fn plan(held_until_ms: i64, holder: i64) -> ForwardPlan {
    ForwardPlan {
        periode: Period::new(day("2024-03-01"), day("2024-03-31")),
        zio: true,
        regulier: true,
        now_ms: T0,
        held_until_ms,
        holder,
        hands_over: false,
    }
}

/// Records message `id` of provider 11110001 with one ZIO and one REGULIER
/// line: two outbox rows, held until `held_until_ms` under `holder`.
fn record_two_rows(store: &dyn LedgerStore, id: &str, held_until_ms: i64, holder: i64) {
    let lines = [
        zio_line(&format!("{id}Z"), "2024-03-04", 2, None),
        verdict(
            &format!("{id}R"),
            "H307",
            "2024-03-05",
            3,
            Eenheid::Uur,
            None,
            Route::Regulier,
        ),
    ];
    let mut it = lines.iter().cloned().map(Ok);
    let s = store
        .record_message_forwarding(
            &message("11110001", id),
            Some(&plan(held_until_ms, holder)),
            &mut it,
        )
        .expect("record");
    assert_eq!(s.outbox_rows, 2, "{id}");
}

fn leases(rows: &[OutboxRow]) -> Vec<Lease> {
    rows.iter().map(|r| r.lease().expect("claimed")).collect()
}

/// Who claimed each row, in which phase.
type Claims = Mutex<BTreeMap<i64, Vec<(usize, u8)>>>;

/// A live instance: claims due rows a few at a time, "delivers" them and
/// marks them under its leases, until nothing is left to claim at `now`.
fn drain(me: usize, store: &PgLedger, now: i64, phase: u8, claims: &Claims) -> u64 {
    let mut marked = 0;
    loop {
        let rows = store
            .outbox_claim(ClaimScope::Due { limit: 7 }, now, LEASE)
            .expect("claim");
        if rows.is_empty() {
            return marked;
        }
        {
            let mut c = claims.lock().unwrap();
            for r in &rows {
                c.entry(r.id).or_default().push((me, phase));
            }
        }
        let n = store
            .outbox_delivered_many(&leases(&rows), now + 1)
            .expect("mark");
        assert_eq!(
            n,
            rows.len() as u64,
            "instance {me}: a claimed row not ours"
        );
        marked += n;
    }
}

/// Many rows, four live instances claiming at once and one that claims a
/// batch and dies (stops without marking). While its lease lasts nobody
/// else touches its rows; every other row is claimed once and delivered
/// once. After the lease the live instances take the dead one's rows over,
/// each once; the dead one's late marks conclude nothing.
#[test]
fn instances_deliver_every_row_once_and_take_over_a_dead_ones_rows_pg() {
    let Some(first) = pg_ledger("outbox_n") else {
        return;
    };
    const MESSAGES: usize = 150;
    for i in 0..MESSAGES {
        record_two_rows(&first, &format!("M{i}"), T0, 0);
    }
    let total = first.outbox_rows().unwrap().len();
    assert_eq!(total, 2 * MESSAGES);

    let dead = pg_ledger_again("outbox_n");
    let live: Vec<PgLedger> = (0..4).map(|_| pg_ledger_again("outbox_n")).collect();
    let claims: Claims = Mutex::new(BTreeMap::new());

    // Phase 1: the doomed instance takes a batch and dies; the others drain
    // the rest at once.
    let now = T0 + 1_000;
    let dead_rows = dead
        .outbox_claim(ClaimScope::Due { limit: 40 }, now, LEASE)
        .expect("claim");
    let marked: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = live
            .iter()
            .enumerate()
            .map(|(me, st)| {
                let claims = &claims;
                s.spawn(move || drain(me, st, now, 1, claims))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(dead_rows.len(), 40);
    let dead_ids: Vec<i64> = dead_rows.iter().map(|r| r.id).collect();
    {
        let c = claims.lock().unwrap();
        for (id, who) in c.iter() {
            assert_eq!(
                who.len(),
                1,
                "row {id} claimed twice under live leases: {who:?}"
            );
            assert!(!dead_ids.contains(id), "row {id} taken from a live lease");
        }
        assert_eq!(c.len() + dead_ids.len(), total, "a row never claimed");
    }
    assert_eq!(marked as usize, total - dead_ids.len());
    assert_eq!(first.outbox_pending().unwrap(), dead_ids.len() as u64);

    // Phase 2: the dead instance's lease has ended; the live ones take over.
    let later = now + LEASE + 1;
    let taken: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = live
            .iter()
            .enumerate()
            .map(|(me, st)| {
                let claims = &claims;
                s.spawn(move || drain(me, st, later, 2, claims))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(taken as usize, dead_ids.len());
    {
        let c = claims.lock().unwrap();
        for id in &dead_ids {
            let who = &c[id];
            assert_eq!(who.len(), 1, "dead instance's row {id}: {who:?}");
            assert_eq!(who[0].1, 2);
        }
    }

    // The dead instance comes back and concludes what it had: nothing.
    assert_eq!(
        dead.outbox_delivered_many(&leases(&dead_rows), later + 5)
            .unwrap(),
        0
    );
    assert!(!dead
        .outbox_retry(dead_rows[0].lease().unwrap(), later + 5, "late")
        .unwrap());

    let rows = first.outbox_rows().unwrap();
    assert!(rows.iter().all(|r| r.delivered()), "a row left pending");
    // Marked once each: one attempt counted, no error left by the late retry.
    assert!(rows
        .iter()
        .all(|r| r.attempts == 1 && r.last_error.is_none()));
}

/// A row claimed again after its lease ended is concluded by the new
/// claimant only: the first one's "delivered" or "retry" comes too late.
fn a_late_conclusion_is_refused(first: &dyn LedgerStore, second: &dyn LedgerStore) {
    record_two_rows(first, "LATE1", T0, 0);
    let now = T0 + 1_000;
    let a = first
        .outbox_claim(ClaimScope::Due { limit: 1 }, now, LEASE)
        .unwrap();
    assert_eq!(a.len(), 1);
    // Within A's lease nobody else gets that row.
    let meanwhile = second
        .outbox_claim(ClaimScope::Due { limit: 10 }, now + LEASE - 1, LEASE)
        .unwrap();
    assert!(meanwhile.iter().all(|r| r.id != a[0].id));
    // A is paused past its lease; B claims the row.
    let later = now + LEASE + 1;
    let b = second
        .outbox_claim(ClaimScope::Due { limit: 10 }, later, LEASE)
        .unwrap();
    let b_row = b.iter().find(|r| r.id == a[0].id).expect("taken over");
    assert_ne!(b_row.claim, a[0].claim);
    let (la, lb) = (a[0].lease().unwrap(), b_row.lease().unwrap());
    assert!(!first.outbox_retry(la, later + 10, "A, late").unwrap());
    assert!(!first.outbox_delivered(la, later + 10).unwrap());
    assert_eq!(first.outbox_delivered_many(&[la], later + 10).unwrap(), 0);
    let row = |st: &dyn LedgerStore| -> OutboxRow {
        st.outbox_rows()
            .unwrap()
            .into_iter()
            .find(|r| r.id == la.id)
            .unwrap()
    };
    assert!(!row(first).delivered());
    assert_eq!(row(first).attempts, 0);
    assert!(second.outbox_delivered(lb, later + 20).unwrap());
    let r = row(first);
    assert!(r.delivered());
    assert_eq!((r.attempts, r.delivered_at), (1, Some(later + 20)));
    // A second mark under the same lease finds nothing pending.
    assert!(!second.outbox_delivered(lb, later + 30).unwrap());
}

#[test]
fn a_late_conclusion_is_refused_pg() {
    let Some(a) = pg_ledger("outbox_late") else {
        return;
    };
    let b = pg_ledger_again("outbox_late");
    a_late_conclusion_is_refused(&a, &b);
}

#[test]
fn a_late_conclusion_is_refused_sqlite() {
    // One process, leases in memory: "another worker" is the same ledger.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLedger::open_data_dir(dir.path()).unwrap();
    a_late_conclusion_is_refused(&store, &store);
}

/// A request holds the rows it recorded (`answer_wait_ms`): its own
/// message claim takes them; the same message's claim from another
/// instance, and every due claim, leave them alone while held. Once the
/// request claimed them, its hold token no longer reaches them either.
fn held_rows_stay_with_their_request(a: &dyn LedgerStore, b: &dyn LedgerStore) {
    const HOLDER_A: i64 = 0x0A;
    const HOLDER_B: i64 = 0x0B;
    record_two_rows(a, "HELD1", T0 + LEASE, HOLDER_A);
    let (provider, id) = (agb("11110001"), rf("HELD1"));
    let msg = |holder| ClaimScope::Message {
        agb: &provider,
        message_id: &id,
        holder,
    };
    let now = T0 + 10;
    assert!(b
        .outbox_claim(msg(HOLDER_B), now, LEASE)
        .unwrap()
        .is_empty());
    assert!(b
        .outbox_claim(ClaimScope::Due { limit: 10 }, now, LEASE)
        .unwrap()
        .is_empty());
    let mine = a.outbox_claim(msg(HOLDER_A), now, LEASE).unwrap();
    assert_eq!(mine.len(), 2);
    // Claimed now: the hold token is spent.
    assert!(a
        .outbox_claim(msg(HOLDER_A), now + 1, LEASE)
        .unwrap()
        .is_empty());
    assert!(b
        .outbox_claim(msg(HOLDER_B), now + 1, LEASE)
        .unwrap()
        .is_empty());
    // The request died: after its claim's lease another instance's request
    // for the same message (or its worker) takes them.
    let after = now + LEASE + 1;
    assert_eq!(
        b.outbox_claim(msg(HOLDER_B), after, LEASE).unwrap().len(),
        2
    );
}

#[test]
fn held_rows_stay_with_their_request_pg() {
    let Some(a) = pg_ledger("outbox_held") else {
        return;
    };
    let b = pg_ledger_again("outbox_held");
    held_rows_stay_with_their_request(&a, &b);
}

#[test]
fn held_rows_stay_with_their_request_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLedger::open_data_dir(dir.path()).unwrap();
    held_rows_stay_with_their_request(&store, &store);
}
