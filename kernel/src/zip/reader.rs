//! Hardened ZIP reader for deploy uploads.
//!
//! Owns turning an untrusted, fully buffered upload (`&[u8]`) into a list of safe entries and
//! then, one entry at a time, into bytes. [`ZipArchive::parse`] validates everything that can be
//! checked without inflating: the end records (zip64 included), the central directory, every
//! local header, entry names (no absolute paths, `..`, backslashes, drive letters, control
//! characters, invalid UTF-8, duplicates after case folding and Unicode normalisation,
//! file/directory clashes), symlinks
//! and other special files, encryption, compression methods, overlapping or out-of-bounds entry
//! data and the declared sizes against [`ZipLimits`]. [`ZipArchive::read`] then inflates a single
//! entry while counting the bytes it produces, so a lying header or a zip bomb is stopped as soon
//! as a cap is crossed, long before its output is allocated, and checks size and CRC-32.
//!
//! The compression ratio is capped twice: per entry (once it passes [`RATIO_FLOOR`]) and for the
//! whole archive (the sum of all entries against the upload's length, once it passes
//! [`ARCHIVE_RATIO_FLOOR`]), so that a thousand entries each just under the per-entry floor are
//! refused like one big bomb.
//!
//! Peak memory during a deploy is therefore the upload plus one entry.

use std::borrow::Cow;
use std::fmt;

use super::nfd::nfd;
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: u64 = 30;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_LEN: u64 = 56;
const ZIP64_EXTRA_ID: u16 = 0x0001;

const U16_MAX: u64 = 0xFFFF;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// General-purpose flag bits we look at.
const FLAG_ENCRYPTED: u16 = 1 << 0;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;

/// Compression methods we can read.
pub const METHOD_STORED: u16 = 0;
/// See [`METHOD_STORED`].
pub const METHOD_DEFLATE: u16 = 8;

/// Host systems (upper byte of "version made by") whose external attributes carry a Unix mode.
const HOST_UNIX: u16 = 3;
const HOST_OSX: u16 = 19;
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// Entry names longer than this are refused: no site needs them, and it bounds the memory the
/// name checks use (10,000 entries × 3 copies × this).
pub const MAX_NAME_BYTES: usize = 1024;

/// The per-entry compression ratio cap only applies once an entry has inflated past this many
/// bytes, so small, very compressible files (a 1 MiB run of spaces) stay fine.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// The whole archive may always inflate to this many bytes, whatever its own size, so a tiny
/// archive of compressible text stays fine. Past it, all entries together may inflate to at
/// most [`ZipLimits::max_ratio`] times the archive's byte length: many entries each under
/// [`RATIO_FLOOR`] cannot add up to a zip bomb.
pub const ARCHIVE_RATIO_FLOOR: u64 = 1 << 20;

/// Size of the buffer inflate writes into before the bytes are counted and kept.
const INFLATE_CHUNK: usize = 32 * 1024;

/// Most bytes reserved for an inflated entry before any has been produced.
const INITIAL_RESERVE: usize = 1 << 20;

/// Caps on what an archive may expand to. Defaults are sized for a Raspberry Pi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Most entries (files and directories) an archive may list.
    pub max_entries: usize,
    /// Most bytes all entries together may inflate to.
    pub max_total_uncompressed: u64,
    /// Most bytes one entry may inflate to.
    pub max_entry_uncompressed: u64,
    /// Highest inflated/compressed ratio of one entry, checked once it passes [`RATIO_FLOOR`],
    /// and of the whole archive (all entries inflated / the archive's byte length), checked
    /// once the total passes [`ARCHIVE_RATIO_FLOOR`].
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        const GIB: u64 = 1 << 30;
        ZipLimits {
            max_entries: 10_000,
            max_total_uncompressed: GIB,
            max_entry_uncompressed: GIB,
            max_ratio: 200,
        }
    }
}

/// One entry of the central directory, already validated by [`ZipArchive::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// Relative `/`-separated path; directories end with `/`.
    pub name: String,
    /// The name ends with `/`: the entry has no data.
    pub is_dir: bool,
    /// Bytes of (possibly compressed) data in the archive.
    pub compressed_size: u64,
    /// Size the central directory declares; [`ZipArchive::read`] checks it, never trusts it.
    pub uncompressed_size: u64,
    /// [`METHOD_STORED`] or [`METHOD_DEFLATE`].
    pub method: u16,
    /// CRC-32 the central directory declares.
    pub crc32: u32,
    /// Offset of the entry's data in the upload.
    data_start: usize,
}

/// A parsed archive borrowing the upload.
#[derive(Debug, Clone)]
pub struct ZipArchive<'a> {
    data: &'a [u8],
    entries: Vec<ZipEntry>,
    limits: ZipLimits,
}

/// Why an upload was refused. `Display` is one sentence naming the entry (when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZipError {
    /// The archive's own structures (end records, central directory) are missing or damaged;
    /// the string says which.
    Malformed(String),
    /// One entry's structures or data are damaged.
    CorruptEntry {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// What is damaged, as a phrase.
        detail: String,
    },
    /// The entry uses a compression method other than stored or deflate.
    UnsupportedMethod {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The method number from the central directory (APPNOTE 4.4.5).
        method: u16,
    },
    /// The entry is encrypted.
    Encrypted {
        /// The entry's name as the central directory gives it.
        entry: String,
    },
    /// The name could escape the site or is otherwise unusable as a path.
    UnsafeName {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// Which rule the name breaks, as a phrase.
        reason: &'static str,
    },
    /// The raw name is not valid UTF-8.
    NameNotUtf8 {
        /// The entry's 0-based position in the central directory.
        index: usize,
        /// The raw name with invalid bytes replaced by U+FFFD.
        lossy: String,
    },
    /// The entry is a symbolic link.
    Symlink {
        /// The entry's name as the central directory gives it.
        entry: String,
    },
    /// The entry is a device, FIFO or socket.
    SpecialFile {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The Unix mode from the external attributes (file type and permission bits).
        mode: u32,
    },
    /// Two names are equal after case folding and Unicode normalisation.
    Duplicate {
        /// The later of the two names.
        entry: String,
        /// The name that came first in the central directory.
        other: String,
    },
    /// `entry` lives under `file`, which is a file, not a directory.
    FileDirConflict {
        /// The name that needs `file` to be a directory.
        entry: String,
        /// The entry that is a file where a directory is needed.
        file: String,
    },
    /// The local header names a different file than the central directory.
    NameMismatch {
        /// The name the central directory gives.
        entry: String,
        /// The name the entry's local header gives.
        local: String,
    },
    /// The entry's bytes overlap another entry's.
    Overlap {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The entry whose bytes it overlaps.
        other: String,
    },
    /// The entry's header or data lies outside the file or inside the central directory.
    OutOfBounds {
        /// The entry's name as the central directory gives it.
        entry: String,
    },
    /// The data does not inflate to the declared size.
    SizeMismatch {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The uncompressed size the central directory declares, in bytes.
        declared: u64,
    },
    /// The data does not match the declared CRC-32.
    CrcMismatch {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The CRC-32 the central directory declares.
        expected: u32,
        /// The CRC-32 of the bytes actually inflated.
        actual: u32,
    },
    /// No entry at this index (a caller bug, not an upload problem).
    NoSuchEntry {
        /// The 0-based index asked for.
        index: usize,
    },
    /// Over [`ZipLimits::max_entries`].
    TooManyEntries {
        /// How many entries the end record declares.
        count: u64,
        /// The [`ZipLimits::max_entries`] in force.
        limit: usize,
    },
    /// Over [`ZipLimits::max_total_uncompressed`].
    TotalTooLarge {
        /// The entry at which the running total crossed the limit.
        entry: String,
        /// The [`ZipLimits::max_total_uncompressed`] in force, in bytes.
        limit: u64,
    },
    /// Over [`ZipLimits::max_entry_uncompressed`].
    EntryTooLarge {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The [`ZipLimits::max_entry_uncompressed`] in force, in bytes.
        limit: u64,
    },
    /// Over [`ZipLimits::max_ratio`].
    RatioTooHigh {
        /// The entry's name as the central directory gives it.
        entry: String,
        /// The [`ZipLimits::max_ratio`] in force (uncompressed bytes per compressed byte).
        limit: u64,
    },
    /// All entries together inflate to more than `cap` = [`ZipLimits::max_ratio`] (`limit`)
    /// times the archive's size (or [`ARCHIVE_RATIO_FLOOR`]).
    ArchiveRatioTooHigh {
        /// The entry at which the running total crossed `cap`.
        entry: String,
        /// The [`ZipLimits::max_ratio`] in force.
        limit: u64,
        /// The total the archive may inflate to, in bytes.
        cap: u64,
    },
    /// The machine could not allocate memory for the entry's inflated bytes.
    OutOfMemory {
        /// The entry's name as the central directory gives it.
        entry: String,
    },
}

impl ZipError {
    /// The upload went over a configured cap (the API answers 413) rather than being invalid.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            ZipError::TooManyEntries { .. }
                | ZipError::TotalTooLarge { .. }
                | ZipError::EntryTooLarge { .. }
                | ZipError::RatioTooHigh { .. }
                | ZipError::ArchiveRatioTooHigh { .. }
                | ZipError::OutOfMemory { .. }
        )
    }
}

impl fmt::Display for ZipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ZipError::*;
        match self {
            Malformed(detail) => write!(f, "malformed ZIP archive: {detail}"),
            CorruptEntry { entry, detail } => {
                write!(f, "entry {} is corrupt: {detail}", Quoted(entry))
            }
            UnsupportedMethod { entry, method } => write!(
                f,
                "entry {} uses compression method {method} ({}); only stored and deflate are supported",
                Quoted(entry),
                method_name(*method)
            ),
            Encrypted { entry } => write!(
                f,
                "entry {} is encrypted; encrypted archives are not supported",
                Quoted(entry)
            ),
            UnsafeName { entry, reason } => {
                write!(f, "entry {} has an unsafe name: {reason}", Quoted(entry))
            }
            NameNotUtf8 { index, lossy } => write!(
                f,
                "entry #{} ({}) has a name that is not valid UTF-8; re-create the archive with UTF-8 names",
                index + 1,
                Quoted(lossy)
            ),
            Symlink { entry } => write!(
                f,
                "entry {} is a symbolic link; links are not allowed in a deploy",
                Quoted(entry)
            ),
            SpecialFile { entry, mode } => write!(
                f,
                "entry {} is a special file (Unix mode {mode:o}); only files and directories are allowed",
                Quoted(entry)
            ),
            Duplicate { entry, other } => write!(
                f,
                "entry {} duplicates entry {} (names are compared ignoring case and Unicode normalization)",
                Quoted(entry),
                Quoted(other)
            ),
            FileDirConflict { entry, file } => write!(
                f,
                "entry {} lies under {}, which is a file, not a directory",
                Quoted(entry),
                Quoted(file)
            ),
            NameMismatch { entry, local } => write!(
                f,
                "entry {} is named {} in its local header",
                Quoted(entry),
                Quoted(local)
            ),
            Overlap { entry, other } => write!(
                f,
                "entry {} overlaps the data of entry {}",
                Quoted(entry),
                Quoted(other)
            ),
            OutOfBounds { entry } => write!(
                f,
                "entry {} points outside the archive's data area",
                Quoted(entry)
            ),
            SizeMismatch { entry, declared } => write!(
                f,
                "entry {} does not inflate to its declared size of {declared} bytes",
                Quoted(entry)
            ),
            CrcMismatch {
                entry,
                expected,
                actual,
            } => write!(
                f,
                "entry {} fails its CRC-32 check (expected {expected:08x}, got {actual:08x})",
                Quoted(entry)
            ),
            NoSuchEntry { index } => write!(f, "the archive has no entry #{index}"),
            TooManyEntries { count, limit } => write!(
                f,
                "archive lists {count} entries, over the limit of {limit} (max_entries)"
            ),
            TotalTooLarge { entry, limit } => write!(
                f,
                "archive expands to more than {} in total at entry {} (max_total_uncompressed)",
                Bytes(*limit),
                Quoted(entry)
            ),
            EntryTooLarge { entry, limit } => write!(
                f,
                "entry {} expands to more than {} (max_entry_uncompressed)",
                Quoted(entry),
                Bytes(*limit)
            ),
            RatioTooHigh { entry, limit } => write!(
                f,
                "entry {} expands more than {limit} times its compressed size (max_ratio); possible zip bomb",
                Quoted(entry)
            ),
            ArchiveRatioTooHigh { entry, limit, cap } => write!(
                f,
                "archive expands to more than {limit} times its own size (over {}) at entry {} (max_ratio); possible zip bomb",
                Bytes(*cap),
                Quoted(entry)
            ),
            OutOfMemory { entry } => write!(
                f,
                "not enough memory to inflate entry {}",
                Quoted(entry)
            ),
        }
    }
}

