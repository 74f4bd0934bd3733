//! `GET /ws` on a site with `main.js`, as in fazt's Go runtime: a WebSocket whose messages go
//! to the site's other clients, and which the site's script reaches with `socket.broadcast`.
//! The site's name is its room in the kernel's [`Hub`], so nothing crosses sites.

use std::sync::Arc;

use crate::kernel::http::{Response, Upgraded};
use crate::kernel::ws::{handshake, session, Hub};

/// Answers an upgrade request to `site`'s `/ws`: the `101` and the session, or why not.
pub fn open(hub: &Arc<Hub>, site: &str, req: &crate::kernel::http::Request) -> Response {
    let limits = &hub.limits;
    if hub.total() >= limits.max_connections || hub.count(site) >= limits.max_per_room {
        return Response::text(503, "too many WebSocket connections; try again later\n")
            .header("Retry-After", "5");
    }
    let hub = hub.clone();
    let room = site.to_string();
    handshake::accept(
        req,
        Box::new(move |up: Upgraded, life| {
            let Upgraded {
                early,
                mut inbound,
                outbound,
            } = up;
            // Checked above; only a race with other joins lands here.
            let member = match hub.join(&room, outbound) {
                Ok(m) => m,
                Err(_) => return,
            };
            log::debug!("websocket opened on {room} ({} there)", hub.count(&room));
            let end = session::serve(early, inbound.as_mut(), &member, life, &mut |_| true);
            member.pump();
            member.close();
            log::debug!("websocket closed on {room}: {}", end.name());
        }),
    )
}
