//! Builds ZIP files byte by byte, including hostile ones that no well-behaved tool writes.
#![allow(dead_code)]

pub struct Entry {
    pub name: Vec<u8>,
    pub local_name: Option<Vec<u8>>,
    pub data: Vec<u8>,
    /// Bytes as stored; `None` = `data` (stored).
    pub stored: Option<Vec<u8>>,
    pub method: u16,
    pub flags: u16,
    /// Unix mode in the external attributes (upper 16 bits), made-by host Unix.
    pub unix_mode: Option<u32>,
    pub crc: Option<u32>,
    /// Uncompressed size written to the headers; `None` = `data.len()`.
    pub size: Option<u32>,
}

impl Entry {
    pub fn file(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            local_name: None,
            data: data.to_vec(),
            stored: None,
            method: 0,
            flags: 0x0800,
            unix_mode: None,
            crc: None,
            size: None,
        }
    }
    pub fn deflated(name: &str, data: &[u8]) -> Entry {
        let mut e = Entry::file(name, data);
        e.stored = Some(miniz_oxide::deflate::compress_to_vec(data, 6));
        e.method = 8;
        e
    }
    /// A deflated entry from already compressed bytes, so that many entries can share one
    /// compression of a large input without holding its inflated bytes each.
    pub fn precompressed(name: &str, deflated: &[u8], crc: u32, size: u32) -> Entry {
        let mut e = Entry::file(name, b"");
        e.stored = Some(deflated.to_vec());
        e.method = 8;
        e.crc = Some(crc);
        e.size = Some(size);
        e
    }
}

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Writes entries as a ZIP; with `descriptors`, sizes and CRC follow the data (bit 3).
pub fn build(entries: &[Entry], descriptors: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let payload = e.stored.clone().unwrap_or_else(|| e.data.clone());
        let crc = e.crc.unwrap_or_else(|| crc32fast::hash(&e.data));
        let size = e.size.unwrap_or(e.data.len() as u32);
        let flags = e.flags | if descriptors { 0x0008 } else { 0 };
        let offset = out.len() as u32;
        let lname = e.local_name.clone().unwrap_or_else(|| e.name.clone());
        u32le(&mut out, 0x04034b50);
        u16le(&mut out, 20);
        u16le(&mut out, flags);
        u16le(&mut out, e.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        let (c, cs, us) = if descriptors {
            (0, 0, 0)
        } else {
            (crc, payload.len() as u32, size)
        };
        u32le(&mut out, c);
        u32le(&mut out, cs);
        u32le(&mut out, us);
        u16le(&mut out, lname.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(&lname);
        out.extend_from_slice(&payload);
        if descriptors {
            u32le(&mut out, 0x08074b50);
            u32le(&mut out, crc);
            u32le(&mut out, payload.len() as u32);
            u32le(&mut out, size);
        }
        u32le(&mut central, 0x02014b50);
        u16le(
            &mut central,
            if e.unix_mode.is_some() { 0x031e } else { 20 },
        );
        u16le(&mut central, 20);
        u16le(&mut central, flags);
        u16le(&mut central, e.method);
        u16le(&mut central, 0);
        u16le(&mut central, 0x21);
        u32le(&mut central, crc);
        u32le(&mut central, payload.len() as u32);
        u32le(&mut central, size);
        u16le(&mut central, e.name.len() as u16);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u32le(&mut central, e.unix_mode.map_or(0, |m| m << 16));
        u32le(&mut central, offset);
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    u32le(&mut out, 0x06054b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries.len() as u16);
    u16le(&mut out, entries.len() as u16);
    u32le(&mut out, central.len() as u32);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}

/// A simple valid site archive.
pub fn site(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<Entry> = files.iter().map(|(n, d)| Entry::deflated(n, d)).collect();
    build(&entries, false)
}
