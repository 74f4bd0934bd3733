//! Small ZIP writer a deploy client packs a folder with.
//!
//! Owns producing archives that [`super::reader`] (and Info-ZIP, Python, browsers' unzip
//! libraries) accept: every name passes the reader's path rules before it is written, sizes
//! and CRC-32 go in the local header (no data descriptors), deflate is used only when it
//! shrinks the file, and zip64 records are written only when a size, offset or the entry count
//! needs them.
//!
//! Deflate uses miniz_oxide, whose compressor state sits on the stack (~85 KB): call this from
//! a normal thread (the client's main thread), never from a small coroutine stack.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};

use super::reader::{check_name, fold_name, METHOD_DEFLATE, METHOD_STORED};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EXTRA_ID: u16 = 0x0001;

const U16_MAX: u64 = 0xFFFF;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// "Version made by": Unix host (3), so the external attributes carry a Unix mode.
const HOST_UNIX: u16 = 3 << 8;
/// Versions needed to extract (APPNOTE 4.4.3): stored, deflate, zip64.
const VERSION_STORED: u16 = 10;
const VERSION_DEFLATE: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Flag bit 11: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
/// Regular file, rw-r--r--, in the upper half of the external attributes.
const FILE_ATTRS: u32 = 0o100_644 << 16;
/// Every entry gets 1980-01-01 00:00:00 (the DOS epoch) so that the same folder always packs
/// to the same bytes; the reader does not use entry times.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// Level 6: miniz's default, nearly as small as 9 and much faster.
const DEFLATE_LEVEL: u8 = 6;

/// Why a file could not be added or the archive finished.
#[derive(Debug)]
pub enum ZipWriteError {
    /// Writing to the output failed.
    Io(io::Error),
    /// The name would be refused by the server's reader.
    BadName {
        /// The name as the caller passed it.
        name: String,
        /// Which rule of the reader the name breaks, as a phrase.
        reason: &'static str,
    },
    /// The name was already added (names are compared ignoring case and Unicode normalization).
    Duplicate {
        /// The name as the caller passed it the second time.
        name: String,
    },
    /// One of the two names is a file the other needs as a directory (ignoring case).
    FileDirConflict {
        /// The name being added.
        name: String,
        /// The name already added that conflicts with it.
        other: String,
    },
}

impl fmt::Display for ZipWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZipWriteError::Io(e) => write!(f, "writing the ZIP archive failed: {e}"),
            ZipWriteError::BadName { name, reason } => {
                write!(f, "cannot add {name:?} to the ZIP archive: {reason}")
            }
            ZipWriteError::Duplicate { name } => write!(
                f,
                "cannot add {name:?} to the ZIP archive: a file with that name (ignoring case and Unicode normalization) was already added"
            ),
            ZipWriteError::FileDirConflict { name, other } => write!(
                f,
                "cannot add {name:?} to the ZIP archive: it clashes with {other:?} (one would be both a file and a directory)"
            ),
        }
    }
}

impl std::error::Error for ZipWriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ZipWriteError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ZipWriteError {
    fn from(e: io::Error) -> Self {
        ZipWriteError::Io(e)
    }
}

/// Writes a ZIP archive to `W` one whole file at a time.
pub struct ZipWriter<W: Write> {
    out: W,
    /// Bytes written so far: the offset of the next local header.
    offset: u64,
    /// The central directory, kept in memory until [`ZipWriter::finish`] (≈ 60 bytes + name per
    /// file).
    central: Vec<u8>,
    entries: u64,
    /// Lowercased names of the files added, mapped to their original spelling.
    files: HashMap<String, String>,
    /// Lowercased directories the files added live in, mapped to one file inside each.
    dirs: HashMap<String, String>,
    /// Test hook: write every zip64 record even when nothing needs it.
    force_zip64: bool,
}

fn put16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// The 32-bit field for `v`: itself, or the 0xFFFFFFFF placeholder when zip64 carries it.
fn field32(v: u64, in_zip64: bool) -> u32 {
    if in_zip64 {
        u32::MAX
    } else {
        // Callers only pass values below U32_MAX when not in zip64.
        u32::try_from(v).unwrap_or(u32::MAX)
    }
}

impl<W: Write> ZipWriter<W> {
    /// Starts an empty archive on `out`.
    pub fn new(out: W) -> Self {
        ZipWriter {
            out,
            offset: 0,
            central: Vec::new(),
            entries: 0,
            files: HashMap::new(),
            dirs: HashMap::new(),
            force_zip64: false,
        }
    }

