//! The accept loop and its guards: a cap on open connections, a deadline for a connection's
//! first request head, an idle timeout between keep-alive requests, and accept errors that back
//! off.
//!
//! 300 half-open connections (headers never finished) used to exhaust the process's file
//! descriptors and stall the server. Now at most [`MAX_CONNECTIONS`] are open at once (more wait
//! in the kernel's backlog until one closes), a connection whose first request head is not
//! complete within [`HEADER_TIMEOUT`] is closed, and an accept error (`EMFILE`, …) waits before
//! the next try, doubling up to a second, instead of spinning.
//!
//! A keep-alive connection with no request in flight is closed once it has waited
//! [`IDLE_TIMEOUT`] for its next request head: [`serve`] drives connections with hyper's HTTP/1
//! builder and its `header_read_timeout`, which (hyper 1.x) runs from the moment the connection
//! waits for a head, after every answer, until that head is complete. `axum::serve` gives no
//! way to set it. A request being answered is never cut, however long: a live stream (SSE) is
//! one request whose answer never ends.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Most connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// Longest a new connection may take to send its first request head.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a keep-alive connection may wait for its next request head (the default of
/// `ServerConfig::idle_timeout`). Longer than the idle timeout of clients' own pools (Node's is
/// 5 s), so a client does not send into a connection the server is closing.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// First and longest waits after an accept error.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// A TCP listener with the guards above.
#[derive(Debug)]
pub(crate) struct GuardedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    header_timeout: Duration,
}

impl GuardedListener {
    pub(crate) fn new(inner: TcpListener, max: usize, header_timeout: Duration) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max)),
            header_timeout,
        }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let mut wait = BACKOFF.0;
        loop {
            // A free slot first: at the cap, new connections wait in the backlog.
            let Ok(slot) = self.slots.clone().acquire_owned().await else {
                std::future::pending::<()>().await;
                unreachable!("the semaphore is never closed");
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let deadline = Box::pin(tokio::time::sleep(self.header_timeout));
                    return (
                        GuardedStream {
                            inner: stream,
                            _slot: slot,
                            head: HeadWatch::default(),
                            deadline: Some(deadline),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    tracing::warn!("Accepting a connection failed ({e}); retrying in {wait:?}.");
                    drop(slot);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(BACKOFF.1);
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then accepts no more, lets every
/// request in flight finish (idle connections close at once) and returns when all are closed.
/// `idle_timeout`: see the module's comment.
pub(crate) async fn serve(
    mut listener: GuardedListener,
    app: Router,
    idle_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut make = app.into_make_service_with_connect_info::<Peer>();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok(service) = tower_service::Service::call(&mut make, Peer(addr)).await;
        let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Timeouts and peers that went away: nothing to act on.
                tracing::trace!("A connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The peer of a connection, as handlers and guards read it (`ConnectInfo<Peer>`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub(crate) SocketAddr);

impl axum::extract::connect_info::Connected<Peer> for Peer {
    fn connect_info(peer: Peer) -> Self {
        peer
    }
}

/// The peer address of `req`'s connection, when it came through [`GuardedListener`].
pub(crate) fn peer_of<B>(req: &axum::http::Request<B>) -> Option<SocketAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<Peer>>()
        .map(|info| info.0.0)
}

/// Finds the end of the first request head (`\r\n\r\n`) in what is read.
#[derive(Debug, Default)]
struct HeadWatch {
    /// How many bytes of `\r\n\r\n` the bytes read so far end with.
    matched: usize,
}

impl HeadWatch {
    /// True once `bytes` complete the head.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        const END: &[u8] = b"\r\n\r\n";
        for &b in bytes {
            self.matched = if b == END[self.matched] {
                self.matched + 1
            } else {
                usize::from(b == b'\r')
            };
            if self.matched == END.len() {
                return true;
            }
        }
        false
    }
}

/// A connection holding its slot; reads fail once the head deadline passes unmet.
#[derive(Debug)]
pub(crate) struct GuardedStream {
    inner: TcpStream,
    _slot: OwnedSemaphorePermit,
    head: HeadWatch,
    /// Until the first request head is complete.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request head did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.deadline.is_some()
            && matches!(polled, Poll::Ready(Ok(())))
            && this.head.feed(&buf.filled()[before..])
        {
            this.deadline = None;
        }
        polled
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_head_that_never_completes_is_cut_off_and_the_cap_holds_the_next_connection() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = GuardedListener::new(tcp, 1, HEADER_TIMEOUT);
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let (mut conn, _) = listener.accept().await;
        // The cap is reached: a second connection is not accepted while the first is open.
        let _waiting = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0);
        let cut = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(
            cut.kind(),
            io::ErrorKind::TimedOut,
            "(paused time ran ahead)"
        );
        assert!(
            tokio::time::timeout(Duration::from_secs(1), listener.accept())
                .await
                .is_err(),
            "at the cap"
        );
        drop(conn);
        // Its slot is free again: the waiting connection is accepted.
        let _next = listener.accept().await;
    }

    #[test]
    fn the_head_ends_at_the_first_blank_line_even_across_reads() {
        let mut w = HeadWatch::default();
        assert!(!w.feed(b"GET / HTTP/1.1\r\nHost: x\r"));
        assert!(!w.feed(b"\n\r"));
        assert!(w.feed(b"\n"));
        let mut w = HeadWatch::default();
        assert!(!w.feed(b"GET / HTTP/1.1\r\n\r\r\n"));
    }
}
