//! Client settings: known servers and their tokens, in `client.json` under the user's config
//! directory (`$XDG_CONFIG_HOME/fazt` or `~/.config/fazt`; `FAZT_CLIENT_CONFIG` overrides),
//! written with mode 0600 because it holds tokens.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

pub fn path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("FAZT_CLIENT_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or("cannot find a config directory: set HOME or XDG_CONFIG_HOME")?;
    Ok(base.join("fazt").join("client.json"))
}

#[derive(Debug, Default)]
pub struct ClientConfig {
    pub default_server: Option<String>,
    /// server URL → `{"token": …}`.
    pub tokens: Map<String, Value>,
    /// Names given with `fazt servers add NAME` (Go fazt v0.8's): name → server URL.
    pub names: Map<String, Value>,
}

impl ClientConfig {
    pub fn load() -> Result<ClientConfig, String> {
        let p = path()?;
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ClientConfig::default())
            }
            Err(e) => return Err(format!("reading {}: {e}", p.display())),
        };
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not valid JSON: {e}", p.display()))?;
        Ok(ClientConfig {
            default_server: v
                .get("default_server")
                .and_then(Value::as_str)
                .map(String::from),
            tokens: v
                .get("servers")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            names: v
                .get("names")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// The URL a server name stands for (a URL stands for itself).
    pub fn url_of(&self, server: &str) -> String {
        self.names
            .get(server)
            .and_then(Value::as_str)
            .unwrap_or(server)
            .trim_end_matches('/')
            .to_string()
    }

    /// The name given to `url`, if any.
    pub fn name_of(&self, url: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(_, u)| u.as_str() == Some(url))
            .map(|(n, _)| n.as_str())
    }

    pub fn token_for(&self, server: &str) -> Option<String> {
        self.tokens
            .get(server.trim_end_matches('/'))
            .and_then(|s| s.get("token"))
            .and_then(Value::as_str)
            .map(String::from)
    }

    pub fn set(&mut self, server: &str, token: &str) {
        let server = server.trim_end_matches('/').to_string();
        self.tokens
            .insert(server.clone(), json!({ "token": token }));
        self.default_server = Some(server);
    }

    pub fn save(&self) -> Result<PathBuf, String> {
        let p = path()?;
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let v = json!({ "default_server": self.default_server, "servers": self.tokens, "names": self.names });
        let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
        let tmp = p.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(&tmp)
                .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
            f.write_all(text.as_bytes())
                .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        }
        std::fs::rename(&tmp, &p).map_err(|e| format!("writing {}: {e}", p.display()))?;
        Ok(p)
    }
}

/// Server and token for a client command: flag, then env (`FAZT_SERVER`, `FAZT_TOKEN`), then
/// the settings file, then `http://localhost:4698`.
pub fn resolve(
    server_flag: Option<String>,
    token_flag: Option<String>,
) -> Result<(String, Option<String>), String> {
    let cfg = ClientConfig::load()?;
    let server = server_flag
        .or_else(|| std::env::var("FAZT_SERVER").ok().filter(|s| !s.is_empty()))
        .or_else(|| cfg.default_server.clone())
        .unwrap_or_else(|| "http://localhost:4698".to_string());
    // A name from `fazt servers add` stands for its URL.
    let server = cfg.url_of(&server);
    let token = token_flag
        .or_else(|| std::env::var("FAZT_TOKEN").ok().filter(|s| !s.is_empty()))
        .or_else(|| cfg.token_for(&server));
    Ok((server, token))
}
