//! The two X.509 structures ACME needs us to write, in DER by hand (RFC 5280, RFC 2986):
//! a certificate signing request for one DNS name, and the self-signed TLS-ALPN-01
//! challenge certificate (RFC 8737) with its critical `acmeIdentifier` extension. Both with
//! a fresh ECDSA P-256 key (ring), an empty subject and the name as a critical
//! `subjectAltName`. This replaced the rcgen crate (−24 KB on aarch64); the tests check the
//! output with x509 parsers, rustls and, end to end, pebble.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

// Object identifiers, DER-encoded whole (tag, length, value).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_EXTENSION_REQUEST: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e,
];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
const OID_ACME_IDENTIFIER: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f];
/// `critical BOOLEAN TRUE`.
const CRITICAL: &[u8] = &[0x01, 0x01, 0xff];
/// An empty `Name`.
const EMPTY_NAME: &[u8] = &[0x30, 0x00];

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut out = Vec::with_capacity(n + 4);
    out.push(tag);
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        // Nothing written here reaches 64 KiB.
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A fresh P-256 key: (PKCS#8 DER, the key for signing).
fn new_key() -> Result<(Vec<u8>, EcdsaKeyPair), String> {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| "cannot generate a P-256 key".to_string())?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng)
        .map_err(|_| "cannot load the new P-256 key".to_string())?;
    Ok((doc.as_ref().to_vec(), key))
}

fn spki(key: &EcdsaKeyPair) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(key.public_key().as_ref());
    seq(&[&seq(&[OID_EC_PUBLIC_KEY, OID_P256]), &tlv(0x03, &bits)])
}

fn san(name: &str) -> Vec<u8> {
    let names = seq(&[&tlv(0x82, name.as_bytes())]);
    seq(&[OID_SUBJECT_ALT_NAME, CRITICAL, &tlv(0x04, &names)])
}

/// `tbs`, its signature algorithm and signature: a signed structure.
fn signed(tbs: Vec<u8>, key: &EcdsaKeyPair) -> Result<Vec<u8>, String> {
    let sig = key
        .sign(&SystemRandom::new(), &tbs)
        .map_err(|_| "cannot sign".to_string())?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.as_ref());
    Ok(seq(&[&tbs, &seq(&[OID_ECDSA_SHA256]), &tlv(0x03, &bits)]))
}

/// A CSR for `name` with a new key: (CSR DER, the key as a PKCS#8 PEM).
pub fn csr(name: &str) -> Result<(Vec<u8>, String), String> {
    let (pkcs8, key) = new_key()?;
    let extensions = seq(&[&san(name)]);
    let attribute = seq(&[OID_EXTENSION_REQUEST, &tlv(0x31, &extensions)]);
    let info = seq(&[
        &[0x02, 0x01, 0x00],
        EMPTY_NAME,
        &spki(&key),
        &tlv(0xa0, &attribute),
    ]);
    Ok((
        signed(info, &key)?,
        crate::base64::pem("PRIVATE KEY", &pkcs8),
    ))
}

/// The TLS-ALPN-01 certificate for `name` carrying `digest` (32 bytes): (certificate DER,
/// its key as PKCS#8 DER).
pub fn alpn_cert(name: &str, digest: &[u8; 32]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (pkcs8, key) = new_key()?;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut serial)
        .map_err(|_| "no randomness".to_string())?;
    // Positive and minimal as a DER INTEGER.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let acme = seq(&[
        OID_ACME_IDENTIFIER,
        CRITICAL,
        &tlv(0x04, &tlv(0x04, digest)),
    ]);
    let validity = seq(&[&tlv(0x17, b"000101000000Z"), &tlv(0x18, b"99991231235959Z")]);
    let tbs = seq(&[
        &tlv(0xa0, &[0x02, 0x01, 0x02]),
        &tlv(0x02, &serial),
        &seq(&[OID_ECDSA_SHA256]),
        EMPTY_NAME,
        &validity,
        EMPTY_NAME,
        &spki(&key),
        &tlv(0xa3, &seq(&[&san(name), &acme])),
    ]);
    Ok((signed(tbs, &key)?, pkcs8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_certificate_parses_and_names_its_digest() {
        let digest = [7u8; 32];
        let (der, pkcs8) = alpn_cert("a.example.org", &digest).unwrap();
        let info = super::super::x509::parse_cert(&der).unwrap();
        assert_eq!(info.dns_names, vec!["a.example.org".to_string()]);
        // The acmeIdentifier extension: critical, an OCTET STRING holding the digest.
        let mut want = OID_ACME_IDENTIFIER.to_vec();
        want.extend_from_slice(CRITICAL);
        want.extend_from_slice(&[0x04, 34, 0x04, 32]);
        want.extend_from_slice(&digest);
        assert!(der.windows(want.len()).any(|w| w == want.as_slice()));
        // rustls takes the key, and the certificate's key is that key (webpki itself refuses
        // the critical acmeIdentifier, as it should: only the ACME server reads it).
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(pkcs8.into());
        let signing = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
        let spki = signing.public_key().unwrap();
        assert!(der.windows(spki.len()).any(|w| w == spki.as_ref()));
    }

    #[test]
    fn the_csr_is_signed_by_its_key() {
        let (der, pem) = csr("b.example.org").unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        // Outer SEQUENCE { info, algorithm, BIT STRING signature }: check the signature
        // over `info` with the public key inside it.
        let body = &der[2 + (der[1] as usize & 0x80 != 0) as usize * (der[1] as usize & 0x7f)..];
        let info_len = match body[1] {
            n if n < 0x80 => 2 + n as usize,
            0x81 => 3 + body[2] as usize,
            _ => 4 + ((body[2] as usize) << 8 | body[3] as usize),
        };
        let info = &body[..info_len];
        let rest = &body[info_len..];
        assert_eq!(
            &rest[..2 + OID_ECDSA_SHA256.len()],
            &seq(&[OID_ECDSA_SHA256])[..]
        );
        let sig = &rest[2 + OID_ECDSA_SHA256.len() + 3..];
        let point_at = info.windows(2).position(|w| w == [0x00, 0x04]).unwrap() + 1;
        let point = &info[point_at..point_at + 65];
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
            .verify(info, sig)
            .unwrap();
        assert!(info.windows(13).any(|w| w == b"b.example.org"));
        // The key PEM loads back.
        use rustls_pki_types::pem::PemObject;
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert!(rustls::crypto::ring::sign::any_supported_type(&key).is_ok());
    }
}
