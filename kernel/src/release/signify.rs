//! OpenBSD signify's key and signature files, as `signify-openbsd` (Debian) writes them:
//! an `untrusted comment: …` line, then one base64 line holding `"Ed"`, an 8-byte key number
//! and the 32-byte Ed25519 public key, or the 64-byte signature. A detached signature signs
//! the message's bytes as they are. Verification is ring's Ed25519.
//!
//! Why signify's format: release maintainers already have the tool (`apt install
//! signify-openbsd`), its files are two lines of text that fit in a setting, and the key
//! number in each signature names the key that made it, so an unknown signer is reported as
//! such rather than as a bad signature.

use ring::signature::{UnparsedPublicKey, ED25519};

use super::ReleaseError;

const ALG: &[u8; 2] = b"Ed";
const COMMENT: &str = "untrusted comment: ";

/// An Ed25519 public key in signify's format.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    keynum: [u8; 8],
    key: [u8; 32],
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

/// A detached signature in signify's format.
#[derive(Clone)]
pub struct Signature {
    keynum: [u8; 8],
    sig: [u8; 64],
}

impl PublicKey {
    /// Parses a public key: the whole `.pub` file, or its base64 line alone.
    pub fn parse(text: &str) -> Result<PublicKey, ReleaseError> {
        let (keynum, key) = decode::<32>(text, "public key")?;
        Ok(PublicKey { keynum, key })
    }

    /// The key number in hex: what a signature names its key by.
    pub fn id(&self) -> String {
        hex(&self.keynum)
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], sig: &Signature) -> bool {
        sig.keynum == self.keynum
            && UnparsedPublicKey::new(&ED25519, &self.key)
                .verify(message, &sig.sig)
                .is_ok()
    }
}

impl Signature {
    /// Parses a signature file (`.sig`).
    pub fn parse(text: &str) -> Result<Signature, ReleaseError> {
        let (keynum, sig) = decode::<64>(text, "signature")?;
        Ok(Signature { keynum, sig })
    }

    /// The key number of the key that made it, in hex.
    pub fn key_id(&self) -> String {
        hex(&self.keynum)
    }
}

/// Checks `message` against `sig` with whichever of `keys` made it.
pub fn verify(message: &[u8], sig: &Signature, keys: &[PublicKey]) -> Result<(), ReleaseError> {
    let key = keys
        .iter()
        .find(|k| k.keynum == sig.keynum)
        .ok_or_else(|| ReleaseError::UntrustedKey(sig.key_id()))?;
    if key.verifies(message, sig) {
        Ok(())
    } else {
        Err(ReleaseError::BadSignature)
    }
}

/// A signify file's `"Ed"`, key number and `N`-byte body (a key or a signature).
fn decode<const N: usize>(text: &str, what: &str) -> Result<([u8; 8], [u8; N]), ReleaseError> {
    let raw = payload(text, what)?;
    if raw.len() != 10 + N {
        return Err(ReleaseError::Format(format!(
            "not a signify {what} (wrong length)"
        )));
    }
    check_alg(&raw, what)?;
    let mut keynum = [0; 8];
    keynum.copy_from_slice(&raw[2..10]);
    let mut body = [0; N];
    body.copy_from_slice(&raw[10..]);
    Ok((keynum, body))
}

/// The decoded base64 line of a signify file: after an optional `untrusted comment:` line
/// (a file) or alone (a key pasted into a setting).
fn payload(text: &str, what: &str) -> Result<Vec<u8>, ReleaseError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut line = lines.next().unwrap_or("");
    if line.starts_with(COMMENT) {
        line = lines.next().unwrap_or("");
    } else if line.starts_with("untrusted comment") {
        return Err(ReleaseError::Format(format!(
            "signify {what}: malformed comment line"
        )));
    }
    if lines.next().is_some() {
        return Err(ReleaseError::Format(format!(
            "signify {what}: expected a comment line and one base64 line"
        )));
    }
    base64(line)
        .ok_or_else(|| ReleaseError::Format(format!("signify {what}: the key line is not base64")))
}

fn check_alg(b: &[u8], what: &str) -> Result<(), ReleaseError> {
    if &b[..2] == ALG {
        Ok(())
    } else {
        Err(ReleaseError::Format(format!(
            "signify {what}: not an Ed25519 key (algorithm is not \"Ed\")"
        )))
    }
}