impl std::error::Error for ZipError {}

/// Shows an untrusted name in single quotes with control characters escaped and long names
/// shortened, so error messages stay one readable line in logs and HTTP responses.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 200;
        f.write_str("'")?;
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(SHOWN) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        f.write_str("'")
    }
}

/// A byte count, in binary units when it is a whole number of them.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if n >= size && n.is_multiple_of(size) {
                return write!(f, "{} {unit}", n / size);
            }
        }
        write!(f, "{n} bytes")
    }
}

/// Human name of a ZIP compression method (APPNOTE 4.4.5).
fn method_name(method: u16) -> &'static str {
    match method {
        0 => "stored",
        1 => "shrink",
        2..=5 => "reduce",
        6 => "implode",
        8 => "deflate",
        9 => "deflate64",
        10 => "PKWARE DCL implode",
        12 => "bzip2",
        14 => "LZMA",
        16 => "IBM z/OS CMPSC",
        18 => "IBM TERSE",
        19 => "IBM LZ77 z",
        20 | 93 => "zstd",
        94 => "MP3",
        95 => "xz",
        96 => "JPEG",
        97 => "WavPack",
        98 => "PPMd",
        99 => "AES encryption",
        _ => "unknown",
    }
}

/// Checks that `name` is a safe relative path: the rules a deploy applies to every entry and the
/// writer applies before it packs a file. Returns the reason when it is not.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Err("the name is longer than 1024 bytes");
    }
    if name.starts_with('/') {
        return Err("absolute path");
    }
    if name.contains('\\') {
        return Err("backslash in the name (use '/' as separator)");
    }
    if name.contains('\0') {
        return Err("NUL byte in the name");
    }
    if name.chars().any(|c| c.is_ascii_control()) {
        return Err("control character in the name");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("drive letter in the name");
    }
    // A directory name ends with '/', which leaves one empty last component; any other empty
    // component ("a//b") and any "." would let two spellings reach the same path.
    let body = name.strip_suffix('/').unwrap_or(name);
    for component in body.split('/') {
        match component {
            ".." => return Err("'..' path component"),
            "." => return Err("'.' path component"),
            "" => return Err("empty path component"),
            _ => {}
        }
    }
    Ok(())
}

/// The form two names are compared in: lower case and, for names that are not ASCII,
/// canonically decomposed (NFD), so that names equal after Unicode normalisation (`café`
/// precomposed and `cafe` + U+0301, as macOS writes it) are one name. Canonical equivalence
/// under NFD is the same as equality under NFC. ASCII names need no normalisation.
pub(crate) fn fold_name(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    nfd(&name.to_lowercase())
}

/// Little-endian reads over a slice that fail (`None`) instead of panicking when short.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

/// `data[start..start+len]` with every size coming from the archive checked.
fn slice_at(data: &[u8], start: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end)
}

fn malformed(detail: impl Into<String>) -> ZipError {
    ZipError::Malformed(detail.into())
}

fn corrupt(entry: &str, detail: impl Into<String>) -> ZipError {
    ZipError::CorruptEntry {
        entry: entry.to_owned(),
        detail: detail.into(),
    }
}

/// Where the central directory is, from the end records.
struct Directory {
    entries: u64,
    offset: u64,
    size: u64,
    /// The directory must end at or before this offset (the first end record).
    end_limit: u64,
}

/// Finds the End Of Central Directory record, scanning backwards over at most a maximal
/// comment. The last signature whose comment ends exactly at the end of the file wins; failing
/// that (bytes appended after the archive), the last one whose comment fits. This keeps a
/// comment that happens to contain the signature from being taken for the record.
fn find_eocd(data: &[u8]) -> Result<usize, ZipError> {
    let Some(last) = data.len().checked_sub(EOCD_LEN) else {
        return Err(malformed("the file is too short to be a ZIP archive"));
    };
    let first = last.saturating_sub(u16::MAX as usize);
    let sig = EOCD_SIG.to_le_bytes();
    let mut fitting = None;
    for pos in (first..=last).rev() {
        if data.get(pos..pos + 4) != Some(&sig[..]) {
            continue;
        }
        let mut c = Cursor::new(data.get(pos + 20..).unwrap_or_default());
        let Some(comment_len) = c.u16() else { continue };
        let end = pos + EOCD_LEN + usize::from(comment_len);
        if end == data.len() {
            return Ok(pos);
        }
        if end < data.len() && fitting.is_none() {
            fitting = Some(pos);
        }
    }
    fitting
        .ok_or_else(|| malformed("no end of central directory record found (is this a ZIP file?)"))
}

/// Reads the end records (classic and, when present, zip64) into a [`Directory`].
fn read_directory(data: &[u8]) -> Result<Directory, ZipError> {
    let eocd = find_eocd(data)?;
    let short = || malformed("the end of central directory record is truncated");
    let mut c = Cursor::new(data.get(eocd + 4..).ok_or_else(short)?);
    let disk = u64::from(c.u16().ok_or_else(short)?);
    let cd_disk = u64::from(c.u16().ok_or_else(short)?);
    let disk_entries = u64::from(c.u16().ok_or_else(short)?);
    let entries = u64::from(c.u16().ok_or_else(short)?);
    let size = u64::from(c.u32().ok_or_else(short)?);
    let offset = u64::from(c.u32().ok_or_else(short)?);

    let mut dir = Directory {
        entries,
        offset,
        size,
        end_limit: eocd as u64,
    };
    let (mut disk, mut cd_disk, mut disk_entries) = (disk, cd_disk, disk_entries);

    let locator = eocd
        .checked_sub(ZIP64_LOCATOR_LEN)
        .and_then(|at| data.get(at..eocd).map(|b| (at, b)));
    if let Some((locator_at, bytes)) = locator {
        let mut l = Cursor::new(bytes);
        if l.u32() == Some(ZIP64_LOCATOR_SIG) {
            let short = || malformed("the zip64 end of central directory locator is truncated");
            let z64_disk = l.u32().ok_or_else(short)?;
            let z64_offset = l.u64().ok_or_else(short)?;
            let disks = l.u32().ok_or_else(short)?;
            if z64_disk != 0 || disks > 1 {
                return Err(malformed("multi-disk (spanned) archives are not supported"));
            }
            let z64 = z64_offset
                .checked_add(ZIP64_EOCD_LEN)
                .filter(|end| *end <= locator_at as u64)
                .and_then(|_| slice_at(data, z64_offset, ZIP64_EOCD_LEN))
                .ok_or_else(|| {
                    malformed("the zip64 end of central directory record lies outside the file")
                })?;
            let short = || malformed("the zip64 end of central directory record is truncated");
            let mut z = Cursor::new(z64);
            if z.u32() != Some(ZIP64_EOCD_SIG) {
                return Err(malformed(
                    "the zip64 end of central directory record has a bad signature",
                ));
            }
            z.bytes(8 + 2 + 2).ok_or_else(short)?; // record size, version made by, needed
            let z_disk = u64::from(z.u32().ok_or_else(short)?);
            let z_cd_disk = u64::from(z.u32().ok_or_else(short)?);
            let z_disk_entries = z.u64().ok_or_else(short)?;
            let z_entries = z.u64().ok_or_else(short)?;
            let z_size = z.u64().ok_or_else(short)?;
            let z_offset = z.u64().ok_or_else(short)?;
            // A classic field is only a placeholder when saturated; otherwise both records
            // must say the same thing, so no reader can be shown a different directory.
            let merge = |classic: u64, max: u64, z64: u64| {
                if classic == max || classic == z64 {
                    Ok(z64)
                } else {
                    Err(malformed(
                        "the zip64 end record disagrees with the end of central directory record",
                    ))
                }
            };
            disk = merge(disk, U16_MAX, z_disk)?;
            cd_disk = merge(cd_disk, U16_MAX, z_cd_disk)?;
            disk_entries = merge(disk_entries, U16_MAX, z_disk_entries)?;
            dir.entries = merge(dir.entries, U16_MAX, z_entries)?;
            dir.size = merge(dir.size, U32_MAX, z_size)?;
            dir.offset = merge(dir.offset, U32_MAX, z_offset)?;
            dir.end_limit = z64_offset;
        }
    }
    if disk != 0 || cd_disk != 0 || disk_entries != dir.entries {
        return Err(malformed("multi-disk (spanned) archives are not supported"));
    }
    Ok(dir)
}

/// The zip64 extended-information extra field supplies, in this order, each of the
/// uncompressed size, compressed size, local header offset and disk number whose classic field
/// is saturated. `wanted` lists which are; the result replaces them.
fn zip64_fields(extra: &[u8], wanted: [bool; 4]) -> Option<[Option<u64>; 4]> {
    let mut c = Cursor::new(extra);
    while let (Some(id), Some(len)) = (c.u16(), c.u16()) {
        // A block that claims more bytes than remain ends the list (some writers pad the extra
        // field); only a missing zip64 block when one is needed is an error.
        let body = c.bytes(usize::from(len))?;
        if id != ZIP64_EXTRA_ID {
            continue;
        }
        let mut z = Cursor::new(body);
        let mut out = [None; 4];
        for (i, slot) in out.iter_mut().enumerate() {
            if wanted[i] {
                *slot = Some(if i == 3 {
                    u64::from(z.u32()?)
                } else {
                    z.u64()?
                });
            }
        }
        return Some(out);
    }
    None
}

/// One central directory record before validation.
struct RawCentral<'a> {
    made_by: u16,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed: u64,
    uncompressed: u64,
    name: &'a [u8],
    external_attrs: u32,
    local_offset: u64,
}

