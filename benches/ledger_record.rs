//! Recording throughput of the SQLite ledger, against a bare INSERT loop in
//! the same run.
//!
//! `cargo bench --bench ledger_record [-- --lines N --per-message M]`
//!
//! - ledger: `LedgerStore::record_message` on a file-backed store
//!   (`DATA_DIR/gateway.db`, WAL, synchronous FULL, as the gateway opens
//!   it), one transaction per message of M accepted lines: the message row,
//!   the verdict-to-row conversion, the unique (agb, referentie) insert and
//!   the volume index.
//! - bare: the same rows, already converted, into a table with the same
//!   columns and no key or index, one prepared INSERT per row, one
//!   transaction per M rows, in a database file with the same settings.
//!
//! Prints lines/s for both and the ratio. The goal is 50,000 lines/s or more
//! for the ledger.
//!
//! With `--group K`, also the group writer's transactions: K messages per
//! `LedgerStore::record_batch`, once without savepoints (as the writer
//! records a batch) and once with a savepoint each (as it records a batch
//! holding a message sent again after its batch was rolled back), each into
//! a fresh store. Wall time is mostly the sync; compare instructions with
//! `valgrind --tool=callgrind`.

use rusqlite::{params, Connection};
use std::time::Instant;
use zio_gateway::model::declaration::Prestatie;
use zio_gateway::model::verdict::{LineVerdict, Route};
use zio_gateway::sinks::ledger::sqlite::SqliteLedger;
use zio_gateway::sinks::ledger::{unit_str, LedgerLine, LedgerStore, RecordJob, RecordedMessage};
use zio_gateway::types::{
    parse_datum, AgbCode, Brin, Bsn, DebetCredit, Eenheid, Period, ProductCode, Referentie,
    ZorgkantoorCode,
};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn messages(lines: usize, per_message: usize) -> Vec<(RecordedMessage, Vec<LineVerdict>)> {
    let d = |s: &str| parse_datum(s).unwrap();
    let bsn = Bsn::parse("123456782").unwrap();
    let brins = ["12AB", "34CD", "56EF", "78GH"].map(|b| Brin::parse(b).unwrap());
    let (h307, h308) = (
        ProductCode::parse("H307").unwrap(),
        ProductCode::parse("H308").unwrap(),
    );
    (0..lines.div_ceil(per_message))
        .map(|m| {
            let msg = RecordedMessage {
                agb: AgbCode::parse("11110001").unwrap(),
                zorgkantoor: ZorgkantoorCode::parse("5509").unwrap(),
                identificatie: Referentie::parse(&format!("BENCH-{m}")).unwrap(),
                dagtekening: d("2024-04-01"),
                received: d("2024-04-02"),
                receipt: Default::default(),
            };
            let start = m * per_message;
            let end = lines.min(start + per_message);
            let verdicts = (start..end)
                .map(|i| {
                    let day = d("2024-03-01") + chrono::Duration::days((i % 28) as i64);
                    let dagdeel = i % 3 == 0;
                    let (product, eenheid, tarief) = if dagdeel {
                        (h308.clone(), Eenheid::Dagdeel, 6120)
                    } else {
                        (h307.clone(), Eenheid::Uur, 7650)
                    };
                    LineVerdict {
                        client_index: (i / 4) as u64 + 1,
                        bsn: bsn.clone(),
                        geboortedatum: d("2012-05-01"),
                        besluitnummer: 4100001,
                        prestatie: Prestatie {
                            referentie: Referentie::parse(&format!("L{i}")).unwrap(),
                            vorig_referentie: None,
                            product: product.clone(),
                            periode: Period::new(day, day),
                            volume: 2,
                            eenheid,
                            tarief,
                            bedrag: 2 * tarief,
                            debet_credit: DebetCredit::Debet,
                            onderwijstijd: Some(true),
                            brin: Some(brins[i % 4].clone()),
                        },
                        route: Route::Zio,
                        product_code: product,
                        oorspronkelijke_product_code: None,
                        codes: Vec::new(),
                    }
                })
                .collect();
            (msg, verdicts)
        })
        .collect()
}

const BARE_TABLE: &str = "CREATE TABLE bare (
    agb TEXT, referentie TEXT, message_id TEXT, zorgkantoor TEXT, bsn TEXT, brin TEXT,
    onderwijstijd INTEGER, route TEXT, product_code TEXT, declared_code TEXT, period_from TEXT,
    period_to TEXT, year INTEGER, month INTEGER, volume INTEGER, eenheid TEXT, unit TEXT,
    base_volume INTEGER, tarief INTEGER, bedrag INTEGER, bedrag_signed INTEGER,
    debet_credit TEXT, vorig_referentie TEXT, codes TEXT)";

