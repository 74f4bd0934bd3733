//! ZIP archives: the hardened reader that unpacks deploy uploads on the server
//! ([`reader`]) and the small writer a deploy client packs a folder with ([`writer`]).

mod nfd;
#[rustfmt::skip]
mod nfd_tables;
pub mod reader;
pub mod writer;

pub use reader::{check_paths, ZipArchive, ZipEntry, ZipError, ZipLimits};
pub use writer::{ZipWriteError, ZipWriter};