    /// Makes the writer emit zip64 records for every entry and the end of the archive, as it
    /// would for a > 4 GiB archive; used to test zip64 readers without 4 GiB of data.
    #[cfg(test)]
    pub(crate) fn force_zip64(&mut self) {
        self.force_zip64 = true;
    }

    /// Adds a file named `name` (a relative `/`-separated path) holding `data`. With `deflate`
    /// the data is compressed, and stored instead when compression does not make it smaller.
    pub fn add_file(
        &mut self,
        name: &str,
        data: &[u8],
        deflate: bool,
    ) -> Result<(), ZipWriteError> {
        let bad = |reason| ZipWriteError::BadName {
            name: name.to_owned(),
            reason,
        };
        check_name(name).map_err(bad)?;
        if name.ends_with('/') {
            return Err(bad("a file name cannot end with '/'"));
        }
        self.claim_name(name)?;

        let crc = crate::crc32::hash(data);
        let compressed = if deflate {
            Some(miniz_oxide::deflate::compress_to_vec(data, DEFLATE_LEVEL))
        } else {
            None
        };
        let (method, payload) = match compressed {
            Some(c) if c.len() < data.len() => (METHOD_DEFLATE, Cow::Owned(c)),
            _ => (METHOD_STORED, Cow::Borrowed(data)),
        };
        let size = data.len() as u64;
        let csize = payload.len() as u64;
        let offset = self.offset;

        let force = self.force_zip64;
        let big_size = force || size >= U32_MAX;
        let big_csize = force || csize >= U32_MAX;
        let big_offset = force || offset >= U32_MAX;
        let local_zip64 = big_size || big_csize;
        let version = if local_zip64 || big_offset {
            VERSION_ZIP64
        } else if method == METHOD_DEFLATE {
            VERSION_DEFLATE
        } else {
            VERSION_STORED
        };
        let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
        // check_name bounds names to 1024 bytes, so this always fits.
        let name_len = u16::try_from(name.len()).map_err(|_| bad("the name is too long"))?;

        let mut local = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut local, LOCAL_SIG);
        put16(&mut local, version);
        put16(&mut local, flags);
        put16(&mut local, method);
        put16(&mut local, DOS_TIME);
        put16(&mut local, DOS_DATE);
        put32(&mut local, crc);
        // The local zip64 field carries both sizes whenever either needs it (APPNOTE 4.5.3).
        put32(&mut local, field32(csize, local_zip64));
        put32(&mut local, field32(size, local_zip64));
        put16(&mut local, name_len);
        put16(&mut local, if local_zip64 { 20 } else { 0 });
        local.extend_from_slice(name.as_bytes());
        if local_zip64 {
            put16(&mut local, ZIP64_EXTRA_ID);
            put16(&mut local, 16);
            put64(&mut local, size);
            put64(&mut local, csize);
        }
        self.out.write_all(&local)?;
        self.out.write_all(&payload)?;

        // The central zip64 field carries only the saturated values, in this order.
        let mut extra = Vec::new();
        for (big, value) in [(big_size, size), (big_csize, csize), (big_offset, offset)] {
            if big {
                put64(&mut extra, value);
            }
        }
        let c = &mut self.central;
        put32(c, CENTRAL_SIG);
        put16(c, HOST_UNIX | version);
        put16(c, version);
        put16(c, flags);
        put16(c, method);
        put16(c, DOS_TIME);
        put16(c, DOS_DATE);
        put32(c, crc);
        put32(c, field32(csize, big_csize));
        put32(c, field32(size, big_size));
        put16(c, name_len);
        put16(
            c,
            if extra.is_empty() {
                0
            } else {
                extra.len() as u16 + 4
            },
        );
        put16(c, 0); // comment length
        put16(c, 0); // disk number
        put16(c, 0); // internal attributes
        put32(c, FILE_ATTRS);
        put32(c, field32(offset, big_offset));
        c.extend_from_slice(name.as_bytes());
        if !extra.is_empty() {
            put16(c, ZIP64_EXTRA_ID);
            put16(c, extra.len() as u16);
            c.extend_from_slice(&extra);
        }

