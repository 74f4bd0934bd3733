//! Which site a request is for, from its `Host` header and the server's domain.

/// Where a host name leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// fazt's own host: the API and the dashboard.
    Admin,
    /// A site by name (it may not exist: the caller checks).
    Site(String),
    /// No site can match this host: serve the `404` site with status 404.
    Unknown,
}

/// `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
pub fn valid_site_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
        && b.iter().all(|c| ok(c) || *c == b'-')
}

/// Routes hosts for one domain; the strings it compares against are built once.
pub struct Router {
    domain: String,
    admin: String,
    dot_domain: String,
}

impl Router {
    pub fn new(domain: &str) -> Router {
        Router {
            domain: domain.to_string(),
            admin: format!("admin.{domain}"),
            dot_domain: format!(".{domain}"),
        }
    }

    /// Routes a normalised host (lowercase, no port).
    pub fn route(&self, host: &str) -> Target {
        if host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host == self.admin {
            return Target::Admin;
        }
        if host == self.domain {
            return Target::Site("root".into());
        }
        let label = host
            .strip_suffix(self.dot_domain.as_str())
            .or_else(|| host.strip_suffix(".localhost"));
        match label {
            Some(l) if valid_site_name(l) => Target::Site(l.to_string()),
            _ => Target::Unknown,
        }
    }
}

/// Routes a normalised host (lowercase, no port) for `domain`.
pub fn route(host: &str, domain: &str) -> Target {
    Router::new(domain).route(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_table() {
        let s = |n: &str| Target::Site(n.to_string());
        let d = "example.com";
        assert_eq!(route("localhost", d), Target::Admin);
        assert_eq!(route("127.0.0.1", d), Target::Admin);
        assert_eq!(route("[::1]", d), Target::Admin);
        assert_eq!(route("admin.example.com", d), Target::Admin);
        assert_eq!(route("example.com", d), s("root"));
        assert_eq!(route("root.example.com", d), s("root"));
        assert_eq!(route("404.example.com", d), s("404"));
        assert_eq!(route("blog.example.com", d), s("blog"));
        assert_eq!(route("blog.localhost", d), s("blog"));
        assert_eq!(route("a.b.example.com", d), Target::Unknown);
        assert_eq!(route("other.org", d), Target::Unknown);
        assert_eq!(route("-x.example.com", d), Target::Unknown);
        // With the default domain, `localhost` itself is the admin host.
        assert_eq!(route("localhost", "localhost"), Target::Admin);
        assert_eq!(route("root.localhost", "localhost"), s("root"));
        assert_eq!(route("admin.localhost", "localhost"), Target::Admin);
    }

    #[test]
    fn site_names() {
        for ok in ["a", "blog", "my-site", "0", "a1-b2"] {
            assert!(valid_site_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"x".repeat(64)] {
            assert!(!valid_site_name(bad), "{bad}");
        }
    }
}
