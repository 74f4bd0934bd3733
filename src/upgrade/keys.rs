//! The keys a release must be signed with: the project's keys compiled in, plus the one the
//! owner configured (`--trust-key`, for people who build and sign their own).
//!
//! No project key exists yet: [`PROJECT_KEYS`] is empty, so upgrading needs a configured key
//! and fazt says so instead of trusting anything. When the release maintainer creates the
//! project key (offline, README: Upgrading), its public line goes here.

use crate::kernel::release::PublicKey;

/// The project's release keys: signify public key lines (base64).
pub const PROJECT_KEYS: &[&str] = &[];

/// A `--trust-key` value: the key's file, or its base64 line pasted as the value.
pub fn parse_trusted(raw: &str) -> Result<PublicKey, String> {
    let raw = raw.trim();
    // The key itself (its base64 line, or the whole file pasted), else a file holding it.
    if let Ok(key) = PublicKey::parse(raw) {
        return Ok(key);
    }
    let meta = std::fs::metadata(raw)
        .map_err(|e| format!("trust key {raw}: neither a signify public key nor a file ({e})"))?;
    if meta.len() > 4096 {
        return Err(format!(
            "trust key file {raw}: not a signify public key (too large)"
        ));
    }
    let text = std::fs::read_to_string(raw).map_err(|e| format!("trust key file {raw}: {e}"))?;
    PublicKey::parse(&text).map_err(|e| format!("trust key file {raw}: {e}"))
}

/// Every trusted key: the built-in ones and the configured one.
pub fn trusted(configured: Option<&str>) -> Result<Vec<PublicKey>, String> {
    let mut keys: Vec<PublicKey> = PROJECT_KEYS
        .iter()
        .filter_map(|k| PublicKey::parse(k).ok())
        .collect();
    if let Some(c) = configured {
        keys.push(parse_trusted(c)?);
    }
    if keys.is_empty() {
        return Err(
            "no release key is built into this fazt and none is configured: set the \
                    key you sign releases with (fazt config set trust_key FILE, or \
                    --trust-key); see README: Upgrading"
                .into(),
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::parse_trusted;

    #[test]
    fn a_key_line_with_slashes_is_a_key_not_a_path() {
        // Base64 has '/': the value is tried as a key before it is taken for a file name.
        let line = "RWRk0b+Nnska6jL9oYYkEpIhtSvjrwXc2GGm3DQ/BMxCiWveCnNdc1Hl";
        assert_eq!(parse_trusted(line).unwrap().id(), "64d1bf8d9ec91aea");
        let file = format!("untrusted comment: signify public key\n{line}\n");
        assert!(parse_trusted(&file).is_ok(), "the whole file pasted");
        let e = parse_trusted("/nonexistent/key.pub").unwrap_err();
        assert!(e.contains("neither a signify public key nor a file"), "{e}");
    }
}
