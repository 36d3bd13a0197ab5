//! The bridge between hyper's async bodies and the synchronous checker.
//!
//! `check_message` reads a `BufRead` on a blocking thread. The request body
//! reaches it through a bounded channel of chunks ([`ChannelReader`]): the
//! async side waits while the channel is full, so a slow check slows the
//! sender down (TCP back-pressure) and the body is never held whole. The
//! answer goes back the same way ([`ChannelWriter`] -> [`ChannelBody`]).

use super::fair::{Pace, TooSlow};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use std::io::{self, BufRead, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Chunks in flight between the socket and the checker (each one hyper frame,
/// typically up to a few tens of KiB).
pub const BODY_CHANNEL_CHUNKS: usize = 8;
/// Answer chunks in flight between the writer and the socket.
pub const ANSWER_CHANNEL_CHUNKS: usize = 8;
/// The writer sends a chunk once this many bytes are buffered.
const ANSWER_CHUNK_BYTES: usize = 32 * 1024;
/// After the checker stopped reading (a refused or finished message), this
/// much of the rest of the body is still read and discarded, so the client
/// can finish sending and read its answer; past it the connection is closed.
const DRAIN_CAP_BYTES: u64 = 4 * 1024 * 1024;

pub type Chunk = io::Result<Bytes>;

/// The blocking side of the request body: a `BufRead` over the channel.
pub struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    cur: Bytes,
    done: bool,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        Self {
            rx,
            cur: Bytes::new(),
            done: false,
        }
    }
}

/// `Read` for a reader whose buffer is its `BufRead` side.
fn read_buffered(r: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let avail = r.fill_buf()?;
    let n = avail.len().min(buf.len());
    buf[..n].copy_from_slice(&avail[..n]);
    r.consume(n);
    Ok(n)
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.cur.is_empty() && !self.done {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => self.done = true,
            }
        }
        Ok(&self.cur)
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.cur.split_to(amt.min(self.cur.len()));
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// What the next read of a request body gave.
enum Next {
    Data(Bytes),
    End,
    Failed(io::Error),
}

/// The next data frame of `body`, within what `pace` allows after `waited`
/// (time spent waiting for the client so far) and `total` bytes; a body
/// that falls behind sets `too_slow`.
async fn next_data(
    body: &mut Incoming,
    pace: &Pace,
    waited: &mut Duration,
    total: u64,
    too_slow: &TooSlow,
) -> Next {
    loop {
        let limit = pace.wait_limit(*waited, total);
        let started = Instant::now();
        let next = tokio::time::timeout(limit, body.frame()).await;
        *waited += started.elapsed();
        match next {
            Err(_) => {
                too_slow.set();
                return Next::Failed(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body too slow",
                ));
            }
            Ok(None) => return Next::End,
            Ok(Some(Err(e))) => return Next::Failed(io::Error::other(e)),
            Ok(Some(Ok(f))) => {
                if let Ok(data) = f.into_data() {
                    return Next::Data(data);
                } // trailers: nothing for the checker
            }
        }
    }
}

/// Reads `body` into `tx` until the end, an error, or the reader going away;
/// returns the bytes read. `pace`: how fast the client must send (the time
/// spent waiting for room in `tx`, our back-pressure, does not count); a
/// body that falls behind is cut off, `too_slow` set and the reader told.
pub async fn feed(
    mut body: Incoming,
    tx: mpsc::Sender<Chunk>,
    pace: Pace,
    too_slow: TooSlow,
) -> u64 {
    let mut total = 0u64;
    let mut draining = false;
    let mut drained = 0u64;
    let mut waited = Duration::ZERO;
    loop {
        let data = match next_data(&mut body, &pace, &mut waited, total, &too_slow).await {
            Next::Data(d) => d,
            Next::End => return total,
            Next::Failed(e) => {
                let _ = tx.send(Err(e)).await;
                return total;
            }
        };
        total += data.len() as u64;
        if draining {
            drained += data.len() as u64;
            if drained > DRAIN_CAP_BYTES {
                return total;
            }
        } else if tx.send(Ok(data)).await.is_err() {
            // The checker has its verdict and reads no further.
            draining = true;
        }
    }
}