/// Standard base64 with `=` padding, as signify writes it; `None` for anything else.
pub(crate) fn base64(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let chunks = b.len() / 4;
    for (i, q) in b.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Non-canonical padding bits would let two strings decode the same: refuse them.
        if (pad == 1 && bytes[2] != 0) || (pad == 2 && (bytes[1] != 0 || bytes[2] != 0)) {
            return None;
        }
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    pub(crate) fn encode(data: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in data.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= c.len() {
                    s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    /// A throwaway signer writing signify's files, for tests.
    pub(crate) struct Signer {
        pair: Ed25519KeyPair,
        keynum: [u8; 8],
    }

    impl Signer {
        pub(crate) fn new(keynum: [u8; 8]) -> Signer {
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            Signer {
                pair: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
                keynum,
            }
        }
        pub(crate) fn public(&self) -> String {
            let mut b = b"Ed".to_vec();
            b.extend_from_slice(&self.keynum);
            b.extend_from_slice(self.pair.public_key().as_ref());
            format!("untrusted comment: test public key\n{}\n", encode(&b))
        }
        pub(crate) fn sign(&self, msg: &[u8]) -> String {
            let mut b = b"Ed".to_vec();
            b.extend_from_slice(&self.keynum);
            b.extend_from_slice(self.pair.sign(msg).as_ref());
            format!("untrusted comment: verify with test.pub\n{}\n", encode(&b))
        }
    }

    /// A key, a message and its signature made by `signify-openbsd -G -n` and `-S`.
    const SIGNIFY_PUB: &str = "untrusted comment: signify public key\nRWRk0b+Nnska6jL9oYYkEpIhtSvjrwXc2GGm3DQ/BMxCiWveCnNdc1Hl\n";
    const SIGNIFY_MSG: &[u8] = b"product demo\nversion 1.0.0\n";
    const SIGNIFY_SIG: &str = "untrusted comment: verify with t.pub\nRWRk0b+Nnska6pNeYZzUUmA/3qkje3KhoywDEyhAxtqNF5nihlP6278UfGU3pjwMLXDW29zXywpwHVqH1H1pLb6UBwTUPguTwwM=\n";

    #[test]
    fn signify_files_parse_and_verify() {
        let k = PublicKey::parse(SIGNIFY_PUB).unwrap();
        assert_eq!(k.id(), "64d1bf8d9ec91aea");
        // The bare base64 line (as pasted into a setting) is the same key.
        let line = SIGNIFY_PUB.lines().nth(1).unwrap();
        assert_eq!(PublicKey::parse(line).unwrap(), k);
        let sig = Signature::parse(SIGNIFY_SIG).unwrap();
        verify(SIGNIFY_MSG, &sig, std::slice::from_ref(&k)).unwrap();
        assert!(verify(b"product demo\nversion 1.0.1\n", &sig, &[k]).is_err());
    }

    #[test]
    fn signatures_verify_only_with_their_key_and_message() {
        let a = Signer::new(*b"aaaaaaaa");
        let b = Signer::new(*b"bbbbbbbb");
        let (ka, kb) = (
            PublicKey::parse(&a.public()).unwrap(),
            PublicKey::parse(&b.public()).unwrap(),
        );
        let sig = Signature::parse(&a.sign(b"manifest")).unwrap();
        verify(b"manifest", &sig, &[kb.clone(), ka.clone()]).unwrap();
        assert!(matches!(
            verify(b"manifesT", &sig, std::slice::from_ref(&ka)),
            Err(ReleaseError::BadSignature)
        ));
        match verify(b"manifest", &sig, &[kb]) {
            Err(ReleaseError::UntrustedKey(id)) => assert_eq!(id, hex(b"aaaaaaaa")),
            other => panic!("{other:?}"),
        }
        // Same key number, different key: a forged keynum does not help.
        let forger = Signer::new(*b"aaaaaaaa");
        let forged = Signature::parse(&forger.sign(b"manifest")).unwrap();
        assert!(matches!(
            verify(b"manifest", &forged, &[ka]),
            Err(ReleaseError::BadSignature)
        ));
    }

    #[test]
    fn malformed_files_are_refused() {
        let a = Signer::new(*b"aaaaaaaa");
        let good = a.public();
        let line = good.lines().nth(1).unwrap();
        for bad in [
            String::new(),
            "untrusted comment: x\n".into(),
            format!("untrusted comment x\n{line}\n"),
            format!("untrusted comment: x\n{line}\n{line}\n"),
            format!("untrusted comment: x\n{}\n", &line[4..]),
            format!("untrusted comment: x\n{}\n", line.replacen('R', "!", 1)),
            format!(
                "untrusted comment: x\n{}\n",
                encode(b"Xy0123456789012345678901234567890123456789")
            ),
        ] {
            assert!(PublicKey::parse(&bad).is_err(), "{bad:?} accepted");
        }
        assert!(Signature::parse(&good).is_err(), "a key is not a signature");
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn base64_round_trips(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let s = encode(&data);
            if data.is_empty() {
                prop_assert_eq!(base64(&s), None);
            } else {
                prop_assert_eq!(base64(&s), Some(data));
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,120}") {
            let _ = base64(&s);
            let _ = PublicKey::parse(&s);
            let _ = Signature::parse(&s);
        }
    }
}
