//! The `console` global: `log`/`info` (level `info`, as in fazt's Go runtime), `debug`,
//! `warn`, `error`, each writing one line to the site's logs through
//! [`Host::log`](super::Host::log). Arguments are joined with spaces (strings as they are,
//! objects as JSON, errors with their stack). A request may write at most
//! `max_log_lines` lines of at most `max_log_bytes` bytes; the engine reports the number of
//! dropped lines in one final `warn` line, so a script logging in a loop cannot flood
//! fazt.db.

use std::rc::Rc;

use rquickjs::{function::Rest, Ctx, Function, Object, Value};

use super::convert::{console_text, guard, truncate};
use super::globals::Scope;

const METHODS: [(&str, &str); 5] = [
    ("log", "info"),
    ("info", "info"),
    ("debug", "debug"),
    ("warn", "warn"),
    ("error", "error"),
];

pub(super) fn install<'js>(ctx: &Ctx<'js>, scope: &Rc<Scope>) -> rquickjs::Result<()> {
    let console = Object::new(ctx.clone())?;
    for (method, level) in METHODS {
        let s = scope.clone();
        console.set(
            method,
            Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
                guard(&ctx, "console", || {
                    if !s.take_log_slot() {
                        return Ok(());
                    }
                    let mut line = String::new();
                    for (i, arg) in args.0.iter().enumerate() {
                        if i > 0 {
                            line.push(' ');
                        }
                        line.push_str(&console_text(&ctx, arg));
                        if line.len() > s.limits.max_log_bytes {
                            break;
                        }
                    }
                    let line = truncate(line, s.limits.max_log_bytes);
                    s.host.log(&s.site, level, &line);
                    Ok(())
                })
            })?,
        )?;
    }
    ctx.globals().set("console", console)
}
