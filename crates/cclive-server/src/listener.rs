//! The accept loop's guards: a cap on open connections, a deadline for a connection's first
//! request head, and accept errors that back off.
//!
//! 300 half-open connections (headers never finished) used to exhaust the process's file
//! descriptors and stall the server. Now at most [`MAX_CONNECTIONS`] are open at once (more wait
//! in the kernel's backlog until one closes), a connection whose first request head is not
//! complete within [`HEADER_TIMEOUT`] is closed, and an accept error (`EMFILE`, …) waits before
//! the next try, doubling up to a second, instead of spinning. Known limit: an idle keep-alive
//! connection after its first request is not timed out here (it holds one slot of the cap).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Most connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// Longest a new connection may take to send its first request head.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
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

/// The peer of a connection, as handlers and guards read it (`ConnectInfo<Peer>`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub(crate) SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener>) -> Self {
        Peer(*stream.remote_addr())
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
    use axum::serve::Listener as _;
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