fn read_central<'a>(c: &mut Cursor<'a>, index: usize) -> Result<RawCentral<'a>, ZipError> {
    let truncated = || {
        malformed(format!(
            "central directory entry #{} is truncated",
            index + 1
        ))
    };
    if c.u32() != Some(CENTRAL_SIG) {
        return Err(malformed(format!(
            "central directory entry #{} has a bad signature",
            index + 1
        )));
    }
    let made_by = c.u16().ok_or_else(truncated)?;
    let _needed = c.u16().ok_or_else(truncated)?;
    let flags = c.u16().ok_or_else(truncated)?;
    let method = c.u16().ok_or_else(truncated)?;
    let _mtime = c.u32().ok_or_else(truncated)?;
    let crc32 = c.u32().ok_or_else(truncated)?;
    let compressed = u64::from(c.u32().ok_or_else(truncated)?);
    let uncompressed = u64::from(c.u32().ok_or_else(truncated)?);
    let name_len = usize::from(c.u16().ok_or_else(truncated)?);
    let extra_len = usize::from(c.u16().ok_or_else(truncated)?);
    let comment_len = usize::from(c.u16().ok_or_else(truncated)?);
    let disk = u64::from(c.u16().ok_or_else(truncated)?);
    let _internal_attrs = c.u16().ok_or_else(truncated)?;
    let external_attrs = c.u32().ok_or_else(truncated)?;
    let local_offset = u64::from(c.u32().ok_or_else(truncated)?);
    let name = c.bytes(name_len).ok_or_else(truncated)?;
    let extra = c.bytes(extra_len).ok_or_else(truncated)?;
    c.bytes(comment_len).ok_or_else(truncated)?;

    let mut raw = RawCentral {
        made_by,
        flags,
        method,
        crc32,
        compressed,
        uncompressed,
        name,
        external_attrs,
        local_offset,
    };
    let wanted = [
        uncompressed == U32_MAX,
        compressed == U32_MAX,
        local_offset == U32_MAX,
        disk == U16_MAX,
    ];
    let mut disk = disk;
    if wanted.iter().any(|w| *w) {
        let lossy = String::from_utf8_lossy(name);
        let fields = zip64_fields(extra, wanted)
            .ok_or_else(|| corrupt(&lossy, "its zip64 extra field is missing or too short"))?;
        raw.uncompressed = fields[0].unwrap_or(raw.uncompressed);
        raw.compressed = fields[1].unwrap_or(raw.compressed);
        raw.local_offset = fields[2].unwrap_or(raw.local_offset);
        disk = fields[3].unwrap_or(disk);
    }
    if disk != 0 {
        return Err(malformed("multi-disk (spanned) archives are not supported"));
    }
    Ok(raw)
}

/// Validates one central record (without its local header) into an entry.
fn validate_central(raw: &RawCentral<'_>, index: usize) -> Result<ZipEntry, ZipError> {
    let name = std::str::from_utf8(raw.name).map_err(|_| ZipError::NameNotUtf8 {
        index,
        lossy: String::from_utf8_lossy(raw.name).into_owned(),
    })?;
    let entry = || name.to_owned();
    if raw.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 || raw.method == 99 {
        return Err(ZipError::Encrypted { entry: entry() });
    }
    if raw.method != METHOD_STORED && raw.method != METHOD_DEFLATE {
        return Err(ZipError::UnsupportedMethod {
            entry: entry(),
            method: raw.method,
        });
    }
    check_name(name).map_err(|reason| ZipError::UnsafeName {
        entry: entry(),
        reason,
    })?;
    let host = raw.made_by >> 8;
    if host == HOST_UNIX || host == HOST_OSX {
        let mode = raw.external_attrs >> 16;
        match mode & S_IFMT {
            0 | S_IFREG | S_IFDIR => {}
            S_IFLNK => return Err(ZipError::Symlink { entry: entry() }),
            _ => {
                return Err(ZipError::SpecialFile {
                    entry: entry(),
                    mode,
                })
            }
        }
    }
    let is_dir = name.ends_with('/');
    if is_dir && raw.uncompressed != 0 {
        return Err(corrupt(name, "a directory entry declares data"));
    }
    if raw.method == METHOD_STORED && raw.compressed != raw.uncompressed {
        return Err(corrupt(
            name,
            "it is stored but its compressed and uncompressed sizes differ",
        ));
    }
    Ok(ZipEntry {
        name: name.to_owned(),
        is_dir,
        compressed_size: raw.compressed,
        uncompressed_size: raw.uncompressed,
        method: raw.method,
        crc32: raw.crc32,
        data_start: 0,
    })
}

/// Reads and cross-checks the local header of `entry`; returns `(data_start, data_end)`.
fn check_local(
    data: &[u8],
    raw: &RawCentral<'_>,
    entry: &ZipEntry,
    data_limit: u64,
) -> Result<(u64, u64), ZipError> {
    let name = entry.name.as_str();
    let oob = || ZipError::OutOfBounds {
        entry: name.to_owned(),
    };
    let header_end = raw.local_offset.checked_add(LOCAL_LEN).ok_or_else(oob)?;
    if header_end > data_limit {
        return Err(oob());
    }
    let header = slice_at(data, raw.local_offset, LOCAL_LEN).ok_or_else(oob)?;
    let mut c = Cursor::new(header);
    let truncated = || corrupt(name, "its local header is truncated");
    if c.u32() != Some(LOCAL_SIG) {
        return Err(corrupt(name, "its local header has a bad signature"));
    }
    let _needed = c.u16().ok_or_else(truncated)?;
    let flags = c.u16().ok_or_else(truncated)?;
    let method = c.u16().ok_or_else(truncated)?;
    let _mtime = c.u32().ok_or_else(truncated)?;
    let crc32 = c.u32().ok_or_else(truncated)?;
    let compressed = u64::from(c.u32().ok_or_else(truncated)?);
    let uncompressed = u64::from(c.u32().ok_or_else(truncated)?);
    let name_len = u64::from(c.u16().ok_or_else(truncated)?);
    let extra_len = u64::from(c.u16().ok_or_else(truncated)?);

    let local_name = slice_at(data, header_end, name_len).ok_or_else(oob)?;
    if local_name != raw.name {
        return Err(ZipError::NameMismatch {
            entry: name.to_owned(),
            local: String::from_utf8_lossy(local_name).into_owned(),
        });
    }
    let extra_start = header_end.checked_add(name_len).ok_or_else(oob)?;
    let extra = slice_at(data, extra_start, extra_len).ok_or_else(oob)?;
    let data_start = extra_start.checked_add(extra_len).ok_or_else(oob)?;
    let data_end = data_start
        .checked_add(entry.compressed_size)
        .ok_or_else(oob)?;
    if data_end > data_limit {
        return Err(oob());
    }

    if method != raw.method {
        return Err(corrupt(
            name,
            format!(
                "its local header says compression method {method}, the central directory {}",
                raw.method
            ),
        ));
    }
    if (flags ^ raw.flags) & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        return Err(ZipError::Encrypted {
            entry: name.to_owned(),
        });
    }
    // With a data descriptor (bit 3) the local CRC and sizes are placeholders (streaming
    // writers put zeros there); the central directory is authoritative. Without one, both
    // copies must agree so that no other unzip tool can be shown different contents.
    if flags & FLAG_DATA_DESCRIPTOR == 0 {
        let wanted = [uncompressed == U32_MAX, compressed == U32_MAX, false, false];
        let (mut uncompressed, mut compressed) = (uncompressed, compressed);
        if wanted.iter().any(|w| *w) {
            let fields = zip64_fields(extra, wanted).ok_or_else(|| {
                corrupt(name, "its local zip64 extra field is missing or too short")
            })?;
            uncompressed = fields[0].unwrap_or(uncompressed);
            compressed = fields[1].unwrap_or(compressed);
        }
        if crc32 != raw.crc32
            || compressed != entry.compressed_size
            || uncompressed != entry.uncompressed_size
        {
            return Err(corrupt(
                name,
                "its local header CRC or sizes disagree with the central directory",
            ));
        }
    }
    Ok((data_start, data_end))
}

/// Refuses duplicate names (after [`fold_name`], ignoring a directory's trailing `/`) and
/// files that other entries need as directories.
fn check_names(entries: &[ZipEntry]) -> Result<(), ZipError> {
    // Keys use NUL (refused in names) as separator: sorted, every path then directly follows
    // its own prefix-path, since NUL sorts before any other byte.
    let mut keys: Vec<(String, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let folded = fold_name(e.name.strip_suffix('/').unwrap_or(&e.name));
            (folded.replace('/', "\0"), i)
        })
        .collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        let [(a, ia), (b, ib)] = pair else { continue };
        if a == b {
            let (first, second) = if ia < ib { (ia, ib) } else { (ib, ia) };
            return Err(ZipError::Duplicate {
                entry: name_of(entries, *second),
                other: name_of(entries, *first),
            });
        }
        let is_file = entries.get(*ia).is_some_and(|e| !e.is_dir);
        if is_file && b.starts_with(a.as_str()) && b.as_bytes().get(a.len()) == Some(&0) {
            return Err(ZipError::FileDirConflict {
                entry: name_of(entries, *ib),
                file: name_of(entries, *ia),
            });
        }
    }
    Ok(())
}

/// Checks a list of file paths by the rules a deploy applies to an archive's names (each a
/// safe relative path; no two alike once folded; no file where another needs a folder), for
/// a list that arrives without an archive, such as a deploy's manifest.
pub fn check_paths<'p>(paths: impl IntoIterator<Item = &'p str>) -> Result<(), ZipError> {
    let mut entries = Vec::new();
    for name in paths {
        check_name(name).map_err(|reason| ZipError::UnsafeName {
            entry: name.to_string(),
            reason,
        })?;
        entries.push(ZipEntry {
            name: name.to_string(),
            is_dir: name.ends_with('/'),
            compressed_size: 0,
            uncompressed_size: 0,
            method: METHOD_STORED,
            crc32: 0,
            data_start: 0,
        });
    }
    check_names(&entries)
}

fn name_of(entries: &[ZipEntry], index: usize) -> String {
    entries
        .get(index)
        .map(|e| e.name.clone())
        .unwrap_or_default()
}

impl<'a> ZipArchive<'a> {
    /// Parses and validates the archive without inflating anything. Declared sizes are checked
    /// against `limits` here so that an honest but oversized upload fails before any work.
    pub fn parse(data: &'a [u8], limits: &ZipLimits) -> Result<Self, ZipError> {
        let dir = read_directory(data)?;
        if dir.entries > limits.max_entries as u64 {
            return Err(ZipError::TooManyEntries {
                count: dir.entries,
                limit: limits.max_entries,
            });
        }
        dir.offset
            .checked_add(dir.size)
            .filter(|end| *end <= dir.end_limit)
            .ok_or_else(|| malformed("the central directory lies outside the file"))?;
        if dir.entries.saturating_mul(CENTRAL_LEN as u64) > dir.size {
            return Err(malformed(format!(
                "the central directory is too small to hold {} entries",
                dir.entries
            )));
        }
        let cd = slice_at(data, dir.offset, dir.size)
            .ok_or_else(|| malformed("the central directory lies outside the file"))?;

        // Bounded by max_entries above and by the directory size.
        let count = usize::try_from(dir.entries).unwrap_or(usize::MAX);
        let mut entries = Vec::with_capacity(count);
        let mut spans: Vec<(u64, u64, usize)> = Vec::with_capacity(count);
        let mut declared_total: u64 = 0;
        let archive_cap = archive_cap(limits, data.len());
        let mut c = Cursor::new(cd);
        for index in 0..count {
            let raw = read_central(&mut c, index)?;
            let mut entry = validate_central(&raw, index)?;
            check_declared(&entry, limits, archive_cap, &mut declared_total)?;
            let (start, end) = check_local(data, &raw, &entry, dir.offset)?;
            entry.data_start = usize::try_from(start).map_err(|_| ZipError::OutOfBounds {
                entry: entry.name.clone(),
            })?;
            spans.push((raw.local_offset, end, index));
            entries.push(entry);
        }
        if c.pos != cd.len() {
            return Err(malformed(format!(
                "the central directory has {} bytes after its {} entries",
                cd.len() - c.pos,
                count
            )));
        }

        // Each entry owns [local header, end of data); sharing bytes is how overlapping-file
        // zip bombs multiply their output, and no honest writer does it.
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let [(_, prev_end, prev), (start, _, this)] = pair else {
                continue;
            };
            if start < prev_end {
                return Err(ZipError::Overlap {
                    entry: name_of(&entries, *this),
                    other: name_of(&entries, *prev),
                });
            }
        }
        check_names(&entries)?;

