//! Keep-alive HTTP/1.1 connections to one upstream URL, each driven by the
//! send that holds it.
//!
//! hyper_util's pooled client gives every connection a task of its own: a
//! POST went from the send's task to the connection's task and its answer
//! back, two task wake-ups per forwarded message and a pool lookup by host
//! under a lock. Here the send takes an idle connection from its route's
//! pool and polls it itself while it waits for the answer, then puts it
//! back. An idle connection is polled by no one; before it is used again,
//! one poll tells whether the upstream closed it meanwhile (its keep-alive
//! timeout, or `Connection: close` on the last answer), and then it is
//! dropped for a new one.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;
use tokio::net::TcpStream;

/// Where a route's messages go: the host to connect to and the request
/// line's target, from its URL once.
pub(crate) struct Target {
    /// `host:port` to connect to, and the Host header.
    authority: String,
    host_header: hyper::header::HeaderValue,
    /// Path and query: the request target (origin form).
    path: Uri,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("upstream URL {url}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("upstream URL {url}: only http:// is forwarded to"));
        }
        let host = uri
            .host()
            .ok_or_else(|| format!("upstream URL {url}: no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        let host_header = uri
            .authority()
            .map(|a| a.as_str())
            .unwrap_or(host)
            .parse()
            .map_err(|e| format!("upstream URL {url}: {e}"))?;
        let path = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| format!("upstream URL {url}: {e}"))?;
        // A bracketed IPv6 host stays bracketed for the connect.
        let authority = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            authority,
            host_header,
            path,
        })
    }
}

/// One connection: the sender half and the connection future it needs
/// polled.
struct Conn<B: Body + 'static> {
    sender: SendRequest<B>,
    conn: Pin<Box<Connection<TokioIo<TcpStream>, B>>>,
}

/// The idle connections of one route, at most `max_idle` kept.
pub(crate) struct Pool<B: Body + 'static> {
    idle: Mutex<Vec<Conn<B>>>,
    max_idle: usize,
}

impl<B> Pool<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pub fn new(max_idle: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// POSTs `body` to `target`; the status, with the answer read whole (a
    /// small one, so the connection can be used again).
    pub async fn post(
        &self,
        target: &Target,
        content_type: &'static str,
        body: B,
        len: u64,
    ) -> Result<StatusCode, String> {
        let mut c = match self.take() {
            Some(c) => c,
            None => connect(target).await?,
        };
        let req = Request::post(target.path.clone())
            .header(hyper::header::HOST, target.host_header.clone())
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::CONTENT_LENGTH, len)
            .body(body)
            .map_err(|e| format!("request: {e}"))?;
        let Conn { sender, conn } = &mut c;
        let mut open = true;
        // The connection is polled alongside: it writes the request and
        // reads the answer; once it ends, what it had read is still given.
        let mut answer = std::pin::pin!(sender.send_request(req));
        // Once the connection has ended nothing drives the exchange on: an
        // answer not given by then never comes (the request went out on a
        // connection the upstream closed meanwhile), so that is an error
        // at once, not a wait for the attempt's timeout.
        let resp = poll_fn(|cx| {
            if open && conn.as_mut().poll(cx).is_ready() {
                open = false;
            }
            match answer.as_mut().poll(cx) {
                Poll::Pending if !open => Poll::Ready(Err(None)),
                Poll::Pending => Poll::Pending,
                Poll::Ready(r) => Poll::Ready(r.map_err(Some)),
            }
        })
        .await
        .map_err(|e| match e {
            Some(e) => format!("upstream {}: {e}", target.authority),
            None => format!(
                "upstream {}: the connection closed before the answer",
                target.authority
            ),
        })?;
        let status = resp.status();
        let mut body = std::pin::pin!(resp.into_body().collect());
        let read = poll_fn(|cx| {
            if open && conn.as_mut().poll(cx).is_ready() {
                open = false;
            }
            match body.as_mut().poll(cx) {
                Poll::Pending if !open => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
                Poll::Ready(r) => Poll::Ready(r.is_ok()),
            }
        })
        .await;
        if read && open {
            self.put(c);
        }
        Ok(status)
    }

    /// An idle connection the upstream has not closed, ready for a request.
    fn take(&self) -> Option<Conn<B>> {
        loop {
            let mut c = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if usable(&mut c) {
                return Some(c);
            }
        }
    }

    fn put(&self, c: Conn<B>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(c);
        }
    }
}

/// One poll of an idle connection (no waker kept: nothing waits on it):
/// it has ended when the upstream closed it; else it must take a request
/// now.
fn usable<B>(c: &mut Conn<B>) -> bool
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if c.conn.as_mut().poll(&mut cx).is_ready() {
        return false;
    }
    matches!(c.sender.poll_ready(&mut cx), Poll::Ready(Ok(())))
}

