//! [`JsError`]: every way a script run can fail, with the HTTP status the lead should
//! answer with. The engine has already written the details (message, stack) to the
//! site's logs through [`Host::log`](super::Host::log) when the script is at fault, so the
//! HTTP layer only needs [`JsError::http_status`] and the short [`Display`] text.

use std::fmt;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsError {
    /// The script ran past [`Limits::cpu_time`](super::Limits::cpu_time) and was interrupted.
    Timeout { limit: Duration },
    /// The script's runtime hit [`Limits::memory_bytes`](super::Limits::memory_bytes) and
    /// did not catch the resulting error.
    OutOfMemory { limit: usize },
    /// The script threw and did not catch (or produced an unusable `api/main.js` result).
    /// `message` is `Name: message` for Error objects, the value as text otherwise.
    Exception {
        message: String,
        stack: Option<String>,
    },
    /// The script does not parse.
    Compile { message: String },
    /// `req.body` is larger than [`Limits::max_request_body`](super::Limits::max_request_body).
    RequestTooLarge { size: usize, limit: usize },
    /// Too many requests queued or running, or this one waited too long for a worker.
    Overloaded,
    /// An engine fault that is not the script's doing (a worker died, a runtime could not
    /// be created). Logged with `log::error!`, not to the site.
    Internal(String),
}

impl JsError {
    /// The HTTP status the lead should answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            JsError::Timeout { .. } | JsError::Overloaded => 503,
            JsError::RequestTooLarge { .. } => 413,
            JsError::OutOfMemory { .. }
            | JsError::Exception { .. }
            | JsError::Compile { .. }
            | JsError::Internal(_) => 500,
        }
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsError::Timeout { limit } => {
                write!(
                    f,
                    "script exceeded its time limit of {} ms",
                    limit.as_millis()
                )
            }
            JsError::OutOfMemory { limit } => {
                write!(f, "script exceeded its memory limit of {limit} bytes")
            }
            JsError::Exception { message, .. } => write!(f, "script error: {message}"),
            JsError::Compile { message } => write!(f, "script does not compile: {message}"),
            JsError::RequestTooLarge { size, limit } => write!(
                f,
                "request body of {size} bytes exceeds the script limit of {limit} bytes"
            ),
            JsError::Overloaded => f.write_str("serverless engine overloaded, try again later"),
            JsError::Internal(m) => write!(f, "serverless engine fault: {m}"),
        }
    }
}

impl std::error::Error for JsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let t = JsError::Timeout {
            limit: Duration::from_millis(1500),
        };
        assert_eq!(t.http_status(), 503);
        assert_eq!(t.to_string(), "script exceeded its time limit of 1500 ms");
        assert_eq!(JsError::Overloaded.http_status(), 503);
        let big = JsError::RequestTooLarge { size: 10, limit: 5 };
        assert_eq!(big.http_status(), 413);
        assert!(big.to_string().contains("10 bytes"));
        let ex = JsError::Exception {
            message: "TypeError: nope".into(),
            stack: Some("at main.js:1".into()),
        };
        assert_eq!(ex.http_status(), 500);
        // The short text never carries the stack: it may be shown to visitors.
        assert_eq!(ex.to_string(), "script error: TypeError: nope");
        assert_eq!(JsError::OutOfMemory { limit: 1 }.http_status(), 500);
        assert_eq!(
            JsError::Compile {
                message: "x".into()
            }
            .http_status(),
            500
        );
        assert_eq!(JsError::Internal("x".into()).http_status(), 500);
    }
}
