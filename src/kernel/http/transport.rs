//! The byte stream under the HTTP loop: plain TCP today, TLS (rustls over the same socket)
//! from the `acme` feature. The connection loop is generic over this trait so both share one
//! parser, one set of limits and one set of tests.

use std::io::{self, Read, Write};
use std::time::Duration;

/// A bidirectional stream whose blocking reads and writes can be bounded in time.
///
/// Timeouts are set before every read (deadline-based, see `conn`), so implementations must
/// make `set_read_timeout` cheap; on `may` sockets it is an atomic store.
pub trait Transport: Read + Write + Send {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Transport for may::net::TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        may::net::TcpStream::set_read_timeout(self, timeout)
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

#[cfg(feature = "acme")]
impl<S: crate::kernel::tls::Socket> Transport for crate::kernel::tls::TlsStream<S> {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        crate::kernel::tls::TlsStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        crate::kernel::tls::TlsStream::set_write_timeout(self, timeout)
    }
}
