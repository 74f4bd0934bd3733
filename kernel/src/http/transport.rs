//! The byte stream under the HTTP loop: plain TCP today, TLS (rustls over the same socket)
//! from the `acme` feature. The connection loop is generic over this trait so both share one
//! parser, one set of limits and one set of tests.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::upgrade::{Inbound, Outbound};

/// A bidirectional stream whose blocking reads and writes can be bounded in time.
///
/// Timeouts are set before every read (deadline-based, see `conn`), so implementations must
/// make `set_read_timeout` cheap; on `may` sockets it is an atomic store.
pub trait Transport: Read + Write + Send {
    /// Bounds each following blocking read (`None`: wait forever); a read past it fails with
    /// `WouldBlock` or `TimedOut`.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Bounds each following blocking write (`None`: wait forever).
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Whether a read would find data without waiting. The connection loop asks this every
    /// few requests to tell a client that pipelines without pause (and so never lets its
    /// coroutine wait) from one that waits for each answer. `true` when unknown.
    fn input_ready(&self) -> bool {
        true
    }
    /// Writes what the socket takes without waiting (see
    /// [`BodySink::write_now`](super::response::BodySink::write_now)); `Ok(None)` when the
    /// transport cannot write without possibly waiting.
    fn write_now(&mut self, _buf: &[u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }
    /// Ends our direction of the stream (TCP FIN) while still reading the client's; a no-op
    /// where the transport has no such thing.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Splits the connection into its read and write directions once it is upgraded (see
    /// [`upgrade`](super::upgrade)); an error where the transport cannot be split.
    fn split(self) -> io::Result<(Box<dyn Inbound>, Box<dyn Outbound>)>
    where
        Self: Sized,
    {
        Err(io::Error::other("this transport cannot be upgraded"))
    }
    /// A second descriptor of the socket underneath, written without waiting (what a TLS
    /// stream over this transport splits onto); `None` where there is none.
    fn raw_clone(&self) -> Option<std::net::TcpStream> {
        None
    }
}

impl Transport for may::net::TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        may::net::TcpStream::set_read_timeout(self, timeout)
    }
    fn input_ready(&self) -> bool {
        // may's sockets are non-blocking underneath: a peek answers at once.
        matches!(self.inner().peek(&mut [0u8; 1]), Ok(n) if n > 0)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.inner().shutdown(std::net::Shutdown::Write)
    }
    fn split(self) -> io::Result<(Box<dyn Inbound>, Box<dyn Outbound>)> {
        super::upgrade::split_tcp(self)
    }
    fn raw_clone(&self) -> Option<std::net::TcpStream> {
        super::upgrade::raw_clone(self)
    }
    fn write_now(&mut self, buf: &[u8]) -> io::Result<Option<usize>> {
        // The same non-blocking socket, written directly: what fits goes, nothing waits.
        let mut sock: &std::net::TcpStream = self.inner();
        match sock.write(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(Some(0))
            }
            Err(e) => Err(e),
        }
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        may::net::TcpStream::set_write_timeout(self, timeout)
    }
}

impl Transport for std::net::TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_write_timeout(self, timeout)
    }
}

#[cfg(feature = "tls")]
impl<S: crate::tls::Socket + 'static> Transport for crate::tls::TlsStream<S> {
    fn split(self) -> io::Result<(Box<dyn Inbound>, Box<dyn Outbound>)> {
        let (conn, sock) = self.into_parts();
        let raw = sock
            .raw_clone()
            .ok_or_else(|| io::Error::other("this transport cannot be upgraded"))?;
        super::upgrade::split_tls(conn, sock, raw)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        crate::tls::TlsStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        crate::tls::TlsStream::set_write_timeout(self, timeout)
    }
}