async fn connect<B>(target: &Target) -> Result<Conn<B>, String>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("upstream {}: connect: {e}", target.authority))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("upstream {}: {e}", target.authority))?;
    Ok(Conn {
        sender,
        conn: Box::pin(conn),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// An upstream on a thread: answers every POST with `status`, and
    /// closes after each answer when `close`. Counts connections and
    /// requests, and keeps each request's target and Host.
    struct Upstream {
        url: String,
        connections: Arc<AtomicUsize>,
        seen: Arc<Mutex<Vec<(String, String)>>>,
    }

    fn upstream(status: &'static str, close: bool) -> Upstream {
        upstream_closing(status, close, false)
    }

    /// `silently`: closes after each answer without saying so (as an idle
    /// keep-alive connection ends at the upstream's timeout).
    fn upstream_closing(status: &'static str, close: bool, silently: bool) -> Upstream {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/zk/in?x=1", l.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (n, s) = (connections.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in l.incoming() {
                let stream = stream.unwrap();
                n.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                std::thread::spawn(move || serve(stream, status, close, silently, &s));
            }
        });
        Upstream {
            url,
            connections,
            seen,
        }
    }

    fn serve(
        stream: std::net::TcpStream,
        status: &str,
        close: bool,
        silently: bool,
        seen: &Mutex<Vec<(String, String)>>,
    ) {
        let mut out = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let target = line.split(' ').nth(1).unwrap_or("").to_owned();
            let (mut len, mut host) = (0usize, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h == "\r\n" {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "host" => host = v.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            seen.lock().unwrap().push((target, host));
            let conn = if close { "Connection: close\r\n" } else { "" };
            write!(
                out,
                "HTTP/1.1 {status}\r\nContent-Length: 3\r\n{conn}\r\nok\n"
            )
            .unwrap();
            if close || silently {
                return;
            }
        }
    }

    fn post_n(up: &Upstream, n: usize) -> Vec<StatusCode> {
        post_n_apart(up, n, std::time::Duration::ZERO)
    }

    /// `n` POSTs one after another, `apart` between them.
    fn post_n_apart(up: &Upstream, n: usize, apart: std::time::Duration) -> Vec<StatusCode> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let target = Target::parse(&up.url).unwrap();
        let pool = Pool::<Full<Bytes>>::new(4);
        rt.block_on(async {
            let mut out = Vec::new();
            for i in 0..n {
                tokio::time::sleep(if i == 0 { Default::default() } else { apart }).await;
                let body = Full::new(Bytes::from(format!("<m>{i}</m>")));
                let len = format!("<m>{i}</m>").len() as u64;
                // Bounded: a connection used after the upstream dropped it
                // must fail the test, not hang it.
                let sent = pool.post(&target, "application/xml", body, len);
                let answered = tokio::time::timeout(std::time::Duration::from_secs(5), sent);
                out.push(answered.await.expect("an answer within 5 s").unwrap());
            }
            out
        })
    }

    #[test]
    fn a_kept_alive_connection_carries_every_post() {
        let up = upstream("200 OK", false);
        assert_eq!(post_n(&up, 5), vec![StatusCode::OK; 5]);
        assert_eq!(up.connections.load(Ordering::SeqCst), 1);
        let seen = up.seen.lock().unwrap();
        let host = up
            .url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap();
        assert_eq!(seen.len(), 5);
        assert!(
            seen.iter().all(|(t, h)| t == "/zk/in?x=1" && h == host),
            "{seen:?}"
        );
    }

    /// `n` POSTs `apart_ms` apart to `up` each get `status`, over
    /// `connections` connections in all.
    fn answered(up: Upstream, n: usize, apart_ms: u64, status: StatusCode, connections: usize) {
        let apart = std::time::Duration::from_millis(apart_ms);
        assert_eq!(post_n_apart(&up, n, apart), vec![status; n]);
        assert_eq!(up.connections.load(Ordering::SeqCst), connections);
    }

    #[test]
    fn a_connection_the_upstream_closed_is_not_used_again() {
        answered(upstream("200 OK", true), 4, 0, StatusCode::OK, 4);
    }

    #[test]
    fn an_idle_connection_the_upstream_dropped_is_replaced_not_failed() {
        answered(
            upstream_closing("200 OK", false, true),
            3,
            50,
            StatusCode::OK,
            3,
        );
    }

    #[test]
    fn a_refusal_comes_back_as_its_status() {
        let up = upstream("503 Service Unavailable", false);
        answered(up, 2, 0, StatusCode::SERVICE_UNAVAILABLE, 1);
    }

    #[test]
    fn a_closed_port_is_an_error_not_a_hang() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        drop(l);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = Pool::<Full<Bytes>>::new(1);
        let r = rt.block_on(pool.post(
            &Target::parse(&url).unwrap(),
            "application/xml",
            Full::new(Bytes::from_static(b"x")),
            1,
        ));
        assert!(r.unwrap_err().contains("connect"));
    }

    #[test]
    fn only_plain_http_urls_are_targets() {
        assert!(Target::parse("https://zk.example/in").is_err());
        assert!(Target::parse("not a url").is_err());
        let t = Target::parse("http://zk.example/in").unwrap();
        assert_eq!(t.authority, "zk.example:80");
        assert_eq!(t.path, "/in");
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(t.authority, "[::1]:8080");
        assert_eq!(t.path, "/");
    }
}
