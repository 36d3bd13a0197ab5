//! Fair admission (issue 11, failure 1): one provider's slow bodies cannot
//! take the check slots of another, and a body that trickles in is cut off
//! with 408 and the connection closed.

mod http;

use http::*;
use hyper::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request whose body trickles in: one byte every `every`, until the
/// server answers; returns the status line and whether the server closed.
async fn trickle(addr: std::net::SocketAddr, token: &str, every: Duration) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /declaraties HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-length: 100000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        tokio::select! {
            n = s.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            _ = tokio::time::sleep(every) => {
                if s.write_all(b"<").await.is_err() {
                    // The server closed its side; read what it said.
                    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut got)).await;
                    break;
                }
            }
        }
        if Instant::now() > end {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text.lines().next().unwrap_or("").to_owned();
    let closed = text.to_ascii_lowercase().contains("connection: close") || got.is_empty();
    (status, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_bodies_of_one_provider_leave_the_others_alone() {
    let s = Server::start_with(|c| {
        c.server.max_concurrent = 16;
        c.server.max_concurrent_per_agb = 4;
        c.server.queue_timeout = Duration::from_millis(500);
        c.server.body_min_rate = 1000;
        c.server.body_rate_grace = Duration::from_millis(1500);
        c.server.body_deadline = Duration::from_secs(20);
    })
    .await;
    let addr = s.addr;
    // 70 slow bodies from B (more than every global slot).
    let slow: Vec<_> = (0..70)
        .map(|_| tokio::spawn(trickle(addr, "token-b", Duration::from_millis(200))))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A keeps its normal latency meanwhile.
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        let t = Instant::now();
        let a = declare(addr, AUTH_A, declaration(&format!("FAIR-{i}"))).await;
        worst = worst.max(t.elapsed());
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    }
    assert!(worst < Duration::from_millis(1500), "A waited {worst:?}");
    let mut timeouts = 0;
    let mut busy = 0;
    for h in slow {
        let (status, closed) = h.await.unwrap();
        if status.contains(" 408 ") {
            assert!(closed, "408 without Connection: close");
            timeouts += 1;
        } else if status.contains(" 503 ") {
            busy += 1;
        } else {
            panic!("unexpected answer to a slow body: {status}");
        }
    }
    assert_eq!(timeouts + busy, 70);
    assert!(timeouts >= 4, "{timeouts} cut off");
    assert!(busy >= 1, "the per-provider cap did not refuse");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_past_its_deadline_gets_408() {
    let s = Server::start_with(|c| {
        c.server.body_min_rate = 1; // any trickle keeps the rate
        c.server.body_rate_grace = Duration::ZERO;
        c.server.body_deadline = Duration::from_secs(1);
    })
    .await;
    let t = Instant::now();
    let (status, closed) = trickle(s.addr, "token-a", Duration::from_millis(100)).await;
    assert!(status.contains(" 408 "), "{status}");
    assert!(closed);
    assert!(t.elapsed() < Duration::from_secs(5));
    s.shutdown().await;
}
