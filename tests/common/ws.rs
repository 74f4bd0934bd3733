//! A small WebSocket client for the tests (RFC 6455 by hand, independent of the kernel's
//! framing): the opening handshake, masked frames out, unmasked frames in.

use std::io::{Read, Write};

/// The RFC's sample key, and the accept value it must get.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub struct Ws<S: Read + Write> {
    pub s: S,
    buf: Vec<u8>,
}

/// The request head of an upgrade to `path` on `host`, with `extra` header lines.
pub fn upgrade_request(host: &str, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

impl<S: Read + Write> Ws<S> {
    /// Sends the upgrade and reads the answer's head: `Ok` with the client on a 101 (whose
    /// accept value is checked), else `Err((status, head and what followed))`.
    pub fn open(mut s: S, host: &str, path: &str) -> Result<Ws<S>, (u16, String)> {
        s.write_all(upgrade_request(host, path, "").as_bytes())
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut chunk).unwrap_or(0);
            assert!(
                n > 0,
                "no upgrade answer: {}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let status: u16 = head[9..12].parse().unwrap();
        if status != 101 {
            return Err((status, String::from_utf8_lossy(&buf).to_string()));
        }
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("upgrade: websocket\r\n"), "{head}");
        assert!(lower.contains("connection: upgrade\r\n"), "{head}");
        assert!(
            head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")),
            "{head}"
        );
        Ok(Ws {
            s,
            buf: buf[end..].to_vec(),
        })
    }

    /// A masked frame, as a browser sends it.
    pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x5a, 0x17, 0xc3, 0x81];
        let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
        let n = payload.len();
        if n < 126 {
            f.push(0x80 | n as u8);
        } else if n < 65536 {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    pub fn send(&mut self, opcode: u8, payload: &[u8]) {
        let f = Self::frame(true, opcode, payload);
        self.s.write_all(&f).unwrap();
    }

    pub fn text(&mut self, t: &str) {
        self.send(1, t.as_bytes());
    }

    fn need(&mut self, n: usize) -> bool {
        let mut chunk = [0u8; 16384];
        while self.buf.len() < n {
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        true
    }

    /// The next frame from the server (opcode, payload); `None` at the end of the stream.
    /// Server frames must be unmasked and final.
    pub fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        if !self.need(2) {
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        assert_eq!(b0 & 0xf0, 0x80, "server frames are final, no reserved bits");
        assert_eq!(b1 & 0x80, 0, "server frames are unmasked");
        let (len, at) = match b1 & 0x7f {
            126 => {
                if !self.need(4) {
                    return None;
                }
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                if !self.need(10) {
                    return None;
                }
                let mut n = [0u8; 8];
                n.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n => (n as usize, 2),
        };
        if !self.need(at + len) {
            return None;
        }
        let payload = self.buf[at..at + len].to_vec();
        self.buf.drain(..at + len);
        Some((b0 & 0x0f, payload))
    }

    /// The next text message, skipping pings (answered).
    pub fn recv_text(&mut self) -> String {
        loop {
            let (op, p) = self.recv().expect("a message");
            match op {
                1 => return String::from_utf8(p).unwrap(),
                9 => self.send(10, &p),
                _ => panic!(
                    "expected text, got opcode {op}: {:?}",
                    String::from_utf8_lossy(&p)
                ),
            }
        }
    }

    /// The close frame's code (after any other frames, which are dropped).
    pub fn close_code(&mut self) -> Option<u16> {
        while let Some((op, p)) = self.recv() {
            if op == 8 {
                return Some(u16::from_be_bytes([p[0], p[1]]));
            }
        }
        None
    }
}
