//! Query-string parameters (`a=1&b=x%20y`), percent-decoded (`+` is a space), for the
//! pixel's and the API's parameters.

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as written, invalid UTF-8 is
/// replaced.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of `name` in `query`, decoded; `Some("")` for `name` or `name=`.
pub fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
}

/// Like [`param`], but an empty value counts as absent.
pub fn non_empty(query: &str, name: &str) -> Option<String> {
    param(query, name).filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(decode("a%20b+c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode("%FF"), "\u{fffd}");
    }

    #[test]
    fn params() {
        let q = "domain=blog.example.com&tags=a%2Cb&empty=&flag&source=";
        assert_eq!(param(q, "domain").as_deref(), Some("blog.example.com"));
        assert_eq!(param(q, "tags").as_deref(), Some("a,b"));
        assert_eq!(param(q, "empty").as_deref(), Some(""));
        assert_eq!(param(q, "flag").as_deref(), Some(""));
        assert_eq!(param(q, "missing"), None);
        assert_eq!(non_empty(q, "source"), None);
        assert_eq!(param("", "x"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[%+a-f0-9=&\\PC]{0,80}") {
            let _ = decode(&s);
            let _ = param(&s, "a");
        }

        #[test]
        fn plain_text_round_trips(s in "[a-zA-Z0-9._~-]{0,40}") {
            proptest::prop_assert_eq!(decode(&s), s);
        }
    }
}
