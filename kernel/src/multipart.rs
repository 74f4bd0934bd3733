//! `multipart/form-data` (RFC 7578) over a fully buffered request body.
//!
//! Owns splitting a body into its parts without copying their data: each [`Part`] borrows its
//! bytes from the body. Accepts what browsers, curl `-F` and Go's `mime/multipart` send: CRLF
//! line ends (bare LF tolerated), a preamble before the first boundary and an epilogue after the
//! closing one, quoted or bare parameter values. A body without its closing boundary was cut
//! short and is refused, and so is one with too many parts or oversized part headers.

use std::fmt;

/// Most parts one body may hold; a deploy needs a handful.
pub const MAX_PARTS: usize = 64;
/// Most bytes of headers one part may have.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// RFC 2046: a boundary is 1 to 70 characters.
const MAX_BOUNDARY: usize = 70;

/// One part of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The `name` of the form field (`Content-Disposition: form-data; name="…"`).
    pub name: String,
    /// The `filename` parameter, when the part is a file upload.
    pub filename: Option<String>,
    /// The part's `Content-Type` header, trimmed.
    pub content_type: Option<String>,
    /// The part's bytes, borrowed from the body.
    pub data: &'a [u8],
}

/// Why a body could not be parsed. `part` numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// The boundary given to [`parse`] is empty, longer than 70 bytes or has forbidden bytes.
    InvalidBoundary,
    /// No `--boundary` line opens the body.
    MissingOpeningBoundary,
    /// The body ends before the closing `--boundary--` line.
    MissingClosingBoundary,
    /// More parts than [`MAX_PARTS`].
    TooManyParts {
        /// The [`MAX_PARTS`] in force.
        limit: usize,
    },
    /// A part's headers are longer than [`MAX_HEADER_BYTES`] or never end.
    HeadersTooLarge {
        /// The part's number, from 1.
        part: usize,
        /// The [`MAX_HEADER_BYTES`] in force.
        limit: usize,
    },
    /// A header line of the part has no `:`.
    MalformedHeader {
        /// The part's number, from 1.
        part: usize,
    },
    /// The part has no `Content-Disposition: form-data; name=…` header.
    MissingName {
        /// The part's number, from 1.
        part: usize,
    },
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipartError::InvalidBoundary => {
                write!(f, "the multipart boundary is empty, too long or has invalid characters")
            }
            MultipartError::MissingOpeningBoundary => {
                write!(f, "the multipart body does not contain its opening boundary")
            }
            MultipartError::MissingClosingBoundary => write!(
                f,
                "the multipart body ends before its closing boundary (was the upload cut short?)"
            ),
            MultipartError::TooManyParts { limit } => {
                write!(f, "the multipart body has more than {limit} parts")
            }
            MultipartError::HeadersTooLarge { part, limit } => write!(
                f,
                "the headers of multipart part #{part} are unterminated or longer than {limit} bytes"
            ),
            MultipartError::MalformedHeader { part } => {
                write!(f, "multipart part #{part} has a header line without ':'")
            }
            MultipartError::MissingName { part } => write!(
                f,
                "multipart part #{part} has no 'Content-Disposition: form-data; name=...' header"
            ),
        }
    }
}

impl std::error::Error for MultipartError {}

/// RFC 2046 `bchars`: digits, letters, `'()+_,-./:=?` and space (not last).
fn valid_boundary(b: &str) -> bool {
    (1..=MAX_BOUNDARY).contains(&b.len())
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

/// The boundary of a `multipart/form-data` Content-Type, or `None` when the type is something
/// else or the boundary is missing or invalid.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut fields = split_params(content_type);
    let media = fields.next()?;
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let found = fields
        .filter_map(param)
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)?;
    valid_boundary(&found).then_some(found)
}

/// Splits a header value on the `;` that are not inside a quoted string.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => {
                    rest = s.get(i + 1..);
                    return s.get(..i);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

/// `key=value` or `key="quoted \"value\""` → (key, unquoted value).
fn param(field: &str) -> Option<(&str, String)> {
    let (key, value) = field.split_once('=')?;
    let key = key.trim();
    let value = value.trim();
    let value = match value.strip_prefix('"') {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.push(chars.next()?),
                    '"' => break,
                    c => out.push(c),
                }
            }
            out
        }
        None => value.to_owned(),
    };
    Some((key, value))
}

