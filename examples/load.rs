//! Load generator for `zio-gateway serve`: posts 3-line Declaratieberichten
//! (each with its own message id and references, so none is a replay) over
//! keep-alive connections and reports messages per second and p50/p99
//! latency. With `--baseline` it first starts a bare HTTP upstream on
//! loopback (answers 200 to every POST after reading the body) and measures
//! that too, in the same run, so the figures can be read as a ratio.
//!
//!     cargo run --release --example load -- --url http://127.0.0.1:8080/declaraties \
//!         --token voorbeeld-token-12345678 --connections 8 --requests 4000 --baseline
//!
//! Loopback only; the number of requests is bounded.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

struct Args {
    url: String,
    token: String,
    connections: usize,
    requests: u64,
    baseline: bool,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080/declaraties".into(),
        token: "voorbeeld-token-12345678".into(),
        connections: 8,
        requests: 4000,
        baseline: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--url" => a.url = it.next().expect("--url URL"),
            "--token" => a.token = it.next().expect("--token T"),
            "--connections" => {
                a.connections = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--connections N")
            }
            "--requests" => {
                a.requests = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--requests N")
            }
            "--baseline" => a.baseline = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// A 3-line message, unique per `n` (and per run, through `run`).
fn message(run: u64, n: u64) -> String {
    let id = format!("L{run:x}-{n}");
    let bsn = zio_gateway::synth::bsn(500_000 + n);
    let line = |i: u32, code: &str, extra: &str| {
        format!(
            "<Prestatie><ReferentieNummer>{id}-{i}</ReferentieNummer><ProductCode>{code}</ProductCode>\
<Begindatum>2024-03-0{i}</Begindatum><Einddatum>2024-03-0{i}</Einddatum><GeleverdVolume>2</GeleverdVolume>\
<Eenheid>04</Eenheid><ProductTarief>7650</ProductTarief><Bedrag>15300</Bedrag><DebetCredit>D</DebetCredit>{extra}</Prestatie>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\"><Header>\
<BerichtIdentificatie><Identificatie>{id}</Identificatie><Dagtekening>2024-04-02</Dagtekening></BerichtIdentificatie>\
<Afzender>12345678</Afzender><Ontvanger>5509</Ontvanger><Declaratieperiode><Begindatum>2024-03-01</Begindatum>\
<Einddatum>2024-03-31</Einddatum></Declaratieperiode></Header><Clienten><Client><Bsn>{bsn}</Bsn>\
<Geboortedatum>2012-05-01</Geboortedatum><Besluitnummer>1</Besluitnummer><Prestaties>{}{}{}</Prestaties></Client></Clienten>\
<Totalen><AantalPrestaties>3</AantalPrestaties><TotaalDebet>45900</TotaalDebet><TotaalCredit>0</TotaalCredit></Totalen></Declaratiebericht>",
        line(1, "H307", "<Onderwijstijd>true</Onderwijstijd><Brin>12AB</Brin>"),
        line(2, "H307", "<Onderwijstijd>true</Onderwijstijd><Brin>12AB</Brin>"),
        line(3, "H300", ""),
    )
}

struct Report {
    messages_per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn run_load(url: &str, token: &str, connections: usize, requests: u64) -> Report {
    let uri: hyper::Uri = url.parse().expect("URL");
    let addr: SocketAddr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap_or(80))
        .parse()
        .expect("loopback address");
    assert!(addr.ip().is_loopback(), "load is for loopback only");
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        & 0xffff_ffff;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, errors, uri, token) =
            (next.clone(), errors.clone(), uri.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let req = Request::post(uri.clone())
                    .header("host", "127.0.0.1")
                    .header("content-type", "application/xml")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Full::new(Bytes::from(message(run, n))))
                    .unwrap();
                let t = Instant::now();
                match sender.send_request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                        if !ok || body.is_err() {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Report {
        messages_per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// The baseline: an HTTP/1.1 server that reads the body and answers 200.
async fn bare_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            stream.set_nodelay(true).ok();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn print(label: &str, r: &Report) {
    println!(
        "{label:<9} {:>9.0} msg/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {}",
        r.messages_per_second,
        r.p50.as_secs_f64() * 1e3,
        r.p99.as_secs_f64() * 1e3,
        r.errors
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    let base = if a.baseline {
        let addr = bare_upstream().await;
        let r = run_load(
            &format!("http://{addr}/"),
            &a.token,
            a.connections,
            a.requests,
        )
        .await;
        print("baseline", &r);
        Some(r)
    } else {
        None
    };
    let g = run_load(&a.url, &a.token, a.connections, a.requests).await;
    print("gateway", &g);
    if let Some(b) = base {
        println!(
            "ratio     throughput {:.2}x of baseline, p50 {:.1}x, p99 {:.1}x",
            g.messages_per_second / b.messages_per_second,
            g.p50.as_secs_f64() / b.p50.as_secs_f64().max(1e-9),
            g.p99.as_secs_f64() / b.p99.as_secs_f64().max(1e-9)
        );
    }
}
