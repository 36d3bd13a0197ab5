//! Shared by the server memory tests: a synthetic batch streamed as a
//! `/declaraties` body while it is generated (never whole in the client's
//! memory either), and the answer read as it comes.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use zio_gateway::server::body::ChannelBody;
use zio_gateway::synth::SynthBatch;

/// Posts `batch` as the example configuration's provider 12345678 (the
/// synthetic sender); asserts 200 and returns the answer's length and its
/// last bytes.
pub async fn post(addr: SocketAddr, mut batch: SynthBatch) -> (u64, String) {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; 64 * 1024];
        let n = batch.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        buf.truncate(n);
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            break;
        }
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/declaraties")
        .header("host", "localhost")
        .header("authorization", "Bearer voorbeeld-token-12345678")
        .body(ChannelBody::new(rx))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut total = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            total += data.len() as u64;
            tail.extend_from_slice(&data);
            if tail.len() > 4096 {
                tail.drain(..tail.len() - 2048);
            }
        }
    }
    (total, String::from_utf8_lossy(&tail).into_owned())
}