/// Position of `needle` in `hay` from `from`, or `None`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    loop {
        let rest = hay.get(at..)?;
        let i = rest.iter().position(|&b| b == first)?;
        let start = at + i;
        if hay.get(start..start.checked_add(needle.len())?) == Some(needle) {
            return Some(start);
        }
        at = start + 1;
    }
}

/// If a delimiter `--boundary` starts at `at`, returns where its line ends and whether it is the
/// closing one. A real delimiter is followed by `--`, or by optional spaces/tabs and a line end;
/// anything else (e.g. `--boundaryX`) is part of the data.
fn delimiter_at(body: &[u8], at: usize, dash: &[u8]) -> Option<(usize, bool)> {
    let after = at.checked_add(dash.len())?;
    if body.get(at..after) != Some(dash) {
        return None;
    }
    let rest = body.get(after..)?;
    if rest.starts_with(b"--") {
        return Some((after + 2, true));
    }
    let pad = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let line = rest.get(pad..)?;
    if line.starts_with(b"\r\n") {
        Some((after + pad + 2, false))
    } else if line.starts_with(b"\n") {
        Some((after + pad + 1, false))
    } else {
        None
    }
}

/// Finds the next delimiter line after `from`: returns (end of the part's data, end of the
/// delimiter line, closing?). The line break before the delimiter belongs to it, not the data.
fn next_delimiter(body: &[u8], from: usize, dash: &[u8]) -> Option<(usize, usize, bool)> {
    let mut at = from;
    loop {
        let nl = find(body, b"\n", at)?;
        if let Some((line_end, closing)) = delimiter_at(body, nl + 1, dash) {
            let data_end = if nl > from && body.get(nl - 1) == Some(&b'\r') {
                nl - 1
            } else {
                nl
            };
            return Some((data_end, line_end, closing));
        }
        at = nl + 1;
    }
}

/// Parses a `multipart/form-data` body split by `boundary` (without the leading `--`).
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    if !valid_boundary(boundary) {
        return Err(MultipartError::InvalidBoundary);
    }
    let dash = format!("--{boundary}");
    let dash = dash.as_bytes();

    // The first delimiter starts the body or a line; anything before it is preamble.
    let (mut pos, mut closing) = match delimiter_at(body, 0, dash) {
        Some(found) => found,
        None => {
            let (_, line_end, closing) =
                next_delimiter(body, 0, dash).ok_or(MultipartError::MissingOpeningBoundary)?;
            (line_end, closing)
        }
    };
    let mut parts = Vec::new();
    while !closing {
        if parts.len() == MAX_PARTS {
            return Err(MultipartError::TooManyParts { limit: MAX_PARTS });
        }
        let number = parts.len() + 1;
        let (headers, data_start) = split_headers(body, pos, number)?;
        let (data_end, line_end, is_closing) =
            next_delimiter(body, data_start, dash).ok_or(MultipartError::MissingClosingBoundary)?;
        let data = body
            .get(data_start..data_end)
            .ok_or(MultipartError::MissingClosingBoundary)?;
        parts.push(part_from_headers(headers, data, number)?);
        pos = line_end;
        closing = is_closing;
    }
    Ok(parts)
}

/// The header block of a part starting at `start`: (header bytes, start of the data).
fn split_headers(body: &[u8], start: usize, part: usize) -> Result<(&[u8], usize), MultipartError> {
    let too_large = MultipartError::HeadersTooLarge {
        part,
        limit: MAX_HEADER_BYTES,
    };
    let rest = body
        .get(start..)
        .ok_or(MultipartError::MissingClosingBoundary)?;
    // A part with no headers at all starts straight with the blank line.
    if rest.starts_with(b"\r\n") {
        return Ok((&[], start + 2));
    }
    if rest.starts_with(b"\n") {
        return Ok((&[], start + 1));
    }
    let window = rest.get(..MAX_HEADER_BYTES + 4).unwrap_or(rest);
    let mut at = 0;
    while let Some(nl) = find(window, b"\n", at) {
        let next = window.get(nl + 1..).unwrap_or_default();
        let blank = if next.starts_with(b"\r\n") {
            Some(2)
        } else if next.starts_with(b"\n") {
            Some(1)
        } else {
            None
        };
        if let Some(len) = blank {
            let headers = window.get(..nl + 1).unwrap_or_default();
            if headers.len() > MAX_HEADER_BYTES {
                return Err(too_large);
            }
            return Ok((headers, start + nl + 1 + len));
        }
        at = nl + 1;
    }
    if rest.len() <= MAX_HEADER_BYTES + 4 {
        return Err(MultipartError::MissingClosingBoundary);
    }
    Err(too_large)
}

