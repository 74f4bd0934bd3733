//! Typed configuration. Every option of a command is described once ([`Opt`]: its flag,
//! from which its environment variable `FAZT_<NAME>` and stored key `<name>` derive, whether
//! it may be stored in fazt.db, its default, help text and parser), and every option is
//! resolved by the same rule ([`Sources`]): flag, else environment, else the setting stored
//! in fazt.db (`fazt config set`, table `configurations` via [`crate::settings`]), else the
//! default. A value is validated where it is picked; a bad one is one error naming the option
//! and its source. Commands build their whole configuration in one call
//! ([`serve::ServeConfig::resolve`]); `fazt config set` checks a value with the same parser.

pub mod backup;
pub mod help;
pub mod https;
pub mod opt;
pub mod parse;
pub mod serve;
pub mod sources;
pub mod upgrade;

#[cfg(feature = "analytics")]
pub mod analytics;

pub use opt::{find_storable, AnyOpt, Kind, Opt, Spec};
pub use serve::{Boot, JsConfig, ServeConfig};
pub use sources::{Source, Sources};
