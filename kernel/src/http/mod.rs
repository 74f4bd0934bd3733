//! The HTTP/1.1 edge, built the way may_minihttp is (a `may` coroutine per connection,
//! `httparse`, reused buffers, pipelined answers in one write) but with what a server on the
//! internet needs and may_minihttp lacks: per-response headers, caps on head size and header
//! count, header/idle/body timeouts, strict body framing (chunked decoded, smuggling refused),
//! `Expect: 100-continue`, HEAD, HTTP/1.0, streamed bodies and graceful shutdown.
//!
//! It knows nothing of the product above it: a [`Handler`] gets a [`Request`] and a [`Body`] and
//! returns a [`Response`].

pub mod body;
pub mod conn;
pub mod limits;
pub mod proxy;
pub mod request;
pub mod response;
pub mod server;
pub mod transport;
pub mod upgrade;

pub use body::{Body, BodyError};
pub use limits::Limits;
pub use proxy::client_addr;
pub use request::Request;
pub use response::{BodySink, Response, ResponseBody};
pub use server::{Handler, Lifecycle};
pub use transport::Transport;
pub use upgrade::{Handoff, Inbound, Outbound, Upgraded, Upgrader};

/// The listening socket [`server::run`] and [`server::serve_http`] take (may's, so accepting
/// parks a coroutine, not a thread).
pub use may::net::TcpListener;