const BARE_INSERT: &str = "INSERT INTO bare VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
    ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)";

fn bare(dir: &std::path::Path, batches: &[(RecordedMessage, Vec<LineVerdict>)]) -> f64 {
    let rows: Vec<Vec<LedgerLine>> = batches
        .iter()
        .map(|(m, ls)| ls.iter().map(|v| LedgerLine::from_verdict(m, v)).collect())
        .collect();
    let mut c = Connection::open(dir.join("bare.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.pragma_update(None, "cache_size", -65536).unwrap();
    c.execute_batch(BARE_TABLE).unwrap();
    let t = Instant::now();
    let mut n = 0usize;
    for batch in &rows {
        let tx = c.transaction().unwrap();
        {
            let mut st = tx.prepare_cached(BARE_INSERT).unwrap();
            for l in batch {
                st.execute(params![
                    l.agb.as_str(),
                    l.referentie.as_str(),
                    l.message_id.as_str(),
                    l.zorgkantoor.as_str(),
                    l.bsn,
                    l.brin,
                    l.onderwijstijd,
                    l.route.as_str(),
                    l.product_code.as_str(),
                    l.declared_code.as_str(),
                    l.period_from.to_string(),
                    l.period_to.to_string(),
                    l.year,
                    l.month,
                    l.volume as i64,
                    l.eenheid.code(),
                    unit_str(l.unit),
                    l.base_volume,
                    l.tarief as i64,
                    l.bedrag as i64,
                    l.bedrag_signed,
                    l.debet_credit.code(),
                    l.vorig_referentie.as_ref().map(|r| r.as_str()),
                    l.codes,
                ])
                .unwrap();
                n += 1;
            }
        }
        tx.commit().unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn ledger(dir: &std::path::Path, batches: &[(RecordedMessage, Vec<LineVerdict>)]) -> f64 {
    let store = SqliteLedger::open_data_dir(&dir.join("data")).unwrap();
    let t = Instant::now();
    let mut n = 0u64;
    for (msg, lines) in batches {
        let mut it = lines.iter().cloned().map(Ok);
        let s = store.record_message(msg, &mut it).unwrap();
        assert_eq!(s.inserted as usize, lines.len());
        n += s.inserted;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    // Recording again changes nothing: the replay costs a lookup per message.
    for (msg, lines) in batches {
        let mut it = lines.iter().cloned().map(Ok);
        assert!(
            store
                .record_message(msg, &mut it)
                .unwrap()
                .already_processed
        );
    }
    rate
}

/// Lines/s through `record_batch`, `group` messages per transaction, each
/// job `alone` (a savepoint each) or not (none).
fn grouped(
    dir: &std::path::Path,
    batches: &[(RecordedMessage, Vec<LineVerdict>)],
    group: usize,
    alone: bool,
) -> f64 {
    let store = SqliteLedger::open_data_dir(dir).unwrap();
    let t = Instant::now();
    let mut n = 0u64;
    for chunk in batches.chunks(group) {
        let mut jobs: Vec<RecordJob> = chunk
            .iter()
            .map(|(msg, lines)| RecordJob {
                msg: msg.clone(),
                plan: None,
                lines: Box::new(lines.clone().into_iter().map(Ok)),
                alone,
            })
            .collect();
        for r in store.record_batch(&mut jobs, &[]).recorded {
            n += r.unwrap().inserted;
        }
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let lines = arg("--lines", if quick { 2_000 } else { 200_000 });
    let per_message = arg("--per-message", 10_000).max(1);
    let batches = messages(lines, per_message);
    let dir = tempfile::tempdir().unwrap();
    let bare_rate = bare(dir.path(), &batches);
    let ledger_rate = ledger(dir.path(), &batches);
    println!(
        "ledger_record: {lines} lines in messages of {per_message}, SQLite WAL synchronous=FULL"
    );
    println!("  ledger (record_message): {ledger_rate:>12.0} lines/s");
    println!("  bare INSERT loop:        {bare_rate:>12.0} lines/s");
    println!(
        "  ratio ledger / bare:     {:>12.2}",
        ledger_rate / bare_rate
    );
    if !quick && ledger_rate < 50_000.0 {
        println!("  below the goal of 50,000 lines/s");
    }
    let group = arg("--group", if quick { 4 } else { 0 });
    if group > 1 {
        let shared = grouped(&dir.path().join("shared"), &batches, group, false);
        let alone = grouped(&dir.path().join("alone"), &batches, group, true);
        println!("  record_batch of {group} messages, no savepoint:  {shared:>12.0} lines/s");
        println!("  record_batch of {group} messages, one each:     {alone:>12.0} lines/s");
        println!(
            "  ratio none / one each:                       {:>12.2}",
            shared / alone
        );
    }
}
