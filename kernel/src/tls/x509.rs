//! Just enough X.509 DER reading to schedule renewals and report status: the
//! validity window and the DNS names of a certificate, and what names it to the CA's
//! renewal information (serial number, authority key identifier).
//!
//! rustls and webpki do not expose these fields and instant-acme's parser is an
//! optional feature we keep off for size, so this walks the DER by hand. Input is
//! untrusted (a PEM file from the user, a chain from the CA, a store row): every
//! length is checked and nothing here can panic.

use crate::civil::days_from_civil;

use std::fmt;

/// What could be read from a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// The `dNSName` entries of the subjectAltName extension, lower-cased.
    pub dns_names: Vec<String>,
    /// The serial number's DER content octets (as RFC 9773 encodes them).
    pub serial: Vec<u8>,
    /// The `keyIdentifier` of the authorityKeyIdentifier extension, when present.
    pub authority_key_id: Option<Vec<u8>>,
}

/// Why a certificate could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X509Error(&'static str);

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed X.509 certificate: {}", self.0)
    }
}

impl std::error::Error for X509Error {}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const CTX_VERSION: u8 = 0xA0;
const CTX_EXTENSIONS: u8 = 0xA3;
const GENERAL_NAME_DNS: u8 = 0x82;
/// 2.5.29.17, subjectAltName.
const OID_SAN: &[u8] = &[0x55, 0x1D, 0x11];
/// 2.5.29.35, authorityKeyIdentifier.
const OID_AKI: &[u8] = &[0x55, 0x1D, 0x23];
/// `keyIdentifier [0] IMPLICIT OCTET STRING` inside it.
const CTX_KEY_ID: u8 = 0x80;

/// One DER element: `(tag, contents, rest)`. Only the definite length forms DER
/// allows are accepted, up to 4 length bytes.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), X509Error> {
    let (&tag, rest) = input.split_first().ok_or(X509Error("truncated tag"))?;
    let (&first, mut rest) = rest.split_first().ok_or(X509Error("truncated length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(X509Error("unsupported length form"));
        }
        if rest.len() < n {
            return Err(X509Error("truncated length"));
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return Err(X509Error("element longer than its container"));
    }
    let (contents, rest) = rest.split_at(len);
    Ok((tag, contents, rest))
}

/// Read one element that must have tag `want`.
fn expect<'a>(
    input: &'a [u8],
    want: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), X509Error> {
    let (tag, contents, rest) = tlv(input)?;
    if tag != want {
        return Err(X509Error(what));
    }
    Ok((contents, rest))
}

/// Read the validity window and DNS names of a DER certificate.
pub fn parse_cert(der: &[u8]) -> Result<CertInfo, X509Error> {
    let (cert, _) = expect(der, SEQUENCE, "certificate is not a SEQUENCE")?;
    let (tbs, _) = expect(cert, SEQUENCE, "tbsCertificate is not a SEQUENCE")?;
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == CTX_VERSION {
        rest = after;
    }
    let (serial, rest) = expect(rest, INTEGER, "serialNumber is not an INTEGER")?;
    let (_, rest) = expect(rest, SEQUENCE, "signature algorithm is not a SEQUENCE")?;
    let (_, rest) = expect(rest, SEQUENCE, "issuer is not a SEQUENCE")?;
    let (validity, rest) = expect(rest, SEQUENCE, "validity is not a SEQUENCE")?;
    let (not_before, vrest) = parse_time(validity)?;
    let (not_after, _) = parse_time(vrest)?;
    let (_, rest) = expect(rest, SEQUENCE, "subject is not a SEQUENCE")?;
    let (_, mut rest) = expect(rest, SEQUENCE, "subjectPublicKeyInfo is not a SEQUENCE")?;
    let mut info = CertInfo {
        not_before,
        not_after,
        dns_names: Vec::new(),
        serial: serial.to_vec(),
        authority_key_id: None,
    };
    // Optional issuerUniqueID [1], subjectUniqueID [2], extensions [3].
    while !rest.is_empty() {
        let (tag, contents, after) = tlv(rest)?;
        rest = after;
        if tag == CTX_EXTENSIONS {
            let (exts, _) = expect(contents, SEQUENCE, "extensions is not a SEQUENCE")?;
            if let Some(v) = extension(exts, OID_SAN)? {
                info.dns_names = san_dns_names(v)?;
            }
            if let Some(v) = extension(exts, OID_AKI)? {
                let (mut fields, _) =
                    expect(v, SEQUENCE, "authorityKeyIdentifier is not a SEQUENCE")?;
                while !fields.is_empty() {
                    let (tag, contents, after) = tlv(fields)?;
                    fields = after;
                    if tag == CTX_KEY_ID {
                        info.authority_key_id = Some(contents.to_vec());
                    }
                }
            }
        }
    }
    Ok(info)
}

/// The value (inside its OCTET STRING) of the extension `id`, if present.
fn extension<'a>(mut exts: &'a [u8], id: &[u8]) -> Result<Option<&'a [u8]>, X509Error> {
    while !exts.is_empty() {
        let (ext, after) = expect(exts, SEQUENCE, "extension is not a SEQUENCE")?;
        exts = after;
        let (oid, rest) = expect(ext, OID, "extension id is not an OID")?;
        if oid != id {
            continue;
        }
        let (tag, contents, after) = tlv(rest)?;
        return if tag == BOOLEAN {
            Ok(Some(
                expect(
                    after,
                    OCTET_STRING,
                    "extension value is not an OCTET STRING",
                )?
                .0,
            ))
        } else if tag == OCTET_STRING {
            Ok(Some(contents))
        } else {
            Err(X509Error("extension value is not an OCTET STRING"))
        };
    }
    Ok(None)
}

