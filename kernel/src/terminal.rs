//! Reading a secret (a password) from the terminal without echoing it, or from stdin when
//! stdin is not a terminal (a pipe: `echo … | product admin set-password`). Never from the
//! command line, where `ps` and the shell history would show it.

use std::io::{self, BufRead, Write};

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    // SAFETY: isatty only inspects descriptor 0.
    unsafe { libc::isatty(0) == 1 }
}

/// Restores the terminal's modes when dropped (also when reading fails or panics).
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: termios is plain data; tcgetattr fills it or fails (then it is unused).
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return EchoOff(None);
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            t.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the modes tcgetattr returned.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

/// One line of stdin without its line ending. On a terminal, `prompt` goes to stderr and
/// what is typed is not echoed; from a pipe, the first line is read as it is.
pub fn read_secret(prompt: &str) -> io::Result<String> {
    let tty = stdin_is_tty();
    let _echo = if tty {
        eprint!("{prompt}");
        let _ = io::stderr().flush();
        Some(EchoOff::new())
    } else {
        None
    };
    let mut line = String::new();
    let n = io::stdin().lock().read_line(&mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "no input on stdin",
        ));
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}
