//! `require('./lib/x.js')`: CommonJS modules from the site's own files. Paths are relative
//! to the requiring file (`./`, `../`), `.js` is added when the name has no extension, and
//! nothing outside the site can be named (a `..` past its root throws). Each module runs
//! once per request, as `function (module, exports, require)`, its exports cached for the
//! rest of the request; a module required again while it is still loading (a cycle) throws
//! a clear error instead of handing out half-built exports, and so does a missing file.
//!
//! The module system itself is a few lines of JS ([`BOOT`], part of the per-run prelude in
//! `globals.rs`) run at the first `require` of a request, so a script that never requires
//! pays nothing for it; its state lives in JS objects (never in Rust closures), so
//! the garbage collector sees all of it. The native half reads a file through
//! [`Host::read_module`](super::Host::read_module) and compiles it once per content
//! (bytecode cached per site like `main.js`, dropped with it).

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use rquickjs::{Ctx, Exception, Function};

use super::bytecode::{self, Compiled};
use super::globals::Scope;
use crate::kernel::vfs::content_hash;

/// Largest module file read.
pub(super) const MAX_MODULE_BYTES: usize = 1 << 20;
/// Compiled modules kept (all sites); past it the cache starts over.
const MAX_CACHED: usize = 512;

/// The module system; `load(path)` is the native loader, the result is the root
/// `require`.
pub(super) const BOOT: &str = r#"(function (load) {
  var cache = Object.create(null);
  function dirOf(p) { var i = p.lastIndexOf('/'); return i < 0 ? '' : p.slice(0, i); }
  function make(dir) {
    return function require(spec) {
      if (typeof spec !== 'string' || !(spec.slice(0, 2) === './' || spec.slice(0, 3) === '../'))
        throw new Error("require(" + JSON.stringify(spec) + "): only relative paths to the site's own files, like './lib/x.js'");
      var parts = dir ? dir.split('/') : [], segs = spec.split('/');
      for (var i = 0; i < segs.length; i++) {
        var s = segs[i];
        if (s === '.' || s === '') continue;
        if (s === '..') {
          if (!parts.length) throw new Error("require(" + JSON.stringify(spec) + "): outside the site");
          parts.pop();
        } else parts.push(s);
      }
      var path = parts.join('/');
      if (!/\.[^\/]*$/.test(path)) path += '.js';
      var m = cache[path];
      if (m) {
        if (m.loading) throw new Error("require(" + JSON.stringify(spec) + "): " + path + " is still loading (a require cycle)");
        return m.module.exports;
      }
      var fn = load(path);
      var module = { exports: {}, id: path };
      cache[path] = m = { loading: true, module: module };
      try { fn.call(module.exports, module, module.exports, make(dirOf(path))); }
      catch (e) { delete cache[path]; throw e; }
      m.loading = false;
      return module.exports;
    };
  }
  return make('');
})"#;

/// (site, path) of a module.
type ModuleKey = (Arc<str>, String);

/// Compiled modules by (site, path), each for one content hash.
#[derive(Default)]
pub(super) struct ModuleCache(Mutex<HashMap<ModuleKey, Arc<Compiled>>>);

impl ModuleCache {
    fn get(&self, site: &Arc<str>, path: &str, hash: &str) -> Option<Arc<Compiled>> {
        let m = self.0.lock().ok()?;
        m.get(&(site.clone(), path.to_string()))
            .filter(|c| c.hash == hash)
            .cloned()
    }

    fn put(&self, site: &Arc<str>, path: &str, c: Arc<Compiled>) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= MAX_CACHED {
                m.clear();
            }
            m.insert((site.clone(), path.to_string()), c);
        }
    }

    /// Drops `site`'s modules (its files changed or it is gone).
    pub fn forget(&self, site: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|(s, _), _| &**s != site);
        }
    }
}

/// The native loader [`BOOT`] is given: `load(path)` returns the module at `path` as a
/// function. Made once per context; the prelude (`globals.rs`) boots a fresh module
/// registry with it at a request's first `require`.
pub(super) fn loader<'js>(ctx: &Ctx<'js>, scope: &Rc<Scope>) -> rquickjs::Result<Function<'js>> {
    let scope = scope.clone();
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, path: String| {
        load(&ctx, &scope, &path)
    })
}

/// The module at `path` as a function, from the bytecode cache or compiled now.
fn load<'js>(ctx: &Ctx<'js>, scope: &Scope, path: &str) -> rquickjs::Result<Function<'js>> {
    let throw = |m: String| Exception::throw_message(ctx, &m);
    let source = match scope.host.read_module(&scope.site, path, MAX_MODULE_BYTES) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(throw(format!(
                "require: no file {path} in this site (or larger than {MAX_MODULE_BYTES} bytes)"
            )))
        }
        Err(e) => return Err(throw(format!("require: reading {path}: {e}"))),
    };
    let hash = content_hash(source.as_bytes());
    let value = match scope.modules.get(&scope.site, path, &hash) {
        Some(c) => match &c.code {
            Ok(bytes) => bytecode::read(ctx, bytes)?,
            Err(m) => return Err(throw(m.clone())),
        },
        None => {
            let wrapped = format!("(function (module, exports, require) {{{source}\n}})");
            let compiled = bytecode::compile(ctx, &wrapped, path);
            let code = match &compiled {
                Ok(f) => Ok(bytecode::write(ctx, f)?),
                Err(_) => {
                    let e = ctx.catch();
                    let (message, _) = super::convert::describe_thrown(ctx, &e);
                    Err(format!("require: {path}: {message}"))
                }
            };
            scope.modules.put(
                &scope.site,
                path,
                Arc::new(Compiled {
                    hash,
                    code: code.clone(),
                }),
            );
            match (compiled, code) {
                (Ok(f), _) => f,
                (Err(_), Err(m)) => return Err(throw(m)),
                (Err(e), Ok(_)) => return Err(e),
            }
        }
    };
    // The compiled script evaluates to the module's function.
    bytecode::run(ctx, &value)?
        .into_function()
        .ok_or_else(|| throw(format!("require: {path} closes the function it is run in")))
}