        Ok(ZipArchive {
            data,
            entries,
            limits: *limits,
        })
    }

    /// The validated entries, in central directory order.
    pub fn entries(&self) -> &[ZipEntry] {
        &self.entries
    }

    /// Returns the bytes of entry `index` (empty for a directory): borrowed from the upload when
    /// stored, inflated when deflated. Counts every byte produced against the entry, total and
    /// ratio caps (`inflated_so_far` is the running total over the entries already read; the
    /// bytes of this entry are added to it) and stops as soon as one is crossed, then checks the
    /// declared size and CRC-32.
    pub fn read(&self, index: usize, inflated_so_far: &mut u64) -> Result<Cow<'a, [u8]>, ZipError> {
        let entry = self
            .entries
            .get(index)
            .ok_or(ZipError::NoSuchEntry { index })?;
        if entry.is_dir {
            return Ok(Cow::Borrowed(&[]));
        }
        let raw = entry
            .data_start
            .checked_add(usize::try_from(entry.compressed_size).unwrap_or(usize::MAX))
            .and_then(|end| self.data.get(entry.data_start..end))
            .ok_or_else(|| ZipError::OutOfBounds {
                entry: entry.name.clone(),
            })?;
        let out = if entry.method == METHOD_STORED {
            self.check_produced(entry, raw.len() as u64, *inflated_so_far)?;
            Cow::Borrowed(raw)
        } else {
            Cow::Owned(self.inflate(entry, raw, *inflated_so_far)?)
        };
        let produced = out.len() as u64;
        if produced != entry.uncompressed_size {
            return Err(ZipError::SizeMismatch {
                entry: entry.name.clone(),
                declared: entry.uncompressed_size,
            });
        }
        let actual = crate::crc32::hash(&out);
        if actual != entry.crc32 {
            return Err(ZipError::CrcMismatch {
                entry: entry.name.clone(),
                expected: entry.crc32,
                actual,
            });
        }
        *inflated_so_far = inflated_so_far.saturating_add(produced);
        Ok(out)
    }

    /// The caps, applied to `produced` bytes of `entry` so far. Going past the declared size
    /// also stops the inflate: the result could never be accepted, and it bounds memory by a
    /// size [`ZipArchive::parse`] already checked against the caps.
    fn check_produced(&self, entry: &ZipEntry, produced: u64, so_far: u64) -> Result<(), ZipError> {
        let limits = &self.limits;
        let name = || entry.name.clone();
        if produced > limits.max_entry_uncompressed {
            return Err(ZipError::EntryTooLarge {
                entry: name(),
                limit: limits.max_entry_uncompressed,
            });
        }
        if so_far.saturating_add(produced) > limits.max_total_uncompressed {
            return Err(ZipError::TotalTooLarge {
                entry: name(),
                limit: limits.max_total_uncompressed,
            });
        }
        if produced > RATIO_FLOOR
            && produced > entry.compressed_size.saturating_mul(limits.max_ratio)
        {
            return Err(ZipError::RatioTooHigh {
                entry: name(),
                limit: limits.max_ratio,
            });
        }
        let cap = archive_cap(limits, self.data.len());
        if so_far.saturating_add(produced) > cap {
            return Err(ZipError::ArchiveRatioTooHigh {
                entry: name(),
                limit: limits.max_ratio,
                cap,
            });
        }
        if produced > entry.uncompressed_size {
            return Err(ZipError::SizeMismatch {
                entry: name(),
                declared: entry.uncompressed_size,
            });
        }
        Ok(())
    }

    /// Inflates `raw` into a new buffer; see [`ZipArchive::inflate_into`].
    fn inflate(&self, entry: &ZipEntry, raw: &[u8], so_far: u64) -> Result<Vec<u8>, ZipError> {
        let mut out = Vec::new();
        self.inflate_into(entry, raw, so_far, &mut out)?;
        Ok(out)
    }

    /// Streams `raw` through inflate in fixed chunks into `out`, checking the caps before
    /// keeping each chunk.
    fn inflate_into(
        &self,
        entry: &ZipEntry,
        raw: &[u8],
        so_far: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), ZipError> {
        let bad = |detail: &str| corrupt(&entry.name, format!("bad deflate data ({detail})"));
        // The declared size is only a claim: reserve a little up front and grow by doubling,
        // never past the declared size (check_produced stops there), with a fallible
        // reservation so that a claim the machine cannot hold is an error, not an abort.
        let declared = usize::try_from(entry.uncompressed_size).unwrap_or(usize::MAX);
        let oom = || ZipError::OutOfMemory {
            entry: entry.name.clone(),
        };
        out.try_reserve_exact(declared.min(INITIAL_RESERVE))
            .map_err(|_| oom())?;
        let mut state = InflateState::new_boxed(DataFormat::Raw);
        let mut chunk = vec![0u8; INFLATE_CHUNK];
        let mut input = raw;
        loop {
            let res = inflate(&mut state, input, &mut chunk, MZFlush::None);
            input = input.get(res.bytes_consumed..).unwrap_or_default();
            let written = chunk.get(..res.bytes_written).unwrap_or_default();
            let produced = (out.len() as u64).saturating_add(written.len() as u64);
            self.check_produced(entry, produced, so_far)?;
            if out.capacity() - out.len() < written.len() {
                let grow = out.len().min(declared.saturating_sub(out.len()));
                out.try_reserve_exact(grow.max(written.len()))
                    .map_err(|_| oom())?;
            }
            out.extend_from_slice(written);
            match res.status {
                Ok(MZStatus::StreamEnd) => return Ok(()),
                Ok(_) if res.bytes_consumed == 0 && res.bytes_written == 0 => {
                    return Err(bad("no progress"));
                }
                Ok(_) => {}
                Err(MZError::Buf) if input.is_empty() => {
                    return Err(bad("the stream ends early"));
                }
                Err(_) => return Err(bad("invalid stream")),
            }
        }
    }
}

/// Most bytes all entries of an archive of `archive_len` bytes may inflate to under
/// [`ZipLimits::max_ratio`].
fn archive_cap(limits: &ZipLimits, archive_len: usize) -> u64 {
    limits
        .max_ratio
        .saturating_mul(archive_len as u64)
        .max(ARCHIVE_RATIO_FLOOR)
}

