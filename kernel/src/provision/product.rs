//! The product being provisioned, as its caller describes it: a name that
//! every installed path is derived from, the database file and the unit
//! template. The kernel hard-codes none of them.
//!
//! For a product named `app` the installer manages the unit `app.service`,
//! the binary `/usr/local/bin/app` and the state directory `/var/lib/app`
//! (really `/var/lib/private/app`, as systemd keeps it for `DynamicUser=`).
//! The template's `StateDirectory=` and paths should say the same.

use super::error::ProvisionError;

/// A program installed as a systemd service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// The short name every path is derived from (see [`Product::unit_name`],
    /// [`Product::bin_path`], [`Product::state_dir`]): 1 to 64 ASCII letters,
    /// digits, `-` and `_`, starting with a letter or digit.
    pub name: &'static str,
    /// The database file inside the state directory, e.g. `app.db`: a plain
    /// file name, without `/`.
    pub db_file: &'static str,
    /// The systemd unit, written as is except for its one `ExecStart=` line,
    /// which [`render`](super::render) replaces.
    pub unit_template: &'static str,
}

impl Product {
    /// The unit name, `<name>.service`.
    pub fn unit_name(&self) -> String {
        format!("{}.service", self.name)
    }

    /// Where the unit runs the binary from: `/usr/local/bin/<name>`.
    pub fn bin_path(&self) -> String {
        format!("/usr/local/bin/{}", self.name)
    }

    /// The state directory as the unit names it: `/var/lib/<name>`.
    pub fn state_dir(&self) -> String {
        format!("/var/lib/{}", self.name)
    }

    /// Refuses a name or database file that would not stay one path segment
    /// or would mean something on a systemd command line: the caller's
    /// constants are still input, and a bad one must be an error, not a
    /// write outside the root.
    pub(crate) fn check(&self) -> Result<(), ProvisionError> {
        let bad = |field, value: &str, reason| ProvisionError::InvalidProduct {
            field,
            value: value.to_string(),
            reason,
        };
        let name = self.name;
        if name.is_empty() || name.len() > 64 {
            return Err(bad("name", name, "must be 1 to 64 characters"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(
                "name",
                name,
                "only ASCII letters, digits, '-' and '_' are allowed",
            ));
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(bad("name", name, "must start with a letter or digit"));
        }
        let db = self.db_file;
        if db.is_empty() || db.len() > 255 {
            return Err(bad("database file", db, "must be 1 to 255 characters"));
        }
        if db == "." || db == ".." || db.contains('/') || db.contains('\0') {
            return Err(bad(
                "database file",
                db,
                "must be a plain file name (no '/', not '.' or '..')",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::testutil::DEMO;

    #[test]
    fn paths_are_derived_from_the_name() {
        assert_eq!(DEMO.unit_name(), "demo.service");
        assert_eq!(DEMO.bin_path(), "/usr/local/bin/demo");
        assert_eq!(DEMO.state_dir(), "/var/lib/demo");
        DEMO.check().unwrap();
        Product {
            name: "a-b_9",
            ..DEMO
        }
        .check()
        .unwrap();
    }

    #[test]
    fn bad_names_and_database_files_are_errors() {
        // `name` is `&'static str`: leak the one computed value.
        let long: &'static str = Box::leak("a".repeat(65).into_boxed_str());
        for name in ["", "-x", "_x", "a/b", "..", "a b", "a.b", "%n", "é", long] {
            let p = Product { name, ..DEMO };
            let err = p.check().unwrap_err();
            assert!(
                matches!(err, ProvisionError::InvalidProduct { field: "name", .. }),
                "{name:?}: {err}"
            );
        }
        for db_file in ["", ".", "..", "a/b", "/abs.db", "a\0b"] {
            let p = Product { db_file, ..DEMO };
            assert!(
                matches!(
                    p.check(),
                    Err(ProvisionError::InvalidProduct {
                        field: "database file",
                        ..
                    })
                ),
                "{db_file:?}"
            );
        }
    }
}
