//! Gzip at write time: text-like files are compressed once, when stored, with miniz_oxide, so
//! serving `Content-Encoding: gzip` costs nothing per request. Deflate keeps ~85 KB of state
//! on the stack, so callers run this on an OS thread (the DB writer), never on a coroutine.

/// Files smaller than this are not worth a second copy.
const MIN_SIZE: usize = 256;

/// Whether a MIME type is worth compressing (text, JSON, JS, SVG, XML, WASM…).
pub fn compressible(mime: &str) -> bool {
    let m = mime.split(';').next().unwrap_or("").trim();
    m.starts_with("text/")
        || m.ends_with("+json")
        || m.ends_with("+xml")
        || matches!(
            m,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "application/manifest+json"
                | "image/svg+xml"
                | "image/x-icon"
                | "font/ttf"
                | "font/otf"
        )
}

/// Entry `name` of files a build script packed as consecutive raw-deflate streams with an
/// index of (name, packed length, length), inflated (help texts, a bundled UI: text the
/// binary carries at a third of its size).
pub fn unpack(blob: &[u8], index: &[(&str, usize, usize)], name: &str) -> Option<Vec<u8>> {
    let mut at = 0;
    for &(n, packed, len) in index {
        if n == name {
            let part = blob.get(at..at + packed)?;
            return miniz_oxide::inflate::decompress_to_vec_with_limit(part, len).ok();
        }
        at += packed;
    }
    None
}

/// A gzip member of `data`, or `None` when compression does not pay (under 256 bytes, or
/// the result is not at least 10% smaller).
pub fn gzip_if_smaller(data: &[u8], mime: &str) -> Option<Vec<u8>> {
    if data.len() < MIN_SIZE || !compressible(mime) {
        return None;
    }
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 6);
    if deflated.len() + 18 >= data.len() - data.len() / 10 {
        return None;
    }
    let mut out = Vec::with_capacity(deflated.len() + 18);
    // Header: magic, CM=deflate, no flags, mtime 0, XFL 0, OS=unix (RFC 1952).
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crate::crc32::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_text_and_round_trips() {
        let text = "hello kernel ".repeat(200);
        let gz = gzip_if_smaller(text.as_bytes(), "text/html").unwrap();
        assert!(gz.len() < text.len() / 4);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let inflated = miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).unwrap();
        assert_eq!(inflated, text.as_bytes());
        let crc = u32::from_le_bytes(gz[gz.len() - 8..gz.len() - 4].try_into().unwrap());
        assert_eq!(crc, crate::crc32::hash(text.as_bytes()));
    }

    #[test]
    fn skips_small_binary_and_incompressible() {
        assert!(gzip_if_smaller(b"tiny", "text/html").is_none());
        assert!(gzip_if_smaller(&[7u8; 4096], "image/png").is_none());
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert!(gzip_if_smaller(&noise, "text/plain").is_none());
    }
}
