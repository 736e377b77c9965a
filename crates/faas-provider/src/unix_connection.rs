//! A Unix stream connection registered with the reactor for reading only.
//!
//! Tokio registers every [`tokio::net::UnixStream`] for readable and writable events (edge
//! triggered). On a Unix stream socket the kernel's `unix_write_space` wakes every epoll
//! waiter with `EPOLLOUT` each time the peer reads what was sent, so in a request/answer
//! exchange each call wakes the writer's reactor once more than over loopback TCP (where the
//! sender's buffer is freed by the ACK path without a wake-up per read): about four context
//! switches per call instead of one on a busy keep-alive connection.
//!
//! [`UnixConnection`] registers its socket with `EPOLLIN` only: `ep_poll_callback` drops a
//! wake-up whose flags are not in the registered mask (`if (pollflags && !(pollflags &
//! epi->event.events)) goto out`), so the peer's reads cost this side nothing. Writes go
//! straight to the non-blocking socket; only when its send buffer is full (a large body the
//! peer is slow to read) is a second registration made, for `EPOLLOUT`, on a duplicate of
//! the descriptor (epoll keys registrations by descriptor and file, so the duplicate is a
//! registration of its own), and dropped again as soon as the write went through. Errors and
//! hang-ups (`EPOLLERR`, `EPOLLHUP`) are always reported by epoll, whatever the mask.
//!
//! Everything here is safe code: [`AsyncFd`] over [`std::os::unix::net::UnixStream`] (see
//! [`register`] for the one deprecated call it rests on).

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// The most a read asks for at once; bounds the zeroing a safe read of an uninitialised
/// buffer needs.
const MAX_READ: usize = 64 * 1024;

/// A connected Unix stream socket, woken by the reactor for incoming data (and hang-ups) only.
#[derive(Debug)]
pub struct UnixConnection {
    /// The socket, registered for `EPOLLIN`.
    socket: AsyncFd<UnixStream>,
    /// A duplicate registered for `EPOLLOUT`, only while a write waits for buffer space.
    write_wait: Option<AsyncFd<UnixStream>>,
}

impl UnixConnection {
    /// Wraps a connected socket (made non-blocking here). Must be called within a Tokio
    /// runtime.
    pub fn from_std(socket: UnixStream) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(UnixConnection {
            socket: register(socket, Interest::READABLE)?,
            write_wait: None,
        })
    }

    /// Takes over a Tokio socket (accepted or connected), re-registering it for reading only.
    pub fn from_tokio(socket: tokio::net::UnixStream) -> io::Result<Self> {
        Self::from_std(socket.into_std()?)
    }

    /// Runs `write` on the socket; while the send buffer is full, waits for room through a
    /// write registration made for the purpose and dropped once `write` went through.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&UnixStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match write(self.socket.get_ref()) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                done => {
                    self.write_wait = None;
                    return Poll::Ready(done);
                }
            }
            let waiter = match &mut self.write_wait {
                Some(waiter) => waiter,
                // Registering reports the socket's current state, so room made since the
                // write above is not missed.
                waiter @ None => waiter.insert(register(
                    self.socket.get_ref().try_clone()?,
                    Interest::WRITABLE,
                )?),
            };
            let mut guard = ready!(waiter.poll_write_ready(cx))?;
            let done = match guard.try_io(|socket| write(socket.get_ref())) {
                Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => continue,
                Ok(done) => done,
                // Still full: readiness cleared, poll again.
                Err(_would_block) => continue,
            };
            self.write_wait = None;
            return Poll::Ready(done);
        }
    }
}

/// Registers `socket` with the reactor for `interest`.
///
/// Tokio 1.54 deprecated the safe `AsyncFd::with_interest` in favour of the `unsafe`
/// `register_with_interest` (tokio#8587), because a generic `AsRawFd` may hand out a
/// descriptor it does not own or change it. Its conditions hold here by construction: a
/// [`UnixStream`] owns its descriptor, keeps it open and returns the same one until it is
/// dropped, and this module never swaps it (`AsyncFd::get_mut` is not used). The workspace
/// forbids `unsafe`, so the safe form is kept for this one type.
#[allow(deprecated)]
fn register(socket: UnixStream, interest: Interest) -> io::Result<AsyncFd<UnixStream>> {
    AsyncFd::with_interest(socket, interest)
}

