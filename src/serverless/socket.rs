//! The `socket` global, as in fazt's Go runtime: `socket.broadcast(msg)` sends `msg` to every
//! WebSocket client connected to the site's `/ws` (a string as text, anything else as its
//! JSON) and returns how many it went to; `socket.clients()` counts them. The host owns the
//! connections; a script only ever reaches its own site's.

use std::rc::Rc;

use rquickjs::{function::Opt, Ctx, Exception, Function, Object, Value};

use super::convert::guard;
use super::globals::Scope;

pub(super) fn install<'js>(ctx: &Ctx<'js>, scope: &Rc<Scope>) -> rquickjs::Result<()> {
    let socket = Object::new(ctx.clone())?;
    let s = scope.clone();
    socket.set(
        "broadcast",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, msg: Opt<Value<'js>>| {
            guard(&ctx, "socket.broadcast", || {
                let msg = match msg.0 {
                    Some(v) if v.is_string() => super::convert::to_text(&v)?,
                    Some(v) if !v.is_undefined() => ctx
                        .json_stringify(v)?
                        .map(|j| j.to_string())
                        .transpose()?
                        .unwrap_or_default(),
                    _ => {
                        return Err(Exception::throw_type(
                            &ctx,
                            "socket.broadcast: a message is needed",
                        ))
                    }
                };
                Ok(s.host.socket_broadcast(&s.site, &msg) as u32)
            })
        })?,
    )?;
    let s = scope.clone();
    socket.set(
        "clients",
        Function::new(ctx.clone(), move || s.host.socket_clients(&s.site) as u32)?,
    )?;
    ctx.globals().set("socket", socket)
}
