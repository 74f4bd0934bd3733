//! Who the client is: the socket peer, or — only when the peer is a trusted reverse proxy —
//! the nearest untrusted address in `X-Forwarded-For`. One definition shared by the edge's
//! per-address caps and by every vertical that limits or records by client address.

use std::net::IpAddr;

use super::Request;

/// The client's address for `req` (see the module doc). A forwarded list is read from the
/// right: the rightmost entry was added by our proxy, entries further left by whoever the
/// proxy trusted; the first address that is not itself a trusted proxy is the client.
pub fn client_addr(req: &Request, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = req.peer.ip();
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    req.header("x-forwarded-for")
        .and_then(|xff| {
            xff.rsplit(',')
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .find(|ip| !trusted_proxies.contains(ip))
        })
        .unwrap_or(peer)
}
