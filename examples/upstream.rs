//! A recording upstream for the fault scenarios (`scripts/load-faults.sh`):
//! an HTTP/1.1 server on loopback standing in for a zorgkantoor backend.
//!
//!     cargo run --release --example upstream -- ADDR LOG [ok|hang]
//!
//! - `ok` (the default): reads each POST, appends one line
//!   `<unix ms> <path> <Identificatie>` to LOG, then answers 200. The line is
//!   written (one `write` on a file opened for appending) before the answer,
//!   so every message the gateway may count as delivered is in LOG; a
//!   duplicate shows as the same Identificatie on two lines.
//! - `hang`: accepts connections, reads whatever comes and never answers
//!   (a backend that is up but stuck). Nothing is logged.
//!
//! Stopping and starting is done from outside: kill the process (the port
//! then refuses connections) and start it again on the same ADDR with the
//! same LOG (appended to).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let Some(start) = text.find(open).map(|i| i + open.len()) else {
        return "-";
    };
    let end = text[start..].find(close).map_or(start, |i| start + i);
    &text[start..end]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: upstream ADDR LOG [ok|hang]");
        std::process::exit(2);
    }
    let (addr, log) = (args[0].clone(), args[1].clone());
    let hang = match args.get(2).map(String::as_str) {
        None | Some("ok") => false,
        Some("hang") => true,
        Some(other) => {
            eprintln!("unknown mode {other}: ok or hang");
            std::process::exit(2);
        }
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("{log}: {e}"));
    let file = Arc::new(Mutex::new(file));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .unwrap_or_else(|e| panic!("{addr}: {e}"));
        eprintln!(
            "upstream on {addr}, {}",
            if hang { "hanging" } else { "answering 200" }
        );
        while let Ok((mut sock, _)) = listener.accept().await {
            if hang {
                // Read and drop, never answer: the sender waits for its timeout.
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
                });
                continue;
            }
            let file = file.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let file = file.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await?.to_bytes();
                        let text = String::from_utf8_lossy(&body);
                        let id = between(&text, "<Identificatie>", "</Identificatie>");
                        let ms = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis());
                        let line = format!("{ms} {path} {id}\n");
                        let written = file.lock().unwrap().write_all(line.as_bytes());
                        let mut resp = Response::new(Full::new(Bytes::from_static(b"ok\n")));
                        if written.is_err() {
                            // Not recorded, so not accepted: the gateway retries.
                            *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        Ok::<_, hyper::Error>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
}