/// Reads the `Content-Disposition` and `Content-Type` headers of one part.
fn part_from_headers<'a>(
    headers: &[u8],
    data: &'a [u8],
    part: usize,
) -> Result<Part<'a>, MultipartError> {
    let text = String::from_utf8_lossy(headers);
    let mut lines: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        // Obsolete line folding: a line starting with white space continues the previous one.
        if line.starts_with([' ', '\t']) {
            let last = lines
                .last_mut()
                .ok_or(MultipartError::MalformedHeader { part })?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or(MultipartError::MalformedHeader { part })?;
        lines.push((key.trim().to_owned(), value.trim().to_owned()));
    }

    let header = |name: &str| {
        lines
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let missing = MultipartError::MissingName { part };
    let disposition = header("content-disposition").ok_or(missing.clone())?;
    let mut fields = split_params(disposition);
    let kind = fields.next().unwrap_or_default().trim();
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(missing);
    }
    let (mut name, mut filename) = (None, None);
    for (key, value) in fields.filter_map(param) {
        if key.eq_ignore_ascii_case("name") && name.is_none() {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("filename") && filename.is_none() {
            filename = Some(value);
        }
    }
    Ok(Part {
        name: name.ok_or(missing)?,
        filename,
        content_type: header("content-type").map(str::to_owned),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured from `curl 7.88.1 -F site=my-site -F 'file=@note.txt;filename=we"ird.txt'
    /// -F empty=`; curl percent-encodes the quote in the filename.
    const CURL_TYPE: &str =
        "multipart/form-data; boundary=------------------------e987d3f2806ab376";
    const CURL_BODY: &[u8] = b"--------------------------e987d3f2806ab376\r\nContent-Disposition: form-data; name=\"site\"\r\n\r\nmy-site\r\n--------------------------e987d3f2806ab376\r\nContent-Disposition: form-data; name=\"file\"; filename=\"we%22ird.txt\"\r\nContent-Type: text/plain\r\n\r\nfirst line\r\n--------------------------not-the-boundary\r\nlast\r\n\r\n--------------------------e987d3f2806ab376\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--------------------------e987d3f2806ab376--\r\n";

    fn part<'a>(
        name: &str,
        filename: Option<&str>,
        content_type: Option<&str>,
        data: &'a [u8],
    ) -> Part<'a> {
        Part {
            name: name.into(),
            filename: filename.map(Into::into),
            content_type: content_type.map(Into::into),
            data,
        }
    }

    #[test]
    fn parses_curl_body() {
        let b = boundary(CURL_TYPE).unwrap();
        assert_eq!(b, "------------------------e987d3f2806ab376");
        let parts = parse(CURL_BODY, &b).unwrap();
        assert_eq!(
            parts,
            [
                part("site", None, None, b"my-site"),
                part(
                    "file",
                    Some("we%22ird.txt"),
                    Some("text/plain"),
                    b"first line\r\n--------------------------not-the-boundary\r\nlast\r\n"
                ),
                part("empty", None, None, b""),
            ]
        );
        // Zero-copy: data points into the body.
        let range = CURL_BODY.as_ptr_range();
        assert!(range.contains(&parts[1].data.as_ptr()));
    }

    /// The layout Go's `mime/multipart.Writer` produces (60 hex digit boundary, escaped
    /// quotes, no preamble, CRLF after the closing delimiter).
    #[test]
    fn parses_go_style_body() {
        let b = "4a0c7d5d2e0f3b1a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f";
        let content_type = format!("multipart/form-data; boundary={b}");
        assert_eq!(boundary(&content_type).as_deref(), Some(b));
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\" \\\\ b.zip\"\r\nContent-Type: application/octet-stream\r\n\r\nPK\x03\x04zip\r\n--{b}\r\nContent-Disposition: form-data; name=\"site\"\r\n\r\nblog\r\n--{b}--\r\n"
        );
        let parts = parse(body.as_bytes(), b).unwrap();
        assert_eq!(
            parts,
            [
                part(
                    "file",
                    Some("a \"q\" \\ b.zip"),
                    Some("application/octet-stream"),
                    b"PK\x03\x04zip"
                ),
                part("site", None, None, b"blog"),
            ]
        );
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;BOUNDARY=\"a b:c\"; charset=utf-8").as_deref(),
            Some("a b:c")
        );
        assert_eq!(
            boundary("multipart/form-data; charset=\"x;y\"; boundary=z").as_deref(),
            Some("z")
        );
        let max = "b".repeat(70);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={max}")),
            Some(max)
        );
        for bad in [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"\"",
            "multipart/mixed; boundary=abc",
            "text/plain; boundary=abc",
            "multipart/form-data; boundary=\"ends in space \"",
            "multipart/form-data; boundary=a\rb",
        ] {
            assert_eq!(boundary(bad), None, "{bad:?}");
        }
        let long = "b".repeat(71);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={long}")),
            None
        );
    }

    #[test]
    fn tolerates_bare_lf_preamble_and_epilogue() {
        let body = b"preamble text\n--xyz\ncontent-disposition: form-data; name=a\n\nline1\nline2\n--xyz  \ncontent-disposition: FORM-DATA; name=\"b\"; filename=x.bin\ncontent-type:  image/png \n\n\x00\x01\n--xyz--\nepilogue";
        let parts = parse(body, "xyz").unwrap();
        assert_eq!(
            parts,
            [
                part("a", None, None, b"line1\nline2"),
                part("b", Some("x.bin"), Some("image/png"), b"\x00\x01"),
            ]
        );
        // Preamble with CRLF, and a part without any headers is refused for lack of a name.
        let body = b"junk\r\n--b\r\n\r\ndata\r\n--b--";
        assert_eq!(
            parse(body, "b"),
            Err(MultipartError::MissingName { part: 1 })
        );
    }

    #[test]
    fn boundary_lookalikes_are_data() {
        let body = b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n--b\r\n--bb\r\nmore\r\n--b-x\r\n--b--";
        let parts = parse(body, "b").unwrap();
        assert_eq!(
            parts,
            [part("x", None, None, b"--b\r\n--bb\r\nmore\r\n--b-x")]
        );
    }

    #[test]
    fn keeps_trailing_cr_and_lf_in_data() {
        let body = b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nend\r\n\r\n\r\n--b--\r\n";
        assert_eq!(parse(body, "b").unwrap()[0].data, b"end\r\n\r\n");
    }

    #[test]
    fn refuses_broken_bodies() {
        let ok = b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\ndata\r\n--b--\r\n";
        assert!(parse(ok, "b").is_ok());
        // Cut anywhere before the closing delimiter's dashes.
        for cut in 0..ok.len() - 3 {
            let err = parse(&ok[..cut], "b").unwrap_err();
            assert!(
                matches!(
                    err,
                    MultipartError::MissingClosingBoundary | MultipartError::MissingOpeningBoundary
                ),
                "cut {cut}: {err}"
            );
        }
        assert_eq!(
            parse(b"no boundary here", "b"),
            Err(MultipartError::MissingOpeningBoundary)
        );
        assert_eq!(parse(ok, ""), Err(MultipartError::InvalidBoundary));
        assert_eq!(
            parse(ok, &"b".repeat(71)),
            Err(MultipartError::InvalidBoundary)
        );
        assert_eq!(
            parse(b"--b\r\nno colon\r\n\r\nx\r\n--b--", "b"),
            Err(MultipartError::MalformedHeader { part: 1 })
        );
        assert_eq!(
            parse(
                b"--b\r\nContent-Disposition: attachment; name=x\r\n\r\nx\r\n--b--",
                "b"
            ),
            Err(MultipartError::MissingName { part: 1 })
        );
        assert_eq!(
            parse(
                b"--b\r\nContent-Disposition: form-data; filename=x\r\n\r\nx\r\n--b--",
                "b"
            ),
            Err(MultipartError::MissingName { part: 1 })
        );
        let err = MultipartError::MissingClosingBoundary.to_string();
        assert!(err.contains("closing boundary"), "{err}");
    }

    #[test]
    fn caps_parts_and_headers() {
        let one = "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n";
        let body = format!("{}--b--\r\n", one.repeat(MAX_PARTS));
        assert_eq!(parse(body.as_bytes(), "b").unwrap().len(), MAX_PARTS);
        let body = format!("{}--b--\r\n", one.repeat(MAX_PARTS + 1));
        assert_eq!(
            parse(body.as_bytes(), "b"),
            Err(MultipartError::TooManyParts { limit: MAX_PARTS })
        );

        let header = format!("X-Pad: {}\r\n", "p".repeat(MAX_HEADER_BYTES));
        let body = format!(
            "{one}--b\r\nContent-Disposition: form-data; name=y\r\n{header}\r\nv\r\n--b--\r\n"
        );
        assert_eq!(
            parse(body.as_bytes(), "b"),
            Err(MultipartError::HeadersTooLarge {
                part: 2,
                limit: MAX_HEADER_BYTES
            })
        );
        // Headers that never end in a large body.
        let body = format!("--b\r\nX: {}", "y".repeat(100_000));
        assert!(matches!(
            parse(body.as_bytes(), "b"),
            Err(MultipartError::HeadersTooLarge { part: 1, .. })
        ));
    }

    #[test]
    fn folded_headers_and_first_param_wins() {
        let body = b"--b\r\nContent-Disposition: form-data;\r\n name=\"first\"; name=\"second\"\r\n\r\nv\r\n--b--";
        assert_eq!(parse(body, "b").unwrap()[0].name, "first");
    }

    /// (name, filename, content type, data) of a generated part.
    type GenPart = (String, Option<String>, Option<String>, Vec<u8>);

    /// Whether the parsed parts are the generated ones, field by field.
    fn same_parts(
        got: &[Part<'_>],
        parts: &[GenPart],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert_eq!(got.len(), parts.len());
        for (g, (name, filename, content_type, data)) in got.iter().zip(parts) {
            proptest::prop_assert_eq!(&g.name, name);
            proptest::prop_assert_eq!(&g.filename, filename);
            proptest::prop_assert_eq!(&g.content_type, content_type);
            proptest::prop_assert_eq!(g.data, &data[..]);
        }
        Ok(())
    }

    /// Builds a body the way curl and Go do.
    fn encode(boundary: &str, parts: &[GenPart]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, content_type, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
            if let Some(f) = filename {
                disposition.push_str(&format!("; filename=\"{f}\""));
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            if let Some(t) = content_type {
                body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        body
    }

    /// Random bytes rich in the ones the parser cares about. (Mapping plain bytes is much
    /// faster than `prop_oneof!` per byte in unoptimised test builds.)
    fn syntax_heavy_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max).prop_map(|bytes| {
            bytes
                .into_iter()
                .map(|b| match b % 16 {
                    0 => b'\r',
                    1 => b'\n',
                    2 => b'-',
                    3 => b'b',
                    4 => b':',
                    _ => b,
                })
                .collect()
        })
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    proptest! {
        #[test]
        fn round_trips_generated_bodies(
            boundary in "[a-zA-Z0-9'()+_,./:=?-]{1,70}",
            parts in prop::collection::vec(
                (
                    "[a-z_]{1,10}",
                    prop::option::of("[a-zA-Z0-9 ._-]{1,12}"),
                    prop::option::of("[a-z]{1,8}/[a-z0-9.+-]{1,12}"),
                    syntax_heavy_bytes(200),
                ),
                0..8,
            ),
        ) {
            // A sender picks a boundary that does not occur in the data.
            let delimiter = format!("\n--{boundary}");
            prop_assume!(parts.iter().all(|p| !contains(&p.3, delimiter.as_bytes())
                && !p.3.starts_with(format!("--{boundary}").as_bytes())));
            let body = encode(&boundary, &parts);
            let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
            prop_assert_eq!(super::boundary(&content_type), Some(boundary.clone()));
            same_parts(&parse(&body, &boundary).unwrap(), &parts)?;
        }

        #[test]
        fn never_panics(body in syntax_heavy_bytes(600)) {
            let _ = parse(&body, "b");
            let _ = parse(&body, "--b");
            let _ = boundary(&String::from_utf8_lossy(&body));
        }

        #[test]
        fn never_panics_on_mutated_bodies(
            mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut body = CURL_BODY.to_vec();
            for (at, byte) in mutations {
                let i = at.index(body.len());
                body[i] = byte;
            }
            body.truncate(cut.index(body.len() + 1));
            if let Ok(parts) = parse(&body, "------------------------e987d3f2806ab376") {
                prop_assert!(parts.len() <= 3);
            }
        }
    }

    /// Like [`encode`], with bare LF line ends (as some scripts send).
    fn encode_lf(boundary: &str, parts: &[GenPart]) -> Vec<u8> {
        // Only the framing's line ends change, never the data's.
        let mut out = Vec::new();
        for (name, filename, content_type, data) in parts {
            out.extend_from_slice(format!("--{boundary}\n").as_bytes());
            out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"").as_bytes(),
            );
            if let Some(f) = filename {
                out.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
            }
            out.push(b'\n');
            if let Some(t) = content_type {
                out.extend_from_slice(format!("Content-Type: {t}\n").as_bytes());
            }
            out.push(b'\n');
            out.extend_from_slice(data);
            out.push(b'\n');
        }
        out.extend_from_slice(format!("--{boundary}--\n").as_bytes());
        out
    }

    fn gen_parts() -> impl Strategy<Value = Vec<GenPart>> {
        prop::collection::vec(
            (
                "[a-z_]{1,10}",
                prop::option::of("[a-zA-Z0-9 ._-]{1,12}"),
                prop::option::of("[a-z]{1,8}/[a-z0-9.+-]{1,12}"),
                syntax_heavy_bytes(120),
            ),
            0..6,
        )
    }

    /// Every part of a successful parse borrows its bytes from inside the body.
    fn inside(parts: &[Part<'_>], body: &[u8]) -> bool {
        let range = body.as_ptr_range();
        parts.iter().all(|p| {
            p.data.is_empty()
                || (range.contains(&p.data.as_ptr()) && p.data.as_ptr_range().end <= range.end)
        })
    }

    proptest! {
        #![proptest_config(crate::proptest_config(128))]

        /// Any bytes, any boundary string: an answer, never a panic.
        #[test]
        fn never_panics_on_arbitrary_input(
            body in prop::collection::vec(any::<u8>(), 0..800),
            boundary in ".{0,80}",
        ) {
            if let Ok(parts) = parse(&body, &boundary) {
                prop_assert!(parts.len() <= MAX_PARTS);
                prop_assert!(inside(&parts, &body));
            }
            let _ = super::boundary(&boundary);
            let _ = super::boundary(&format!("multipart/form-data; boundary={boundary}"));
        }

        /// Generated bodies with bytes overwritten, inserted and removed, then maybe cut.
        #[test]
        fn never_panics_on_mutated_generated_bodies(
            boundary in "[a-zA-Z0-9'()+_,./:=?-]{1,20}",
            parts in gen_parts(),
            lf in any::<bool>(),
            edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in prop::option::of(any::<prop::sample::Index>()),
        ) {
            let mut body = if lf { encode_lf(&boundary, &parts) } else { encode(&boundary, &parts) };
            for (kind, at, byte) in edits {
                let i = at.index(body.len() + 1);
                match kind {
                    0 if i < body.len() => body[i] = byte,
                    1 => body.insert(i, byte),
                    _ if i < body.len() => {
                        body.remove(i);
                    }
                    _ => {}
                }
            }
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            if let Ok(got) = parse(&body, &boundary) {
                prop_assert!(got.len() <= MAX_PARTS);
                prop_assert!(inside(&got, &body));
            }
        }

        /// Bare-LF bodies round-trip too (data not ending in CR, which LF framing cannot
        /// tell from a CRLF line end).
        #[test]
        fn round_trips_bare_lf_bodies(
            boundary in "[a-zA-Z0-9'()+_,./:=?-]{1,70}",
            mut parts in gen_parts(),
        ) {
            for part in &mut parts {
                while part.3.last() == Some(&b'\r') {
                    part.3.pop();
                }
            }
            let delimiter = format!("\n--{boundary}");
            prop_assume!(parts.iter().all(|p| !contains(&p.3, delimiter.as_bytes())
                && !p.3.starts_with(format!("--{boundary}").as_bytes())));
            let body = encode_lf(&boundary, &parts);
            same_parts(&parse(&body, &boundary).unwrap(), &parts)?;
        }

        /// Every strict prefix of a generated body is refused (it lacks its closing
        /// boundary), never read as a shorter form.
        #[test]
        fn prefixes_are_refused(
            boundary in "[a-zA-Z0-9_-]{1,20}",
            parts in gen_parts(),
        ) {
            let delimiter = format!("\n--{boundary}");
            prop_assume!(parts.iter().all(|p| !contains(&p.3, delimiter.as_bytes())
                && !p.3.starts_with(format!("--{boundary}").as_bytes())));
            let body = encode(&boundary, &parts);
            // The closing line is "--boundary--\r\n": cut before its second pair of dashes.
            let closing = body.len() - 4;
            for cut in 0..closing {
                prop_assert!(parse(&body[..cut], &boundary).is_err(), "prefix of {} bytes parsed", cut);
            }
        }
    }
}
