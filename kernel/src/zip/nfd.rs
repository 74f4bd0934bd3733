//! Canonical decomposition (Unicode NFD) for comparing ZIP entry names, on compact tables.
//!
//! Owns one question: are two names canonically equivalent (equal after NFC, or NFD,
//! normalisation)? The `unicode-normalization` crate answers it too, but its tables cost
//! ~47 KB of the binary (its `nfd()` iterator also links the compatibility table: ~110 KB);
//! this costs ~18 KB (x86_64 release, ~13 KB of it tables): the full canonical decomposition
//! of every character of the Basic Multilingual Plane, Hangul syllables computed, and the
//! canonical combining classes as runs. Characters outside the BMP with a decomposition (CJK
//! compatibility ideographs supplement, a few Brahmic vowel signs and musical symbols), and
//! the handful of BMP CJK compatibility ideographs that decompose to one, are left as
//! written: such names are compared exactly. The tables are generated from, and tested
//! exhaustively against, the crate (a dev-dependency): see `print_tables` below.

use super::nfd_tables::{CCC_LENS, CCC_STARTS, DECOMP, POOL};

const HANGUL_BASE: u32 = 0xAC00;
const HANGUL_COUNT: u32 = 11_172;
const L_BASE: u32 = 0x1100;
const V_BASE: u32 = 0x1161;
const T_BASE: u32 = 0x11A7;
const T_COUNT: u32 = 28;
const N_COUNT: u32 = 588; // V count × T count

/// Canonical combining class of `c` (0 for starters).
pub(crate) fn combining_class(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x300 {
        return 0;
    }
    let i = CCC_STARTS.partition_point(|&packed| (packed >> 8) <= cp);
    let Some(i) = i.checked_sub(1) else { return 0 };
    match (CCC_STARTS.get(i), CCC_LENS.get(i)) {
        (Some(&packed), Some(&len)) if cp < (packed >> 8) + u32::from(len) => packed as u8,
        _ => 0,
    }
}

/// Pushes the full canonical decomposition of `c` (itself when it has none).
fn decompose(c: char, out: &mut Vec<(u8, char)>) {
    let cp = c as u32;
    if cp < 0xC0 {
        return out.push((0, c));
    }
    if let Some(s) = cp.checked_sub(HANGUL_BASE).filter(|s| *s < HANGUL_COUNT) {
        let jamo = [
            Some(L_BASE + s / N_COUNT),
            Some(V_BASE + (s % N_COUNT) / T_COUNT),
            Some(s % T_COUNT).filter(|t| *t != 0).map(|t| T_BASE + t),
        ];
        for j in jamo.into_iter().flatten().filter_map(char::from_u32) {
            out.push((0, j));
        }
        return;
    }
    let found = u16::try_from(cp)
        .ok()
        .and_then(|key| DECOMP.binary_search_by_key(&key, |&(k, _)| k).ok())
        .and_then(|i| DECOMP.get(i));
    let Some(&(_, packed)) = found else {
        return out.push((combining_class(c), c));
    };
    let start = usize::from(packed >> 2);
    let len = usize::from(packed & 3) + 1;
    for &unit in POOL.get(start..start + len).unwrap_or_default() {
        if let Some(d) = char::from_u32(u32::from(unit)) {
            out.push((combining_class(d), d));
        }
    }
}