/// Checks one entry's declared size against the caps while parsing (`archive_cap` is
/// [`archive_cap`] of the upload).
fn check_declared(
    entry: &ZipEntry,
    limits: &ZipLimits,
    archive_cap: u64,
    total: &mut u64,
) -> Result<(), ZipError> {
    let size = entry.uncompressed_size;
    if size > limits.max_entry_uncompressed {
        return Err(ZipError::EntryTooLarge {
            entry: entry.name.clone(),
            limit: limits.max_entry_uncompressed,
        });
    }
    *total = total.saturating_add(size);
    if *total > limits.max_total_uncompressed {
        return Err(ZipError::TotalTooLarge {
            entry: entry.name.clone(),
            limit: limits.max_total_uncompressed,
        });
    }
    if size > RATIO_FLOOR && size > entry.compressed_size.saturating_mul(limits.max_ratio) {
        return Err(ZipError::RatioTooHigh {
            entry: entry.name.clone(),
            limit: limits.max_ratio,
        });
    }
    if *total > archive_cap {
        return Err(ZipError::ArchiveRatioTooHigh {
            entry: entry.name.clone(),
            limit: limits.max_ratio,
            cap: archive_cap,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zip::writer::ZipWriter;
    use proptest::prelude::*;

    // Archives made by the real tools (see the comment on each), embedded so that the tests
    // need neither Info-ZIP nor Python. Contents: index.html = INDEX, css/a.css = CSS,
    // one.txt = "x", css/ a directory.
    const INDEX: &[u8] = b"<h1>hello hello hello hello hello</h1>\n";
    const CSS: &[u8] = b"body{color:red}\n";

    const INFOZIP: &str = concat!(
        "504b030414000000080083182258475aeac613000000270000000a001c00696e6465782e68746d6c",
        "5554090003257d9365f940016b75780b000104000000000400000000b3c930b4cb48cdc9c957c041",
        "dae80355700100504b03040a0000000000831822588316dc8c010000000100000007001c006f6e65",
        "2e7478745554090003257d9365f940016b75780b00010400000000040000000078504b01021e0314",
        "000000080083182258475aeac613000000270000000a0018000000000001000000a4810000000069",
        "6e6465782e68746d6c5554050003257d936575780b000104000000000400000000504b01021e030a",
        "0000000000831822588316dc8c0100000001000000070018000000000001000000a481570000006f",
        "6e652e7478745554050003257d936575780b000104000000000400000000504b0506000000000200",
        "02009d000000990000000000",
    );
    const INFOZIP_STREAMED: &str = concat!(
        "504b0304140008000800831822580000000000000000270000000a000000696e6465782e68746d6c",
        "b3c930b4cb48cdc9c957c041dae80355700100504b0708475aeac61300000027000000504b03040a",
        "000000000083182258000000000000000000000000040000006373732f504b030414000800080083",
        "182258000000000000000010000000090000006373732f612e6373734bca4fa9ac4ececfc92fb22a",
        "4a4da9e50200504b0708068504871200000010000000504b03041400080008008318225800000000",
        "0000000001000000070000006f6e652e747874ab0000504b07088316dc8c0300000001000000504b",
        "01021e0314000800080083182258475aeac613000000270000000a0000000000000001000000a481",
        "00000000696e6465782e68746d6c504b01021e030a00000000008318225800000000000000000000",
        "0000040000000000000000001000ed414b0000006373732f504b01021e0314000800080083182258",
        "068504871200000010000000090000000000000001000000a4816d0000006373732f612e63737350",
        "4b01021e03140008000800831822588316dc8c0300000001000000070000000000000001000000a4",
        "81b60000006f6e652e747874504b05060000000004000400d6000000ee0000000000",
    );
    const INFOZIP_FD: &str = concat!(
        "504b0304140008000800831822580000000000000000270000000a000000696e6465782e68746d6c",
        "b3c930b4cb48cdc9c957c041dae80355700100504b0708475aeac61300000027000000504b03040a",
        "000000000083182258000000000000000000000000040000006373732f504b030414000800080083",
        "182258000000000000000010000000090000006373732f612e6373734bca4fa9ac4ececfc92fb22a",
        "4a4da9e50200504b0708068504871200000010000000504b01021e0314000800080083182258475a",
        "eac613000000270000000a0000000000000001000000a48100000000696e6465782e68746d6c504b",
        "01021e030a000000000083182258000000000000000000000000040000000000000000001000ed41",
        "4b0000006373732f504b01021e031400080008008318225806850487120000001000000009000000",
        "0000000001000000a4816d0000006373732f612e637373504b05060000000003000300a1000000b6",
        "0000000000",
    );
    const INFOZIP_ZIP64: &str = concat!(
        "504b03042d000000080083182258475aeac6ffffffffffffffff0a001400696e6465782e68746d6c",
        "0100100027000000000000001300000000000000b3c930b4cb48cdc9c957c041dae8035570010050",
        "4b03042d00000000008318225800000000ffffffffffffffff040014006373732f01001000000000",
        "00000000000000000000000000504b03042d00000000008318225806850487ffffffffffffffff09",
        "0014006373732f612e6373730100100010000000000000001000000000000000626f64797b636f6c",
        "6f723a7265647d0a504b01021e032d000000080083182258475aeac613000000ffffffff0a000c00",
        "0000000001000000a48100000000696e6465782e68746d6c010008002700000000000000504b0102",
        "1e030a0000000000831822580000000000000000ffffffff04000c000000000000001000ed414f00",
        "00006373732f010008000000000000000000504b01021e032d000000000083182258068504871000",
        "0000ffffffff09000c000000000001000000a481850000006373732f612e63737301000800100000",
        "0000000000504b06062c000000000000001e032d0000000000000000000300000000000000030000",
        "0000000000c500000000000000d000000000000000504b0607000000009501000000000000010000",
        "00504b05060000000003000300c5000000ffffffff0000",
    );
    const PYTHON_COMMENT_UTF8: &str = concat!(
        "504b030414000000080083182258475aeac613000000270000000a000000696e6465782e68746d6c",
        "b3c930b4cb48cdc9c957c041dae80355700100504b0304140000080000831822587fd6b67f080000",
        "00080000000c000000636166c3a92fc3bc2e747874756e69636f64650a504b030414000000000083",
        "18225800000000000000000000000006000000656d7074792f504b01021403140000000800831822",
        "58475aeac613000000270000000a0000000000000000000000800100000000696e6465782e68746d",
        "6c504b01021403140000080000831822587fd6b67f08000000080000000c00000000000000000000",
        "0080013b000000636166c3a92fc3bc2e747874504b01021403140000000000831822580000000000",
        "0000000000000006000000000000000000000080016d000000656d7074792f504b05060000000003",
        "000300a60000009100000013006465706c6f7920504b050620636f6d6d656e74",
    );
    const PYTHON_ZIP64: &str = concat!(
        "504b03042d00000008008318225884b8c4d0ffffffffffffffff070014006269672e747874010010",
        "002c0100000000000009000000000000004b4c4a4e1c45c42100504b03042d000000000083182258",
        "0bf94356ffffffffffffffff05001400732e74787401001000060000000000000006000000000000",
        "0073746f726564504b01022d032d00000008008318225884b8c4d0090000002c0100000700000000",
        "000000000000008001000000006269672e747874504b01022d032d0000000000831822580bf94356",
        "0600000006000000050000000000000000000000800142000000732e747874504b05060000000002",
        "000200680000007f0000000000",
    );
    const INFOZIP_SYMLINK: &str = concat!(
        "504b030414000000080083182258475aeac613000000270000000a001c00696e6465782e68746d6c",
        "5554090003257d9365f940016b75780b000104000000000400000000b3c930b4cb48cdc9c957c041",
        "dae80355700100504b03040a000000000083182258c9e94b770a0000000a00000009001c006c696e",
        "6b2e68746d6c5554090003257d9365257d936575780b000104000000000400000000696e6465782e",
        "68746d6c504b01021e0314000000080083182258475aeac613000000270000000a00180000000000",
        "01000000a48100000000696e6465782e68746d6c5554050003257d936575780b0001040000000004",
        "00000000504b01021e030a000000000083182258c9e94b770a0000000a0000000900180000000000",
        "00000000ffa1570000006c696e6b2e68746d6c5554050003257d936575780b000104000000000400",
        "000000504b050600000000020002009f000000a40000000000",
    );

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn limits() -> ZipLimits {
        ZipLimits::default()
    }

    /// Parses and reads every entry: (name, bytes) in directory order.
    fn read_all(data: &[u8], limits: &ZipLimits) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
        let archive = ZipArchive::parse(data, limits)?;
        let mut total = 0;
        let mut out = Vec::new();
        for (i, e) in archive.entries().iter().enumerate() {
            out.push((e.name.clone(), archive.read(i, &mut total)?.into_owned()));
        }
        Ok(out)
    }

    fn files(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect()
    }

    /// One hand-built entry; every field a hostile archive might lie about is settable.
    #[derive(Clone)]
    struct Raw {
        name: Vec<u8>,
        local_name: Option<Vec<u8>>,
        /// Bytes written as the entry's data (already compressed for method 8).
        data: Vec<u8>,
        method: u16,
        flags: u16,
        made_by: u16,
        external: u32,
        crc: u32,
        local_crc: Option<u32>,
        declared: u32,
        /// Streaming style: flag bit 3, zero CRC and sizes locally, descriptor after the data.
        descriptor: bool,
        offset: Option<u32>,
    }

    impl Raw {
        fn stored(name: &str, data: &[u8]) -> Raw {
            Raw {
                name: name.as_bytes().to_vec(),
                local_name: None,
                data: data.to_vec(),
                method: 0,
                flags: 0,
                made_by: 0x031e,
                external: 0o100644 << 16,
                crc: crate::crc32::hash(data),
                local_crc: None,
                declared: data.len() as u32,
                descriptor: false,
                offset: None,
            }
        }

        fn deflated(name: &str, data: &[u8]) -> Raw {
            Raw {
                data: miniz_oxide::deflate::compress_to_vec(data, 6),
                method: 8,
                ..Raw::stored(name, data)
            }
        }

        fn with(mut self, f: impl FnOnce(&mut Raw)) -> Raw {
            f(&mut self);
            self
        }
    }

    fn build(entries: &[Raw]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for e in entries {
            let offset = out.len() as u32;
            let flags = e.flags | if e.descriptor { 8 } else { 0 };
            let local_name = e.local_name.as_ref().unwrap_or(&e.name);
            let (crc, csize, usize_) = if e.descriptor {
                (0, 0, 0)
            } else {
                (
                    e.local_crc.unwrap_or(e.crc),
                    e.data.len() as u32,
                    e.declared,
                )
            };
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            for v in [20u16, flags, e.method, 0, 0x21] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for v in [crc, csize, usize_] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for v in [local_name.len() as u16, 0] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(local_name);
            out.extend_from_slice(&e.data);
            if e.descriptor {
                for v in [0x0807_4b50u32, e.crc, e.data.len() as u32, e.declared] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            for v in [e.made_by, 20, flags, e.method, 0, 0x21] {
                central.extend_from_slice(&v.to_le_bytes());
            }
            for v in [e.crc, e.data.len() as u32, e.declared] {
                central.extend_from_slice(&v.to_le_bytes());
            }
            for v in [e.name.len() as u16, 0, 0, 0, 0] {
                central.extend_from_slice(&v.to_le_bytes());
            }
            for v in [e.external, e.offset.unwrap_or(offset)] {
                central.extend_from_slice(&v.to_le_bytes());
            }
            central.extend_from_slice(&e.name);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        eocd(
            &mut out,
            entries.len() as u16,
            central.len() as u32,
            cd_offset,
        );
        out
    }

    fn eocd(out: &mut Vec<u8>, count: u16, size: u32, offset: u32) {
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        for v in [0u16, 0, count, count] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [size, offset] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&0u16.to_le_bytes());
    }

    fn parse_err(entries: &[Raw]) -> ZipError {
        ZipArchive::parse(&build(entries), &limits()).unwrap_err()
    }

    /// Asserts `err` mentions `entry` in its message (quoted the way Display quotes names).
    fn names(err: &ZipError, entry: &str) {
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("'{}'", entry.escape_debug())),
            "{msg:?} does not name {entry:?}"
        );
    }

    #[test]
    fn reads_infozip_archive_with_extra_fields() {
        let got = read_all(&hex(INFOZIP), &limits()).unwrap();
        assert_eq!(got, files(&[("index.html", INDEX), ("one.txt", b"x")]));
        let data = hex(INFOZIP);
        let archive = ZipArchive::parse(&data, &limits()).unwrap();
        let index = &archive.entries()[0];
        assert_eq!(index.method, METHOD_DEFLATE);
        assert_eq!(index.uncompressed_size, INDEX.len() as u64);
        assert!(index.compressed_size < index.uncompressed_size);
    }

    #[test]
    fn reads_infozip_streamed_archive_with_data_descriptors() {
        // `zip -r - index.html css one.txt | cat`: bit 3 on every file, zero local sizes.
        let data = hex(INFOZIP_STREAMED);
        let expected = files(&[
            ("index.html", INDEX),
            ("css/", b""),
            ("css/a.css", CSS),
            ("one.txt", b"x"),
        ]);
        assert_eq!(read_all(&data, &limits()).unwrap(), expected);
        let archive = ZipArchive::parse(&data, &limits()).unwrap();
        assert!(archive.entries()[1].is_dir);
        assert!(!archive.entries()[0].is_dir);
    }

    #[test]
    fn reads_infozip_fd_archive() {
        // `zip -fd`: data descriptors forced.
        let expected = files(&[("index.html", INDEX), ("css/", b""), ("css/a.css", CSS)]);
        assert_eq!(read_all(&hex(INFOZIP_FD), &limits()).unwrap(), expected);
    }

    #[test]
    fn reads_infozip_zip64_archive() {
        // `zip -fz`: zip64 extra fields locally and centrally, zip64 end records, saturated
        // offset in the classic end record.
        let expected = files(&[("index.html", INDEX), ("css/", b""), ("css/a.css", CSS)]);
        assert_eq!(read_all(&hex(INFOZIP_ZIP64), &limits()).unwrap(), expected);
    }

    #[test]
    fn reads_python_zip64_local_headers() {
        // zipfile with force_zip64=True: both local sizes saturated, zip64 extra locally only.
        let abc = b"abc".repeat(100);
        let expected = files(&[("big.txt", &abc), ("s.txt", b"stored")]);
        assert_eq!(read_all(&hex(PYTHON_ZIP64), &limits()).unwrap(), expected);
    }

    #[test]
    fn reads_python_archive_with_comment_and_utf8_names() {
        // The comment contains a fake end-of-directory signature.
        let expected = files(&[
            ("index.html", INDEX),
            ("café/ü.txt", b"unicode\n"),
            ("empty/", b""),
        ]);
        assert_eq!(
            read_all(&hex(PYTHON_COMMENT_UTF8), &limits()).unwrap(),
            expected
        );
    }

    #[test]
    fn refuses_infozip_symlink() {
        // `zip -y`: link.html -> index.html stored as a link.
        let err = ZipArchive::parse(&hex(INFOZIP_SYMLINK), &limits()).unwrap_err();
        assert_eq!(
            err,
            ZipError::Symlink {
                entry: "link.html".into()
            }
        );
        names(&err, "link.html");
    }

    #[test]
    fn reads_hand_built_stored_and_deflated() {
        let big = b"data ".repeat(10_000);
        let data = build(&[
            Raw::stored("a.txt", b"hello"),
            Raw::deflated("dir/b.txt", &big),
            Raw::stored("dir/", b""),
        ]);
        let got = read_all(&data, &limits()).unwrap();
        assert_eq!(
            got,
            files(&[("a.txt", b"hello"), ("dir/b.txt", &big), ("dir/", b"")])
        );
        // Stored entries are borrowed from the upload, not copied.
        let archive = ZipArchive::parse(&data, &limits()).unwrap();
        let mut total = 0;
        assert!(matches!(
            archive.read(0, &mut total).unwrap(),
            Cow::Borrowed(_)
        ));
        assert_eq!(total, 5);
        archive.read(1, &mut total).unwrap();
        assert_eq!(total, 5 + big.len() as u64);
        assert_eq!(
            archive.read(3, &mut total),
            Err(ZipError::NoSuchEntry { index: 3 })
        );
    }

    #[test]
    fn reads_hand_built_data_descriptors() {
        // The way streaming zippers write: bit 3, zero CRC/sizes in the local header, then a
        // signed descriptor after the data; one entry stored, one deflated.
        let big = b"streamed ".repeat(1000);
        let data = build(&[
            Raw::deflated("s/big.txt", &big).with(|r| r.descriptor = true),
            Raw::stored("s/small.txt", b"tiny").with(|r| r.descriptor = true),
        ]);
        assert_eq!(&data[6..8], &8u16.to_le_bytes());
        assert_eq!(&data[14..26], &[0; 12]);
        let got = read_all(&data, &limits()).unwrap();
        assert_eq!(got, files(&[("s/big.txt", &big), ("s/small.txt", b"tiny")]));
    }

    #[test]
    fn reads_writer_zip64_archive() {
        let mut w = ZipWriter::new(Vec::new());
        w.force_zip64();
        w.add_file("a.txt", &b"zip64 ".repeat(500), true).unwrap();
        w.add_file("b/c.bin", &[1, 2, 3], true).unwrap();
        let data = w.finish().unwrap();
        // Classic end record fully saturated: everything comes from the zip64 records.
        let tail = &data[data.len() - 22..];
        assert_eq!(&tail[8..10], &[0xff, 0xff]);
        assert_eq!(&tail[16..20], &[0xff; 4]);
        let got = read_all(&data, &limits()).unwrap();
        assert_eq!(
            got,
            files(&[("a.txt", &b"zip64 ".repeat(500)), ("b/c.bin", &[1, 2, 3])])
        );
    }

    #[test]
    fn empty_archive_is_fine() {
        let mut data = Vec::new();
        eocd(&mut data, 0, 0, 0);
        assert!(ZipArchive::parse(&data, &limits())
            .unwrap()
            .entries()
            .is_empty());
    }

    #[test]
    fn refuses_non_zip_input() {
        for data in [
            &b""[..],
            b"PK",
            &[0u8; 100],
            b"<html>not a zip</html> padding padding",
        ] {
            let err = ZipArchive::parse(data, &limits()).unwrap_err();
            assert!(matches!(err, ZipError::Malformed(_)), "{err}");
            assert!(!err.is_limit());
        }
    }

    #[test]
    fn refuses_other_compression_methods() {
        let err = parse_err(&[Raw::stored("a.bin", b"data").with(|r| r.method = 12)]);
        assert_eq!(
            err.to_string(),
            "entry 'a.bin' uses compression method 12 (bzip2); only stored and deflate are supported"
        );
        for (method, label) in [
            (9, "deflate64"),
            (14, "LZMA"),
            (93, "zstd"),
            (1234, "unknown"),
        ] {
            let err = parse_err(&[Raw::stored("x/y.js", b"data").with(|r| r.method = method)]);
            assert_eq!(
                err,
                ZipError::UnsupportedMethod {
                    entry: "x/y.js".into(),
                    method
                }
            );
            assert!(err.to_string().contains(label), "{err}");
        }
    }

    #[test]
    fn refuses_encrypted_entries() {
        let err = parse_err(&[Raw::stored("secret.txt", b"data").with(|r| r.flags = 1)]);
        assert_eq!(
            err,
            ZipError::Encrypted {
                entry: "secret.txt".into()
            }
        );
        names(&err, "secret.txt");
        // AES (method 99) and strong encryption (bit 6) too.
        let err = parse_err(&[Raw::stored("aes.txt", b"data").with(|r| r.method = 99)]);
        assert!(matches!(err, ZipError::Encrypted { .. }));
        let err = parse_err(&[Raw::stored("strong.txt", b"data").with(|r| r.flags = 0x40)]);
        assert!(matches!(err, ZipError::Encrypted { .. }));
    }

    #[test]
    fn refuses_unsafe_names() {
        let cases: &[(&str, &str)] = &[
            ("/etc/passwd", "absolute"),
            ("/", "absolute"),
            ("..", "'..'"),
            ("../escape.txt", "'..'"),
            ("a/../../b", "'..'"),
            ("a/..", "'..'"),
            ("a\\b.txt", "backslash"),
            ("..\\evil", "backslash"),
            ("C:/windows.txt", "drive letter"),
            ("c:evil", "drive letter"),
            ("a\0b", "NUL"),
            ("a\nb", "control"),
            ("./a", "'.'"),
            ("a//b", "empty path component"),
            ("", "empty"),
        ];
        for (name, reason) in cases {
            let err = parse_err(&[Raw::stored(name, b"x")]);
            assert!(
                matches!(&err, ZipError::UnsafeName { entry, reason: r } if entry == name && r.contains(reason)),
                "{name:?}: {err}"
            );
            names(&err, name);
        }
        let long = "a/".repeat(600) + "b";
        assert!(matches!(
            parse_err(&[Raw::stored(&long, b"x")]),
            ZipError::UnsafeName { .. }
        ));
        // Colons elsewhere, dots inside names, and directories are fine.
        let data = build(&[
            Raw::stored("ab:c/d..e/.well-known/x.txt", b"x"),
            Raw::stored("e/", b""),
        ]);
        ZipArchive::parse(&data, &limits()).unwrap();
    }

    #[test]
    fn refuses_symlinks_and_special_files() {
        let link = Raw::stored("link", b"/etc/passwd").with(|r| r.external = 0o120777 << 16);
        let err = parse_err(std::slice::from_ref(&link));
        assert_eq!(
            err,
            ZipError::Symlink {
                entry: "link".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "entry 'link' is a symbolic link; links are not allowed in a deploy"
        );
        // macOS host too.
        let err = parse_err(&[link.clone().with(|r| r.made_by = 19 << 8)]);
        assert!(matches!(err, ZipError::Symlink { .. }));
        // A FAT host's attributes carry no Unix mode: not a link.
        ZipArchive::parse(&build(&[link.with(|r| r.made_by = 0x0014)]), &limits()).unwrap();

        let fifo = Raw::stored("pipe", b"").with(|r| r.external = 0o010644 << 16);
        let err = parse_err(&[fifo]);
        assert!(
            matches!(&err, ZipError::SpecialFile { entry, mode } if entry == "pipe" && *mode == 0o010644)
        );
        names(&err, "pipe");
    }

    #[test]
    fn refuses_duplicate_names() {
        let err = parse_err(&[Raw::stored("a.txt", b"1"), Raw::stored("a.txt", b"2")]);
        assert_eq!(
            err,
            ZipError::Duplicate {
                entry: "a.txt".into(),
                other: "a.txt".into()
            }
        );
        let err = parse_err(&[
            Raw::stored("Site/Index.HTML", b"1"),
            Raw::stored("x", b""),
            Raw::stored("site/index.html", b"2"),
        ]);
        assert_eq!(
            err,
            ZipError::Duplicate {
                entry: "site/index.html".into(),
                other: "Site/Index.HTML".into()
            }
        );
        names(&err, "site/index.html");
        // Unicode folding.
        let err = parse_err(&[Raw::stored("ÉTÉ.txt", b"1"), Raw::stored("été.txt", b"2")]);
        assert!(matches!(err, ZipError::Duplicate { .. }), "{err}");
        // A directory and a file of the same name.
        let err = parse_err(&[Raw::stored("dir/", b""), Raw::stored("dir", b"2")]);
        assert!(matches!(err, ZipError::Duplicate { .. }), "{err}");
        // Twice the same directory.
        let err = parse_err(&[Raw::stored("d/", b""), Raw::stored("D/", b"")]);
        assert!(matches!(err, ZipError::Duplicate { .. }), "{err}");
    }

    #[test]
    fn refuses_unicode_equal_names() {
        // "café.html" precomposed (U+00E9, macOS-made archives) and decomposed (e + U+0301):
        // one name to a user, to a browser's normalised URL and to some file systems.
        let composed = "caf\u{e9}.html";
        let decomposed = "cafe\u{301}.html";
        let err = parse_err(&[
            Raw::stored(composed, b"1"),
            Raw::stored("x", b""),
            Raw::stored(decomposed, b"2"),
        ]);
        assert_eq!(
            err,
            ZipError::Duplicate {
                entry: decomposed.into(),
                other: composed.into()
            }
        );
        // Both named, told apart: the combining mark is shown escaped.
        assert_eq!(
            err.to_string(),
            "entry 'cafe\\u{301}.html' duplicates entry 'caf\u{e9}.html' (names are compared ignoring case and Unicode normalization)"
        );
        // With case folding and in a directory part, and as a file/directory clash.
        let err = parse_err(&[
            Raw::stored("D\u{c9}J\u{c0}/a.txt", b"1"),
            Raw::stored("de\u{301}ja\u{300}/A.TXT", b"2"),
        ]);
        assert!(matches!(err, ZipError::Duplicate { .. }), "{err}");
        let err = parse_err(&[
            Raw::stored("\u{c5}ngstr\u{f6}m", b"file"),
            Raw::stored("A\u{30a}ngstro\u{308}m/x", b"2"),
        ]);
        assert!(matches!(err, ZipError::FileDirConflict { .. }), "{err}");
        // Canonically different names stay different (compatibility forms are not folded:
        // "ﬁ" is not "fi"), and the same order of combining marks is not needed twice.
        let data = build(&[
            Raw::stored("\u{fb01}le.txt", b"1"),
            Raw::stored("file.txt", b"2"),
            Raw::stored("caf\u{e9}.html", b"3"),
            Raw::stored("cafe.html", b"4"),
        ]);
        assert_eq!(
            ZipArchive::parse(&data, &limits()).unwrap().entries().len(),
            4
        );
        // Combining marks in another order are canonically equal too.
        let err = parse_err(&[
            Raw::stored("q\u{307}\u{323}.txt", b"1"),
            Raw::stored("q\u{323}\u{307}.txt", b"2"),
        ]);
        assert!(matches!(err, ZipError::Duplicate { .. }), "{err}");
    }

    #[test]
    fn refuses_file_used_as_directory() {
        let err = parse_err(&[
            Raw::stored("a", b"file"),
            Raw::stored("a-b", b""),
            Raw::stored("a.c", b""),
            Raw::stored("A/x/y", b"below a file"),
        ]);
        assert_eq!(
            err,
            ZipError::FileDirConflict {
                entry: "A/x/y".into(),
                file: "a".into()
            }
        );
        names(&err, "A/x/y");
        // A directory entry with files under it is the normal case.
        let data = build(&[
            Raw::stored("a/", b""),
            Raw::stored("a/b", b"1"),
            Raw::stored("ab", b"2"),
        ]);
        ZipArchive::parse(&data, &limits()).unwrap();
    }

    #[test]
    fn utf8_names_accepted_cp437_refused() {
        // Valid UTF-8 without flag bit 11 (as many Unix zippers write) is accepted.
        let data = build(&[Raw::stored("naïve.txt", b"x")]);
        assert_eq!(
            ZipArchive::parse(&data, &limits()).unwrap().entries()[0].name,
            "naïve.txt"
        );
        // CP437 "é" (0x82) is not UTF-8, with or without bit 11.
        for flags in [0, 1 << 11] {
            let raw = Raw::stored("x", b"x").with(|r| {
                r.name = b"caf\x82.txt".to_vec();
                r.flags = flags;
            });
            let err = parse_err(&[Raw::stored("ok.txt", b""), raw]);
            assert!(
                matches!(&err, ZipError::NameNotUtf8 { index: 1, lossy } if lossy == "caf\u{fffd}.txt"),
                "{err}"
            );
            assert!(err.to_string().contains("#2 ('caf\u{fffd}.txt')"), "{err}");
        }
    }

    #[test]
    fn refuses_local_name_mismatch() {
        let err = parse_err(&[Raw::stored("index.html", b"x").with(|r| {
            r.local_name = Some(b"../../etc/x".to_vec());
        })]);
        assert_eq!(
            err,
            ZipError::NameMismatch {
                entry: "index.html".into(),
                local: "../../etc/x".into()
            }
        );
        names(&err, "index.html");
    }

    #[test]
    fn refuses_local_header_disagreement() {
        let err = parse_err(&[Raw::stored("a.txt", b"x").with(|r| r.local_crc = Some(7))]);
        assert!(matches!(&err, ZipError::CorruptEntry { entry, .. } if entry == "a.txt"));
        names(&err, "a.txt");
        // Method differs between the headers.
        let mut data = build(&[Raw::stored("m.txt", b"x")]);
        data[8] = 8;
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert!(
            matches!(&err, ZipError::CorruptEntry { entry, .. } if entry == "m.txt"),
            "{err}"
        );
        // Bad local signature.
        let mut data = build(&[Raw::stored("s.txt", b"x")]);
        data[0] = b'X';
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert!(
            matches!(&err, ZipError::CorruptEntry { entry, .. } if entry == "s.txt"),
            "{err}"
        );
    }

    #[test]
    fn refuses_overlapping_entries() {
        // Entry "outer" stores, as its data, a complete local header + data of "inner"; the
        // central directory points at both, so inner's bytes are counted twice.
        let inner = build(&[Raw::stored("inner", b"payload")]);
        let inner_local_len = 30 + 5 + 7;
        let outer_data = inner[..inner_local_len].to_vec();
        let data = build(&[
            Raw::stored("outer", &outer_data),
            Raw::stored("inner", b"payload").with(|r| r.offset = Some(30 + 5)),
        ]);
        // build() wrote inner's own local header too, after outer; the directory points into
        // outer instead.
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert_eq!(
            err,
            ZipError::Overlap {
                entry: "inner".into(),
                other: "outer".into()
            }
        );
        names(&err, "inner");
        // Two directory records pointing at one local header: the classic overlapping-file
        // bomb, caught before the (also duplicate) names are compared.
        let data = build(&[
            Raw::stored("one", b"1"),
            Raw::stored("one", b"1").with(|r| r.offset = Some(0)),
        ]);
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert!(matches!(err, ZipError::Overlap { .. }), "{err}");
    }

    #[test]
    fn refuses_out_of_bounds_entries() {
        // Local header offset past the central directory.
        let err = parse_err(&[Raw::stored("far.txt", b"x").with(|r| r.offset = Some(1_000_000))]);
        assert_eq!(
            err,
            ZipError::OutOfBounds {
                entry: "far.txt".into()
            }
        );
        names(&err, "far.txt");
        // Data running into the central directory: declare more compressed bytes than written.
        let mut data = build(&[Raw::stored("long.txt", b"abc")]);
        let cd = data.len() - 22 - (46 + 8);
        data[cd + 20..cd + 24].copy_from_slice(&1000u32.to_le_bytes());
        data[cd + 24..cd + 28].copy_from_slice(&1000u32.to_le_bytes());
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert_eq!(
            err,
            ZipError::OutOfBounds {
                entry: "long.txt".into()
            }
        );
    }

    #[test]
    fn refuses_bad_directory_structure() {
        let good = build(&[Raw::stored("a", b"1"), Raw::stored("b", b"2")]);
        let eocd_at = good.len() - 22;
        // Entry count says three.
        let mut data = good.clone();
        data[eocd_at + 8..eocd_at + 12].copy_from_slice(&[3, 0, 3, 0]);
        assert!(matches!(
            ZipArchive::parse(&data, &limits()),
            Err(ZipError::Malformed(_))
        ));
        // Entry count says one: bytes left over in the directory.
        let mut data = good.clone();
        data[eocd_at + 8..eocd_at + 12].copy_from_slice(&[1, 0, 1, 0]);
        assert!(matches!(
            ZipArchive::parse(&data, &limits()),
            Err(ZipError::Malformed(_))
        ));
        // Directory offset beyond the end record.
        let mut data = good.clone();
        data[eocd_at + 16..eocd_at + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            ZipArchive::parse(&data, &limits()),
            Err(ZipError::Malformed(_))
        ));
        // Multi-disk.
        let mut data = good.clone();
        data[eocd_at + 4] = 1;
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert!(err.to_string().contains("multi-disk"), "{err}");
        // Truncated anywhere.
        for cut in 1..good.len() {
            assert!(ZipArchive::parse(&good[..cut], &limits()).is_err());
        }
    }

    #[test]
    fn end_record_search_handles_comments() {
        let mut data = build(&[Raw::stored("a", b"1")]);
        let comment = b"my comment PK\x05\x06 with a fake signature";
        let len = data.len();
        data[len - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
        data.extend_from_slice(comment);
        assert_eq!(read_all(&data, &limits()).unwrap(), files(&[("a", b"1")]));
        // A maximal comment.
        let mut data = build(&[Raw::stored("a", b"1")]);
        let len = data.len();
        data[len - 2..].copy_from_slice(&u16::MAX.to_le_bytes());
        data.extend(std::iter::repeat_n(b'c', 65535));
        assert_eq!(read_all(&data, &limits()).unwrap(), files(&[("a", b"1")]));
        // A comment that holds a complete fake end record (the real one still wins), then
        // bytes appended after the archive.
        let mut data = build(&[Raw::stored("a", b"1")]);
        let mut fake = Vec::new();
        eocd(&mut fake, 0, 0, 0);
        let len = data.len();
        data[len - 2..].copy_from_slice(&(fake.len() as u16 + 3).to_le_bytes());
        data.extend_from_slice(&fake);
        data.extend_from_slice(b"end");
        assert_eq!(read_all(&data, &limits()).unwrap(), files(&[("a", b"1")]));
        data.extend_from_slice(b"appended");
        assert!(
            read_all(&data, &limits()).unwrap().is_empty(),
            "the fake one is all that fits"
        );
        // A comment length running past the end is not an end record.
        let mut data = build(&[Raw::stored("a", b"1")]);
        let len = data.len();
        data[len - 2..].copy_from_slice(&u16::MAX.to_le_bytes());
        data.extend(std::iter::repeat_n(b'c', 65535));
        data.truncate(data.len() - 1);
        assert!(ZipArchive::parse(&data, &limits()).is_err());
    }

    #[test]
    fn refuses_too_many_entries() {
        let entries: Vec<Raw> = (0..5)
            .map(|i| Raw::stored(&format!("f{i}"), b"x"))
            .collect();
        let small = ZipLimits {
            max_entries: 4,
            ..limits()
        };
        let err = ZipArchive::parse(&build(&entries), &small).unwrap_err();
        assert_eq!(err, ZipError::TooManyEntries { count: 5, limit: 4 });
        assert!(err.is_limit());
        assert!(err.to_string().contains("max_entries"), "{err}");
        ZipArchive::parse(&build(&entries[..4]), &small).unwrap();
    }

    #[test]
    fn checks_crc_and_size() {
        let data = build(&[Raw::stored("bad.crc", b"data").with(|r| {
            r.crc ^= 1;
            r.local_crc = Some(r.crc);
        })]);
        let archive = ZipArchive::parse(&data, &limits()).unwrap();
        let mut total = 0;
        let err = archive.read(0, &mut total).unwrap_err();
        assert!(matches!(&err, ZipError::CrcMismatch { entry, .. } if entry == "bad.crc"));
        names(&err, "bad.crc");
        assert_eq!(total, 0, "a refused entry adds nothing");

        // Deflated data shorter than declared.
        let data = build(&[Raw::deflated("short.txt", b"abcdef").with(|r| r.declared = 7)]);
        let archive = ZipArchive::parse(&data, &limits()).unwrap();
        let err = archive.read(0, &mut 0).unwrap_err();
        assert_eq!(
            err,
            ZipError::SizeMismatch {
                entry: "short.txt".into(),
                declared: 7
            }
        );
        // Stored sizes must agree.
        let err = parse_err(&[Raw::stored("st.txt", b"abc").with(|r| r.declared = 2)]);
        assert!(matches!(&err, ZipError::CorruptEntry { entry, .. } if entry == "st.txt"));
        // Garbage deflate stream, and one cut short.
        let err = read_all(
            &build(&[Raw::deflated("g.bin", b"x").with(|r| r.data = vec![0xff; 16])]),
            &limits(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ZipError::CorruptEntry { entry, .. } if entry == "g.bin"),
            "{err}"
        );
        let full = miniz_oxide::deflate::compress_to_vec(&b"cut ".repeat(5000), 6);
        let err = read_all(
            &build(&[Raw::deflated("cut.txt", &b"cut ".repeat(5000))
                .with(|r| r.data = full[..full.len() / 2].to_vec())]),
            &limits(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ends early"), "{err}");
        names(&err, "cut.txt");
    }

    #[test]
    fn directory_with_data_is_refused() {
        let err = parse_err(&[Raw::stored("d/", b"data")]);
        assert!(matches!(&err, ZipError::CorruptEntry { entry, .. } if entry == "d/"));
    }

    fn zeros_bomb(declared: u32) -> Vec<u8> {
        // 10 MiB of zeros deflates to ~10 KiB: a ratio near 1000.
        let zeros = vec![0u8; 10 << 20];
        build(&[
            Raw::stored("ok.txt", b"fine"),
            Raw::deflated("bomb.bin", &zeros).with(|r| r.declared = declared),
        ])
    }

    #[test]
    fn honest_bomb_refused_at_parse_by_ratio() {
        let data = zeros_bomb(10 << 20);
        assert!(data.len() < 64 << 10);
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        assert_eq!(
            err,
            ZipError::RatioTooHigh {
                entry: "bomb.bin".into(),
                limit: 200
            }
        );
        assert!(err.is_limit());
        assert!(err.to_string().contains("max_ratio"), "{err}");
        // Entry and total caps, naming the cap and its value.
        let small = ZipLimits {
            max_ratio: 10_000,
            max_entry_uncompressed: 1 << 20,
            ..limits()
        };
        let err = ZipArchive::parse(&data, &small).unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry 'bomb.bin' expands to more than 1 MiB (max_entry_uncompressed)"
        );
        let small = ZipLimits {
            max_ratio: 10_000,
            max_total_uncompressed: 5 << 20,
            ..limits()
        };
        let err = ZipArchive::parse(&data, &small).unwrap_err();
        assert_eq!(
            err.to_string(),
            "archive expands to more than 5 MiB in total at entry 'bomb.bin' (max_total_uncompressed)"
        );
        assert!(err.is_limit());
    }

    #[test]
    fn lying_bomb_stops_at_declared_size() {
        // Declares 1 KiB: parse cannot know; read stops after the first chunk.
        let data = zeros_bomb(1024);
        let archive = ZipArchive::parse(&data, &limits()).unwrap();
        let err = archive.read(1, &mut 0).unwrap_err();
        assert_eq!(
            err,
            ZipError::SizeMismatch {
                entry: "bomb.bin".into(),
                declared: 1024
            }
        );
    }

    #[test]
    fn bomb_stopped_by_caps_while_counting() {
        let data = zeros_bomb(10 << 20);
        // A ratio high enough that the whole-archive cap (ratio × ~10 KiB) is over 1 GiB.
        let relaxed = ZipLimits {
            max_ratio: 1_000_000,
            ..limits()
        };
        let mut archive = ZipArchive::parse(&data, &relaxed).unwrap();
        // Total cap: the caller already inflated most of the budget.
        let mut so_far = relaxed.max_total_uncompressed - (2 << 20);
        let err = archive.read(1, &mut so_far).unwrap_err();
        assert!(matches!(&err, ZipError::TotalTooLarge { entry, .. } if entry == "bomb.bin"));
        assert_eq!(so_far, relaxed.max_total_uncompressed - (2 << 20));

        // Ratio cap while counting, should a declared size ever slip through: the output
        // buffer never grows much past the point where the cap is crossed.
        archive.limits.max_ratio = 100;
        let entry = archive.entries[1].clone();
        let raw = &data[entry.data_start..entry.data_start + entry.compressed_size as usize];
        let mut out = Vec::new();
        let err = archive.inflate_into(&entry, raw, 0, &mut out).unwrap_err();
        assert_eq!(
            err,
            ZipError::RatioTooHigh {
                entry: "bomb.bin".into(),
                limit: 100
            }
        );
        assert!(out.len() as u64 <= (entry.compressed_size * 100).max(RATIO_FLOOR));
        assert!(out.capacity() <= 2 << 20, "capacity {}", out.capacity());

        // Per-entry cap while counting.
        archive.limits.max_ratio = 10_000;
        archive.limits.max_entry_uncompressed = 3 << 20;
        let mut out = Vec::new();
        let err = archive.inflate_into(&entry, raw, 0, &mut out).unwrap_err();
        assert!(matches!(err, ZipError::EntryTooLarge { limit, .. } if limit == 3 << 20));
        assert!(out.len() <= 3 << 20 && out.capacity() <= 4 << 20);
    }

    /// `count` entries of 1 MiB of zeros each (~1 KiB deflated): every entry under the
    /// per-entry ratio floor, the archive ~1,000 times smaller than its contents.
    fn many_small_bombs(count: usize) -> Vec<u8> {
        let zeros = vec![0u8; 1 << 20];
        let one = Raw::deflated("z", &zeros);
        let entries: Vec<Raw> = (0..count)
            .map(|i| {
                one.clone()
                    .with(|r| r.name = format!("z/{i:04}.bin").into_bytes())
            })
            .collect();
        build(&entries)
    }

    #[test]
    fn many_small_bombs_refused_by_archive_ratio() {
        let data = many_small_bombs(1000);
        assert!(data.len() < 1_200_000, "{}", data.len());
        // Refused at parse, from the declared sizes, before anything is inflated; at the entry
        // where the total first exceeds max_ratio times the archive's size.
        let err = ZipArchive::parse(&data, &limits()).unwrap_err();
        let cap = 200 * data.len() as u64;
        let crossed = (cap >> 20) as usize; // the first entry that goes past the cap
        assert_eq!(
            err,
            ZipError::ArchiveRatioTooHigh {
                entry: format!("z/{crossed:04}.bin"),
                limit: 200,
                cap,
            }
        );
        assert!(err.is_limit());
        let msg = err.to_string();
        assert!(
            msg.contains("max_ratio") && msg.contains("200 times"),
            "{msg}"
        );
        names(&err, &format!("z/{crossed:04}.bin"));

        // While inflating too, should declared sizes ever slip through: counting stops at
        // the cap, whatever the entries claim.
        let relaxed = ZipLimits {
            max_ratio: 10_000,
            ..limits()
        };
        let mut archive = ZipArchive::parse(&data, &relaxed).unwrap();
        archive.limits.max_ratio = 200;
        let mut total = 0;
        let err = (0..1000)
            .map(|i| archive.read(i, &mut total))
            .find_map(Result::err)
            .unwrap();
        assert!(
            matches!(&err, ZipError::ArchiveRatioTooHigh { entry, cap: c, .. } if *entry == format!("z/{crossed:04}.bin") && *c == cap),
            "{err}"
        );
        assert!(total <= cap, "{total} > {cap}");
    }

    #[test]
    fn archive_ratio_has_a_floor() {
        // A tiny archive of compressible text: ~1,000 times smaller than its 1 MiB content,
        // but under the whole-archive floor.
        let data = many_small_bombs(1);
        assert!(data.len() < 2000);
        assert_eq!(read_all(&data, &limits()).unwrap().len(), 1);
        // Twice that is over the floor and over the ratio.
        let err = ZipArchive::parse(&many_small_bombs(2), &limits()).unwrap_err();
        assert!(matches!(err, ZipError::ArchiveRatioTooHigh { .. }), "{err}");
    }

    #[test]
    fn small_compressible_files_pass_ratio() {
        // 1 MiB of spaces deflates ~1000:1, but stays under the ratio floor.
        let spaces = vec![b' '; 1 << 20];
        let data = build(&[Raw::deflated("spaces.txt", &spaces)]);
        assert_eq!(
            read_all(&data, &limits()).unwrap(),
            files(&[("spaces.txt", &spaces)])
        );
    }

    #[test]
    fn error_messages_escape_names() {
        let err = ZipError::Symlink {
            entry: "a\u{202e}b\"c".into(),
        };
        assert!(err.to_string().contains("'a\\u{202e}b\\\"c'"), "{err}");
        let err = ZipError::Encrypted {
            entry: "x".repeat(500),
        };
        assert!(err.to_string().len() < 300);
    }

    /// Random small sites for the property tests.
    /// `files` (name, data, deflate?) zipped by this crate's own writer.
    fn written(files: &[(String, Vec<u8>, bool)], zip64: bool) -> Vec<u8> {
        let mut w = ZipWriter::new(Vec::new());
        if zip64 {
            w.force_zip64();
        }
        for (name, data, deflate) in files {
            w.add_file(name, data, *deflate).unwrap();
        }
        w.finish().unwrap()
    }

    fn site() -> impl Strategy<Value = Vec<(String, Vec<u8>, bool)>> {
        prop::collection::vec(
            (
                "[a-zA-Z0-9_.-]{1,6}(/[a-z0-9é]{1,4}){0,2}",
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..300),
                    (any::<u8>(), 0usize..3000).prop_map(|(b, n)| vec![b; n]),
                ],
                any::<bool>(),
            ),
            0..8,
        )
        .prop_map(|files| {
            // Keep names valid and free of duplicates and file/directory clashes.
            let mut seen: Vec<String> = Vec::new();
            files
                .into_iter()
                .filter(|(name, _, _)| {
                    let folded = name.to_lowercase();
                    let ok = check_name(name).is_ok()
                        && !seen.iter().any(|s| {
                            *s == folded
                                || folded.starts_with(&format!("{s}/"))
                                || s.starts_with(&format!("{folded}/"))
                        });
                    if ok {
                        seen.push(folded);
                    }
                    ok
                })
                .collect()
        })
    }

    fn write_site(files: &[(String, Vec<u8>, bool)]) -> Vec<u8> {
        let mut w = ZipWriter::new(Vec::new());
        for (name, data, deflate) in files {
            w.add_file(name, data, *deflate).unwrap();
        }
        w.finish().unwrap()
    }

    /// Parses and reads everything, ignoring errors: the point is not panicking.
    fn exercise(data: &[u8]) {
        let tight = ZipLimits {
            max_entries: 50,
            max_total_uncompressed: 1 << 20,
            max_entry_uncompressed: 1 << 20,
            max_ratio: 50,
        };
        for limits in [limits(), tight] {
            if let Ok(archive) = ZipArchive::parse(data, &limits) {
                let mut total = 0;
                for i in 0..archive.entries().len() {
                    if let Ok(bytes) = archive.read(i, &mut total) {
                        assert_eq!(bytes.len() as u64, archive.entries()[i].uncompressed_size);
                    }
                }
                assert!(total <= limits.max_total_uncompressed);
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
            exercise(&data);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes_with_end_record(
            body in prop::collection::vec(any::<u8>(), 0..1024),
            count in any::<u16>(),
            size in 0u32..2048,
            offset in 0u32..2048,
        ) {
            let mut data = body;
            eocd(&mut data, count, size, offset);
            exercise(&data);
        }

        #[test]
        fn never_panics_on_mutated_archives(
            files in site(),
            zip64 in any::<bool>(),
            mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut data = written(&files, zip64);
            for (at, byte) in mutations {
                let i = at.index(data.len());
                data[i] = byte;
            }
            if truncate {
                data.truncate(cut.index(data.len() + 1));
            }
            exercise(&data);
        }

        #[test]
        fn writer_reader_round_trip(files in site(), zip64 in any::<bool>()) {
            let mut w = ZipWriter::new(Vec::new());
            if zip64 {
                w.force_zip64();
            }
            for (name, data, deflate) in &files {
                w.add_file(name, data, *deflate).unwrap();
            }
            let data = w.finish().unwrap();
            if !zip64 {
                // The same files always pack to the same bytes.
                prop_assert_eq!(&data, &write_site(&files));
            }
            let got = read_all(&data, &limits()).unwrap();
            let expected: Vec<(String, Vec<u8>)> =
                files.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect();
            prop_assert_eq!(got, expected);
        }
    }

    /// Reads what `parse` accepts of a damaged archive: every entry that reads without error
    /// must have exactly the bytes the original archive had under that name.
    fn check_consistent(
        data: &[u8],
        original: &[(String, Vec<u8>, bool)],
    ) -> Result<(), TestCaseError> {
        let Ok(archive) = ZipArchive::parse(data, &limits()) else {
            return Ok(());
        };
        let mut total = 0;
        for (i, entry) in archive.entries().iter().enumerate() {
            if let Ok(bytes) = archive.read(i, &mut total) {
                if let Some((_, want, _)) = original.iter().find(|(n, _, _)| *n == entry.name) {
                    prop_assert_eq!(
                        &bytes[..],
                        &want[..],
                        "entry {:?} read wrong bytes",
                        entry.name
                    );
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(crate::proptest_config(96))]

        /// Up to three flipped bits anywhere (headers, names, sizes, CRCs, data, end records),
        /// then maybe a cut: refused, or read with the original bytes. CRC-32 catches any three
        /// bit errors in the stored data, so no "different but accepted" bytes can come out.
        #[test]
        fn flipped_or_truncated_archives_are_refused_or_read_exactly(
            files in site(),
            zip64 in any::<bool>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..=3),
            cut in prop::option::of(any::<prop::sample::Index>()),
        ) {
            let mut data = written(&files, zip64);
            for (at, bit) in flips {
                let i = at.index(data.len());
                data[i] ^= 1 << bit;
            }
            if let Some(cut) = cut {
                data.truncate(cut.index(data.len()));
            }
            check_consistent(&data, &files)?;
            exercise(&data);
        }

        /// A bit flipped inside one entry's data is always a CRC (or deflate) error for that
        /// entry, never wrong bytes, and leaves the other entries readable.
        #[test]
        fn flipped_data_bit_is_an_error(
            files in site(),
            which in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let data = write_site(&files);
            let archive = ZipArchive::parse(&data, &limits()).unwrap();
            let with_data: Vec<usize> = (0..archive.entries().len())
                .filter(|&i| archive.entries()[i].compressed_size > 0)
                .collect();
            if with_data.is_empty() {
                return Ok(()); // nothing to flip (not a reject: empty sites are common)
            }
            let target = with_data[which.index(with_data.len())];
            let entry = archive.entries()[target].clone();
            let mut bad = data.clone();
            bad[entry.data_start + at.index(entry.compressed_size as usize)] ^= 1 << bit;
            let archive = ZipArchive::parse(&bad, &limits()).unwrap();
            let mut total = 0;
            for (i, (_, want, _)) in files.iter().enumerate() {
                let got = archive.read(i, &mut total);
                if i == target {
                    match got {
                        // Unused bits at the end of a deflate stream: the same bytes.
                        Ok(bytes) => prop_assert_eq!(&bytes[..], &want[..]),
                        Err(e) => prop_assert!(
                            matches!(e, ZipError::CrcMismatch { .. } | ZipError::CorruptEntry { .. } | ZipError::SizeMismatch { .. }),
                            "{}", e
                        ),
                    }
                } else {
                    prop_assert_eq!(&got.unwrap()[..], &want[..]);
                }
            }
            // Stored data has no slack: one flipped bit is always a CRC mismatch.
            if entry.method == METHOD_STORED {
                let err = archive.read(target, &mut 0).unwrap_err();
                prop_assert!(matches!(err, ZipError::CrcMismatch { .. }), "{}", err);
            }
        }
    }
}
