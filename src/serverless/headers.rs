//! Validation of response headers set by scripts (`res.header`, `api/main.js` envelopes).
//!
//! A script is untrusted input to the HTTP layer: a CR/LF in a value would let it split the
//! response, and a `Content-Length` or `Transfer-Encoding` of its own would desynchronise
//! framing with the client. So names must be RFC 9110 tokens, values must be free of
//! control characters other than HTAB, framing/hop-by-hop headers are refused, and the
//! count and size are capped.

/// Longest header value a script may set, in bytes.
pub(super) const MAX_HEADER_VALUE: usize = 8192;

/// Headers the HTTP layer owns (framing and hop-by-hop, RFC 9110 §7.6.1).
const RESERVED: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// Why a header was refused; the script sees `Invalid` as a `TypeError` and `TooMany` as
/// a `RangeError`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeaderError {
    Invalid(String),
    TooMany(String),
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Field values: visible characters, space and HTAB; no CR, LF, NUL or other controls.
fn is_field_value(s: &str) -> bool {
    s.chars().all(|c| c == '\t' || !c.is_control())
}

/// Adds `name: value` to `headers`, replacing an earlier header of the same name (ASCII
/// case-insensitive) except for `Set-Cookie`, which appends, as cookies must stay
/// separate lines.
pub(super) fn set_header(
    headers: &mut Vec<(String, String)>,
    name: &str,
    value: &str,
    max_headers: usize,
) -> Result<(), HeaderError> {
    if !is_token(name) {
        return Err(HeaderError::Invalid(format!(
            "header name '{}' is not a valid HTTP token",
            truncate_for_message(name).escape_debug()
        )));
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(HeaderError::Invalid(format!(
            "header {name} is managed by the server and cannot be set by a script"
        )));
    }
    if value.len() > MAX_HEADER_VALUE {
        return Err(HeaderError::TooMany(format!(
            "header {name} value of {} bytes exceeds {MAX_HEADER_VALUE} bytes",
            value.len()
        )));
    }
    if !is_field_value(value) {
        return Err(HeaderError::Invalid(format!(
            "header {name} value contains a control character (CR, LF, NUL, …)"
        )));
    }
    if !name.eq_ignore_ascii_case("set-cookie") {
        if let Some(slot) = headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            slot.1 = value.to_owned();
            return Ok(());
        }
    }
    if headers.len() >= max_headers {
        return Err(HeaderError::TooMany(format!(
            "cannot set header {name}: a response may carry at most {max_headers} headers"
        )));
    }
    headers.push((name.to_owned(), value.to_owned()));
    Ok(())
}

/// Keeps error messages short when a script passes a huge bogus name.
fn truncate_for_message(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn replaces_appends_and_caps() {
        let mut h = Vec::new();
        set_header(&mut h, "X-A", "1", 2).unwrap();
        set_header(&mut h, "x-a", "2", 2).unwrap();
        assert_eq!(h, vec![("X-A".to_string(), "2".to_string())]);
        set_header(&mut h, "Set-Cookie", "a=1", 3).unwrap();
        set_header(&mut h, "set-cookie", "b=2", 3).unwrap();
        assert_eq!(h.len(), 3);
        assert!(matches!(
            set_header(&mut h, "X-B", "1", 3),
            Err(HeaderError::TooMany(_))
        ));
        // Replacing an existing header is allowed at the cap.
        set_header(&mut h, "X-A", "3", 3).unwrap();
    }

    #[test]
    fn refuses_bad_names_values_and_framing() {
        let mut h = Vec::new();
        for bad in ["", "a b", "a:b", "é", "a\r\nb"] {
            assert!(matches!(
                set_header(&mut h, bad, "v", 10),
                Err(HeaderError::Invalid(_))
            ));
        }
        for bad in ["a\r\nSet-Cookie: x", "a\nb", "a\0b", "\u{7f}"] {
            assert!(matches!(
                set_header(&mut h, "X", bad, 10),
                Err(HeaderError::Invalid(_))
            ));
        }
        for reserved in ["Content-Length", "transfer-encoding", "CONNECTION", "TE"] {
            assert!(matches!(
                set_header(&mut h, reserved, "1", 10),
                Err(HeaderError::Invalid(_))
            ));
        }
        let long = "a".repeat(MAX_HEADER_VALUE + 1);
        assert!(matches!(
            set_header(&mut h, "X", &long, 10),
            Err(HeaderError::TooMany(_))
        ));
        set_header(&mut h, "X", "tab\tand unicode é", 10).unwrap();
        assert!(h.is_empty() || h.len() == 1);
    }

    proptest! {
        #[test]
        fn accepted_headers_are_safe(name in ".{0,20}", value in ".{0,40}") {
            let mut h = Vec::new();
            if set_header(&mut h, &name, &value, 4).is_ok() {
                let (n, v) = &h[0];
                prop_assert!(n.bytes().all(is_tchar) && !n.is_empty());
                prop_assert!(!v.contains('\r') && !v.contains('\n') && !v.contains('\0'));
                prop_assert!(!RESERVED.iter().any(|r| r.eq_ignore_ascii_case(n)));
            }
        }

        #[test]
        fn never_exceeds_cap(names in proptest::collection::vec("[a-zA-Z-]{1,6}", 0..40)) {
            let mut h = Vec::new();
            for n in &names {
                let _ = set_header(&mut h, n, "v", 8);
            }
            prop_assert!(h.len() <= 8);
        }
    }
}