/// `s` in Unicode NFD: every character fully decomposed, then each run of combining marks
/// stably sorted by combining class.
pub(crate) fn nfd(s: &str) -> String {
    let mut chars: Vec<(u8, char)> = Vec::with_capacity(s.len());
    for c in s.chars() {
        decompose(c, &mut chars);
    }
    let mut start = 0;
    while start < chars.len() {
        let run = chars
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|(class, _)| *class != 0)
            .count();
        if let Some(marks) = chars.get_mut(start..start + run) {
            marks.sort_by_key(|(class, _)| *class);
        }
        start += run.max(1);
    }
    chars.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::char::{canonical_combining_class, decompose_canonical};
    use unicode_normalization::UnicodeNormalization;

    fn reference(s: &str) -> String {
        s.nfd().collect()
    }

    #[test]
    fn matches_the_crate_for_every_bmp_character() {
        for cp in 0..0x1_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = c.to_string();
            let want = reference(&s);
            if want.chars().any(|d| d as u32 >= 0x1_0000) {
                assert_eq!(nfd(&s), s, "U+{cp:04X} is left as written");
                continue;
            }
            assert_eq!(nfd(&s), want, "U+{cp:04X}");
        }
    }

    #[test]
    fn combining_classes_match_the_crate_everywhere() {
        for cp in 0..=0x10_FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            assert_eq!(
                combining_class(c),
                canonical_combining_class(c),
                "U+{cp:04X}"
            );
        }
    }

    #[test]
    fn known_names() {
        assert_eq!(nfd("caf\u{e9}"), "cafe\u{301}");
        assert_eq!(nfd("\u{1f82}"), "\u{3b1}\u{313}\u{300}\u{345}");
        assert_eq!(
            nfd("\u{d55c}\u{ae00}"),
            "\u{1112}\u{1161}\u{11ab}\u{1100}\u{1173}\u{11af}"
        );
        assert_eq!(nfd("\u{304c}"), "\u{304b}\u{3099}"); // が
        assert_eq!(nfd("q\u{307}\u{323}"), "q\u{323}\u{307}");
        assert_eq!(nfd("\u{fb01}"), "\u{fb01}"); // compatibility forms stay
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]

        /// Strings mixing starters, composed letters and combining marks in any order
        /// normalise exactly as the crate does (outside the BMP only where nothing
        /// decomposes).
        #[test]
        fn matches_the_crate_on_mixed_strings(
            chars in prop::collection::vec(
                prop_oneof![
                    any::<char>(),
                    (0x300u32..0x370).prop_map(|c| char::from_u32(c).unwrap()),
                    (0xC0u32..0x250).prop_map(|c| char::from_u32(c).unwrap()),
                    (0x1E00u32..0x2000).prop_map(|c| char::from_u32(c).unwrap()),
                    (0xAC00u32..0xAD00).prop_map(|c| char::from_u32(c).unwrap()),
                    (0x3040u32..0x3100).prop_map(|c| char::from_u32(c).unwrap()),
                ],
                0..12,
            )
        ) {
            let s: String = chars.into_iter().collect();
            // Characters left as written: those outside the BMP, and those decomposing to
            // one outside it, when they decompose at all.
            let smp_decomposes = s.chars().any(|c| {
                let d = reference(&c.to_string());
                (c as u32 >= 0x1_0000 || d.chars().any(|x| x as u32 >= 0x1_0000))
                    && d != c.to_string()
            });
            prop_assume!(!smp_decomposes);
            prop_assert_eq!(nfd(&s), reference(&s));
        }
    }

    /// Regenerates `nfd_tables.rs` from the crate:
    /// `cargo test --lib print_tables -- --ignored --nocapture > /tmp/t` and keep the
    /// lines between the markers.
    #[test]
    #[ignore]
    fn print_tables() {
        let mut decomp = Vec::new();
        let mut pool: Vec<u16> = Vec::new();
        for cp in 0xC0..0x1_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if (HANGUL_BASE..HANGUL_BASE + HANGUL_COUNT).contains(&cp) {
                continue;
            }
            let mut d = Vec::new();
            decompose_canonical(c, |x| d.push(x as u32));
            if d == [cp] {
                continue;
            }
            if d.iter().any(|&x| x >= 0x1_0000) {
                continue; // a few CJK compatibility ideographs: see the module doc
            }
            assert!((1..=4).contains(&d.len()), "U+{cp:04X}: {d:X?}");
            let at = pool
                .windows(d.len())
                .position(|w| w.iter().map(|&u| u32::from(u)).eq(d.iter().copied()))
                .unwrap_or_else(|| {
                    pool.extend(d.iter().map(|&x| x as u16));
                    pool.len() - d.len()
                });
            assert!(at < 1 << 14);
            decomp.push((cp as u16, ((at as u16) << 2) | (d.len() as u16 - 1)));
        }
        let mut runs: Vec<(u32, u32, u8)> = Vec::new();
        for cp in 0..=0x10_FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let class = canonical_combining_class(c);
            if class == 0 {
                continue;
            }
            match runs.last_mut() {
                Some((start, len, k)) if *k == class && *start + *len == cp && *len < 255 => {
                    *len += 1
                }
                _ => runs.push((cp, 1, class)),
            }
        }
        let list = |items: Vec<String>| {
            items
                .chunks(10)
                .map(|c| format!("    {},", c.join(", ")))
                .collect::<Vec<_>>()
                .join("\n")
        };
        println!("----8<----");
        println!(
            "//! Generated by `kernel::zip::nfd::tests::print_tables` from unicode-normalization"
        );
        let (major, minor, patch) = unicode_normalization::UNICODE_VERSION;
        println!("//! 0.1.26 (Unicode {major}.{minor}.{patch}); do not edit.");
        println!();
        println!("/// (character, pool offset << 2 | length - 1) of every BMP character with a canonical");
        println!("/// decomposition, Hangul syllables excepted; sorted.");
        println!(
            "pub(super) static DECOMP: [(u16, u16); {}] = [",
            decomp.len()
        );
        println!(
            "{}",
            list(
                decomp
                    .iter()
                    .map(|(c, p)| format!("(0x{c:04X}, {p})"))
                    .collect()
            )
        );
        println!("];");
        println!();
        println!("/// Full decompositions, shared where equal.");
        println!("pub(super) static POOL: [u16; {}] = [", pool.len());
        println!(
            "{}",
            list(pool.iter().map(|u| format!("0x{u:04X}")).collect())
        );
        println!("];");
        println!();
        println!("/// Runs of characters with the same non-zero canonical combining class:");
        println!("/// first character << 8 | class, sorted; lengths in `CCC_LENS`.");
        println!("pub(super) static CCC_STARTS: [u32; {}] = [", runs.len());
        println!(
            "{}",
            list(
                runs.iter()
                    .map(|(s, _, k)| format!("0x{s:05X} << 8 | {k}"))
                    .collect()
            )
        );
        println!("];");
        println!();
        println!("pub(super) static CCC_LENS: [u8; {}] = [", runs.len());
        println!(
            "{}",
            list(runs.iter().map(|(_, l, _)| l.to_string()).collect())
        );
        println!("];");
        println!("----8<----");
    }
}