        self.offset = offset
            .saturating_add(local.len() as u64)
            .saturating_add(csize);
        self.entries += 1;
        Ok(())
    }

    /// Records `name`, refusing what the reader would refuse as duplicate or file/directory
    /// clash, so the user hears about it before uploading.
    fn claim_name(&mut self, name: &str) -> Result<(), ZipWriteError> {
        let folded = fold_name(name);
        if self.files.contains_key(&folded) {
            return Err(ZipWriteError::Duplicate {
                name: name.to_owned(),
            });
        }
        if let Some(other) = self.dirs.get(&folded) {
            return Err(ZipWriteError::FileDirConflict {
                name: name.to_owned(),
                other: other.clone(),
            });
        }
        let parents = folded
            .match_indices('/')
            .filter_map(|(i, _)| folded.get(..i));
        for parent in parents.clone() {
            if let Some(other) = self.files.get(parent) {
                return Err(ZipWriteError::FileDirConflict {
                    name: name.to_owned(),
                    other: other.clone(),
                });
            }
        }
        for parent in parents {
            self.dirs
                .entry(parent.to_owned())
                .or_insert_with(|| name.to_owned());
        }
        self.files.insert(folded, name.to_owned());
        Ok(())
    }

    /// Writes the central directory and end records, flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, ZipWriteError> {
        let cd_offset = self.offset;
        let cd_size = self.central.len() as u64;
        let entries = self.entries;
        let force = self.force_zip64;
        let mut tail = std::mem::take(&mut self.central);

        let zip64 = force || entries >= U16_MAX || cd_offset >= U32_MAX || cd_size >= U32_MAX;
        if zip64 {
            let record_at = cd_offset.saturating_add(cd_size);
            put32(&mut tail, ZIP64_EOCD_SIG);
            put64(&mut tail, 44); // size of the rest of this record
            put16(&mut tail, HOST_UNIX | VERSION_ZIP64);
            put16(&mut tail, VERSION_ZIP64);
            put32(&mut tail, 0); // this disk
            put32(&mut tail, 0); // disk with the central directory
            put64(&mut tail, entries);
            put64(&mut tail, entries);
            put64(&mut tail, cd_size);
            put64(&mut tail, cd_offset);
            put32(&mut tail, ZIP64_LOCATOR_SIG);
            put32(&mut tail, 0); // disk with the zip64 record
            put64(&mut tail, record_at);
            put32(&mut tail, 1); // total disks
        }
        let count16 = if force || entries >= U16_MAX {
            u16::MAX
        } else {
            entries as u16
        };
        put32(&mut tail, EOCD_SIG);
        put16(&mut tail, 0); // this disk
        put16(&mut tail, 0); // disk with the central directory
        put16(&mut tail, count16);
        put16(&mut tail, count16);
        put32(&mut tail, field32(cd_size, force || cd_size >= U32_MAX));
        put32(&mut tail, field32(cd_offset, force || cd_offset >= U32_MAX));
        put16(&mut tail, 0); // comment length
        self.out.write_all(&tail)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zip::reader::{ZipArchive, ZipLimits};

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn pseudo_random(n: usize) -> Vec<u8> {
        let mut x: u32 = 0x1234_5678;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn empty_archive_is_just_an_end_record() {
        let data = ZipWriter::new(Vec::new()).finish().unwrap();
        assert_eq!(data.len(), 22);
        assert_eq!(u32_at(&data, 0), EOCD_SIG);
        assert!(ZipArchive::parse(&data, &ZipLimits::default())
            .unwrap()
            .entries()
            .is_empty());
    }

    #[test]
    fn chooses_method_and_writes_sizes_in_local_header() {
        let text = b"hello hello hello hello hello hello".repeat(20);
        let noise = pseudo_random(4000);
        let mut w = ZipWriter::new(Vec::new());
        w.add_file("text.txt", &text, true).unwrap();
        w.add_file("noise.bin", &noise, true).unwrap();
        w.add_file("plain.txt", &text, false).unwrap();
        let data = w.finish().unwrap();

        // First local header: deflated, no data descriptor, real sizes and CRC.
        assert_eq!(u32_at(&data, 0), LOCAL_SIG);
        assert_eq!(u16_at(&data, 4), VERSION_DEFLATE);
        assert_eq!(u16_at(&data, 6), 0);
        assert_eq!(u16_at(&data, 8), METHOD_DEFLATE);
        assert_eq!(u32_at(&data, 14), crate::crc32::hash(&text));
        assert!((u32_at(&data, 18) as usize) < text.len());
        assert_eq!(u32_at(&data, 22) as usize, text.len());

        let archive = ZipArchive::parse(&data, &ZipLimits::default()).unwrap();
        let methods: Vec<u16> = archive.entries().iter().map(|e| e.method).collect();
        // Noise does not shrink: stored; deflate=false: stored.
        assert_eq!(methods, [METHOD_DEFLATE, METHOD_STORED, METHOD_STORED]);
        let mut total = 0;
        assert_eq!(&*archive.read(0, &mut total).unwrap(), &text[..]);
        assert_eq!(&*archive.read(1, &mut total).unwrap(), &noise[..]);
        assert_eq!(&*archive.read(2, &mut total).unwrap(), &text[..]);
    }

    #[test]
    fn marks_utf8_names() {
        let mut w = ZipWriter::new(Vec::new());
        w.add_file("ascii.txt", b"a", false).unwrap();
        let ascii_len = 30 + 9 + 1;
        w.add_file("café/ü.txt", b"b", false).unwrap();
        let data = w.finish().unwrap();
        assert_eq!(u16_at(&data, 6), 0);
        assert_eq!(u16_at(&data, ascii_len + 6), FLAG_UTF8);
        let archive = ZipArchive::parse(&data, &ZipLimits::default()).unwrap();
        assert_eq!(archive.entries()[1].name, "café/ü.txt");
    }

    #[test]
    fn refuses_names_the_reader_would_refuse() {
        for name in ["", "/abs", "../up", "a\\b", "C:/x", "a//b", "dir/", "a\0b"] {
            let mut w = ZipWriter::new(Vec::new());
            let err = w.add_file(name, b"x", true).unwrap_err();
            assert!(
                matches!(err, ZipWriteError::BadName { .. }),
                "{name:?}: {err}"
            );
            assert!(err.to_string().contains(&format!("{name:?}")), "{err}");
        }
        let mut w = ZipWriter::new(Vec::new());
        w.add_file("Index.html", b"x", true).unwrap();
        let err = w.add_file("index.HTML", b"y", true).unwrap_err();
        assert!(matches!(err, ZipWriteError::Duplicate { .. }), "{err}");
        let err = w.add_file("INDEX.HTML/x", b"y", true).unwrap_err();
        assert!(
            matches!(err, ZipWriteError::FileDirConflict { .. }),
            "{err}"
        );
        // Unicode-equal names (precomposed and decomposed é), as the reader compares them.
        w.add_file("caf\u{e9}.html", b"x", true).unwrap();
        let err = w.add_file("cafe\u{301}.html", b"y", true).unwrap_err();
        assert!(matches!(err, ZipWriteError::Duplicate { .. }), "{err}");
        w.add_file("d/e/f", b"z", true).unwrap();
        let err = w.add_file("D/e", b"y", true).unwrap_err();
        assert!(
            matches!(&err, ZipWriteError::FileDirConflict { other, .. } if other == "d/e/f"),
            "{err}"
        );
        // The refused files left no trace: the archive is still valid.
        let data = w.finish().unwrap();
        let archive = ZipArchive::parse(&data, &ZipLimits::default()).unwrap();
        assert_eq!(archive.entries().len(), 3);
    }

    #[test]
    fn forced_zip64_writes_zip64_records() {
        let mut w = ZipWriter::new(Vec::new());
        w.force_zip64();
        w.add_file("a.txt", b"zip64 zip64 zip64 zip64", true)
            .unwrap();
        let data = w.finish().unwrap();
        // Local header: both sizes saturated, 20-byte zip64 extra.
        assert_eq!(u16_at(&data, 4), VERSION_ZIP64);
        assert_eq!(u32_at(&data, 18), u32::MAX);
        assert_eq!(u32_at(&data, 22), u32::MAX);
        assert_eq!(u16_at(&data, 28), 20);
        // Locator right before the classic end record.
        let locator = data.len() - 22 - 20;
        assert_eq!(u32_at(&data, locator), ZIP64_LOCATOR_SIG);
        let record = u64::from_le_bytes(data[locator + 8..locator + 16].try_into().unwrap());
        assert_eq!(u32_at(&data, record as usize), ZIP64_EOCD_SIG);
        let archive = ZipArchive::parse(&data, &ZipLimits::default()).unwrap();
        assert_eq!(
            &*archive.read(0, &mut 0).unwrap(),
            b"zip64 zip64 zip64 zip64"
        );
    }

    struct Failing;

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reports_write_errors() {
        let mut w = ZipWriter::new(Failing);
        let err = w.add_file("a", b"x", false).unwrap_err();
        assert!(matches!(err, ZipWriteError::Io(_)));
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(ZipWriter::new(Failing).finish().is_err());
    }
}