/// A body announced (Content-Length) at most this long is read whole before
/// the check starts, on the request's own task: the checker's thread then
/// never waits for the socket, and a small message costs no second task and
/// no wake-ups per chunk. Larger ones stream through [`feed`].
pub const WHOLE_BODY_BYTES: u64 = 64 * 1024;

/// Reads a small body whole, under the same `pace` as [`feed`]: the
/// channel returned holds it (as one chunk, then an error if reading
/// failed) and is closed, so [`ChannelReader`] reads it without waiting.
/// Reading stops past `cap` bytes (a Content-Length that lied): the checker
/// then sees a truncated message and says so.
pub async fn collect(
    body: Incoming,
    cap: u64,
    pace: Pace,
    too_slow: TooSlow,
) -> (mpsc::Receiver<Chunk>, u64) {
    let whole = collect_whole(body, cap, pace, too_slow).await;
    let (tx, rx) = mpsc::channel(2);
    let n = whole.data.len() as u64;
    let _ = tx.try_send(Ok(whole.data));
    if let Some(e) = whole.failed {
        let _ = tx.try_send(Err(e));
    }
    (rx, n)
}

/// [`collect`], as the bytes themselves: read by a check that runs on the
/// request's own task ([`WholeBody`]).
pub async fn collect_whole(
    mut body: Incoming,
    cap: u64,
    pace: Pace,
    too_slow: TooSlow,
) -> WholeBody {
    let mut buf = BytesMut::new();
    let mut waited = Duration::ZERO;
    let failed = loop {
        match next_data(&mut body, &pace, &mut waited, buf.len() as u64, &too_slow).await {
            Next::Data(d) if (buf.len() + d.len()) as u64 <= cap => buf.extend_from_slice(&d),
            Next::Data(_) => {
                break Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body longer than its Content-Length",
                ))
            }
            Next::End => break None,
            Next::Failed(e) => break Some(e),
        }
    };
    WholeBody {
        data: buf.freeze(),
        failed,
    }
}

/// A small body read whole: its bytes, then the error reading stopped at
/// (if any), as a `BufRead` that never waits.
pub struct WholeBody {
    data: Bytes,
    failed: Option<io::Error>,
}

impl WholeBody {
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl BufRead for WholeBody {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.data.is_empty() {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
        }
        Ok(&self.data)
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.data.split_to(amt.min(self.data.len()));
    }
}

impl Read for WholeBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// The blocking side of the answer: buffers writes into chunks for the
/// response body. Fails with `BrokenPipe` once the client is gone.
pub struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buf: BytesMut,
}

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Chunk>) -> Self {
        Self {
            tx,
            buf: BytesMut::with_capacity(ANSWER_CHUNK_BYTES),
        }
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Ends the body with an error: the client sees a broken response, not a
    /// truncated one that looks whole.
    pub fn fail(self, e: io::Error) {
        let _ = self.tx.blocking_send(Err(e));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= ANSWER_CHUNK_BYTES {
            self.send_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

/// A response body fed by a [`ChannelWriter`].
pub struct ChannelBody {
    rx: mpsc::Receiver<Chunk>,
}

impl ChannelBody {
    pub fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        Self { rx }
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_joins_chunks_and_ends() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"ab"))).unwrap();
        tx.try_send(Ok(Bytes::new())).unwrap();
        tx.try_send(Ok(Bytes::from_static(b"cde"))).unwrap();
        drop(tx);
        let mut s = String::new();
        ChannelReader::new(rx).read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcde");
    }

    #[test]
    fn reader_passes_errors() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Err(io::Error::other("boom"))).unwrap();
        let mut s = String::new();
        assert!(ChannelReader::new(rx).read_to_string(&mut s).is_err());
    }

    #[test]
    fn writer_reports_a_gone_client() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut w = ChannelWriter::new(tx);
        w.write_all(b"x").unwrap();
        assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