/// The DNS names of a subjectAltName value.
fn san_dns_names(value: &[u8]) -> Result<Vec<String>, X509Error> {
    let (mut names, _) = expect(value, SEQUENCE, "subjectAltName is not a SEQUENCE")?;
    let mut out = Vec::new();
    while !names.is_empty() {
        let (tag, contents, after) = tlv(names)?;
        names = after;
        if tag == GENERAL_NAME_DNS {
            let name =
                std::str::from_utf8(contents).map_err(|_| X509Error("dNSName is not ASCII"))?;
            out.push(name.to_ascii_lowercase());
        }
    }
    Ok(out)
}

/// Read a UTCTime or GeneralizedTime (the `Z` forms RFC 5280 mandates) as Unix seconds.
fn parse_time(input: &[u8]) -> Result<(i64, &[u8]), X509Error> {
    let (tag, contents, rest) = tlv(input)?;
    let t = match tag {
        UTC_TIME => parse_time_digits(contents, 2)?,
        GENERALIZED_TIME => parse_time_digits(contents, 4)?,
        _ => return Err(X509Error("validity time is not UTCTime/GeneralizedTime")),
    };
    Ok((t, rest))
}

/// `YY[YY]MMDDHHMMSSZ` → Unix seconds. UTCTime years 50–99 are 19xx (RFC 5280).
pub(crate) fn parse_time_digits(s: &[u8], year_digits: usize) -> Result<i64, X509Error> {
    let bad = X509Error("malformed time");
    if s.len() != year_digits + 11 || s.last() != Some(&b'Z') {
        return Err(bad);
    }
    let digits = s.get(..s.len() - 1).ok_or(X509Error("malformed time"))?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let num = |from: usize, len: usize| -> i64 {
        digits
            .iter()
            .skip(from)
            .take(len)
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
    };
    let mut year = num(0, year_digits);
    if year_digits == 2 {
        year += if year >= 50 { 1900 } else { 2000 };
    }
    let y = year_digits;
    let (month, day) = (num(y, 2), num(y + 2, 2));
    let (hour, min, sec) = (num(y + 4, 2), num(y + 6, 2), num(y + 8, 2));
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return Err(X509Error("time field out of range"));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + min * 60 + sec)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn known_times() {
        assert_eq!(parse_time_digits(b"700101000000Z", 2), Ok(0));
        assert_eq!(parse_time_digits(b"491231235959Z", 2), Ok(2_524_607_999));
        assert_eq!(parse_time_digits(b"500101000000Z", 2), Ok(-631_152_000));
        assert_eq!(parse_time_digits(b"20000229120000Z", 4), Ok(951_825_600));
        assert!(parse_time_digits(b"20010229120000Z", 4).is_err());
        assert!(parse_time_digits(b"20001301000000Z", 4).is_err());
        assert!(parse_time_digits(b"2000010100000Z", 4).is_err());
        assert!(parse_time_digits(b"20000101000000+", 4).is_err());
        assert!(parse_time_digits(b"2000010100000aZ", 4).is_err());
    }

    #[test]
    fn reads_rcgen_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["A.example.com".into(), "b.example.com".into()])
                .unwrap();
        params.not_before = rcgen::date_time_ymd(2024, 2, 29);
        params.not_after = rcgen::date_time_ymd(2051, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = parse_cert(cert.der()).unwrap();
        assert_eq!(info.not_before, 1_709_164_800);
        assert_eq!(info.not_after, 2_556_144_000);
        assert_eq!(info.dns_names, vec!["a.example.com", "b.example.com"]);
    }

    #[test]
    fn reads_serial_and_authority_key_id() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(vec![]).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_id = ca.key_identifier(&ca_key);
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf = rcgen::CertificateParams::new(vec!["x.test".into()]).unwrap();
        leaf.serial_number = Some(vec![0x00, 0x9a, 0x01, 0xff].into());
        leaf.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().unwrap();
        let info = parse_cert(leaf.signed_by(&key, &issuer).unwrap().der()).unwrap();
        assert_eq!(info.authority_key_id, Some(ca_id));
        assert_eq!(info.serial, [0x00, 0x9a, 0x01, 0xff]);
        assert_eq!(info.dns_names, ["x.test"]);
        // A self-signed certificate without the extension has none.
        let own = rcgen::CertificateParams::new(vec!["y.test".into()]).unwrap();
        let info = parse_cert(own.self_signed(&key).unwrap().der()).unwrap();
        assert_eq!(info.authority_key_id, None);
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["x.test".into()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        for cut in 0..der.len() {
            assert!(
                parse_cert(&der[..cut]).is_err(),
                "prefix of {cut} bytes parsed"
            );
        }
        assert!(parse_cert(&[0x30, 0x80]).is_err());
        assert!(parse_cert(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_cert(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_certificate(pos in 0usize..400, byte in any::<u8>()) {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["m.test".into()]).unwrap();
            let mut der = params.self_signed(&key).unwrap().der().to_vec();
            let len = der.len();
            der[pos % len] = byte;
            let _ = parse_cert(&der);
        }

        /// Cross-check the calendar arithmetic against httpdate's formatter.
        #[test]
        fn generalized_time_matches_httpdate(secs in 0u64..253_402_300_799) {
            let s = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            // "Sun, 06 Nov 1994 08:49:37 GMT"
            let p: Vec<&str> = s.split([' ', ':']).collect();
            let month = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"]
                .iter().position(|m| *m == p[2]).unwrap() + 1;
            let g = format!("{}{:02}{}{}{}{}Z", p[3], month, p[1], p[4], p[5], p[6]);
            prop_assert_eq!(parse_time_digits(g.as_bytes(), 4), Ok(secs as i64));
        }
    }
}