impl AsyncRead for UnixConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.socket.poll_read_ready(cx))?;
            let want = buf.remaining().min(MAX_READ);
            let unfilled = buf.initialize_unfilled_to(want);
            match guard.try_io(|socket| socket.get_ref().read(unfilled)) {
                Ok(Ok(read)) => {
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(err)) => return Poll::Ready(Err(err)),
                Err(_would_block) => {}
            }
        }
    }
}

impl AsyncWrite for UnixConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut socket| socket.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut socket| socket.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.socket.get_ref().shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const DEADLINE: Duration = Duration::from_secs(20);

    fn pair() -> (UnixConnection, UnixConnection) {
        let (a, b) = UnixStream::pair().unwrap();
        (
            UnixConnection::from_std(a).unwrap(),
            UnixConnection::from_std(b).unwrap(),
        )
    }

    /// `len` bytes that are not all alike, so a misplaced chunk shows.
    fn body(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ seed ^ (i >> 16) as u8)
            .collect()
    }

    /// Writes `data`, half-closes, and reads the peer's whole answer.
    async fn exchange(mut connection: UnixConnection, data: Vec<u8>) -> Vec<u8> {
        let (mut reader, mut writer) = tokio::io::split(&mut connection);
        let write = async {
            writer.write_all(&data).await.unwrap();
            writer.shutdown().await.unwrap();
        };
        let read = async {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.unwrap();
            got
        };
        tokio::join!(write, read).1
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn megabytes_cross_both_ways_at_once() {
        let (a, b) = pair();
        let (to_b, to_a) = (body(6 << 20, 1), body(5 << 20, 2));
        let both = async {
            tokio::join!(
                tokio::spawn(exchange(a, to_b.clone())),
                tokio::spawn(exchange(b, to_a.clone()))
            )
        };
        let (got_a, got_b) = tokio::time::timeout(DEADLINE, both).await.unwrap();
        assert!(got_a.unwrap() == to_a, "a did not get b's bytes in order");
        assert!(got_b.unwrap() == to_b, "b did not get a's bytes in order");
    }

    #[tokio::test]
    async fn a_slow_reader_holds_the_writer_back_without_losing_bytes() {
        let (mut a, mut b) = pair();
        let data = body(4 << 20, 3);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            // Bigger than the send buffer: the write waits for room several times.
            a.write_all(&sent).await.unwrap();
            let written = a.write_vectored(&[IoSlice::new(b"end")]).await.unwrap();
            assert_eq!(written, 3);
            a.shutdown().await.unwrap();
            a
        });
        let reader = async {
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let read = b.read(&mut chunk).await.unwrap();
                if read == 0 {
                    break got;
                }
                got.extend_from_slice(&chunk[..read]);
            }
        };
        let got = tokio::time::timeout(DEADLINE, reader).await.unwrap();
        let a = tokio::time::timeout(DEADLINE, writer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), data.len() + 3);
        assert!(got[..data.len()] == data[..] && got.ends_with(b"end"));
        // The write registration went with the last write that had to wait.
        assert!(a.write_wait.is_none());
    }

    #[tokio::test]
    async fn a_half_close_is_end_of_file_and_the_other_direction_still_works() {
        let (mut a, mut b) = pair();
        let run = async {
            a.write_all(b"question").await.unwrap();
            a.shutdown().await.unwrap();
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"question");
            // Still at end of file when read again.
            assert_eq!(b.read(&mut [0u8; 8]).await.unwrap(), 0);
            b.write_all(b"answer").await.unwrap();
            drop(b);
            let mut got = Vec::new();
            a.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"answer");
        };
        tokio::time::timeout(DEADLINE, run).await.unwrap();
    }

    #[tokio::test]
    async fn a_peer_that_closes_mid_write_fails_the_write() {
        let (mut a, mut b) = pair();
        let writer = tokio::spawn(async move { a.write_all(&body(16 << 20, 4)).await });
        let mut first = [0u8; 1024];
        b.read_exact(&mut first).await.unwrap();
        // The writer is blocked on a full buffer when the reader goes.
        drop(b);
        let result = tokio::time::timeout(DEADLINE, writer)
            .await
            .unwrap()
            .unwrap();
        let err = result.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_peer_that_closes_is_end_of_file_for_a_waiting_reader() {
        let (mut a, b) = pair();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            a.read_to_end(&mut got).await.map(|_| got)
        });
        tokio::task::yield_now().await;
        drop(b);
        let got = tokio::time::timeout(DEADLINE, reader).await.unwrap();
        assert!(got.unwrap().unwrap().is_empty());
    }
}
