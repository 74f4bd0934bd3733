//! CRC-32 (IEEE 802.3, the one ZIP and gzip use), table-driven, slice-by-4: four 1 KiB tables
//! built at compile time. Why not `crc32fast`: its slice-by-16 tables and the aarch64
//! shift tables are 24 KiB of a 4 MiB budget, for a checksum computed over uploads and
//! gzip variants only (slice-by-4 runs at over 1 GB/s on x86_64, far above an upload's rate).

const fn tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 4 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
}

static T: [[u32; 256]; 4] = tables();

/// Continues the CRC-32 `crc` (of the bytes before) over `data`; `update(0, d)` = [`hash`].
pub fn update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    let mut chunks = data.chunks_exact(4);
    for w in &mut chunks {
        let x = c ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        c = T[3][(x & 0xff) as usize]
            ^ T[2][((x >> 8) & 0xff) as usize]
            ^ T[1][((x >> 16) & 0xff) as usize]
            ^ T[0][(x >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = T[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// The CRC-32 of `data`.
pub fn hash(data: &[u8]) -> u32 {
    update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(hash(b""), 0);
        assert_eq!(hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            hash(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    proptest! {
        #![proptest_config(crate::proptest_config(512))]
        /// The reference: crc32fast (a dev-dependency only).
        #[test]
        fn matches_crc32fast(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
            prop_assert_eq!(hash(&data), crc32fast::hash(&data));
            let cut = cut.min(data.len());
            prop_assert_eq!(update(hash(&data[..cut]), &data[cut..]), crc32fast::hash(&data));
        }
    }
}
