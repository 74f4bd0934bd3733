//! Frames: parsing what a client sends (masked, as RFC 6455 §5.1 requires) and encoding what
//! the server sends (unmasked, one frame per message). The parser works on a buffer that
//! may hold a partial frame and never reads past what it is given.

/// Continuation of a fragmented message.
pub const CONTINUATION: u8 = 0;
/// A UTF-8 text message.
pub const TEXT: u8 = 1;
/// A binary message.
pub const BINARY: u8 = 2;
/// Close (payload: a 2-byte code and a UTF-8 reason).
pub const CLOSE: u8 = 8;
/// Ping (answered with a pong carrying the same payload).
pub const PING: u8 = 9;
/// Pong.
pub const PONG: u8 = 10;

/// One frame from a client, its payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The final fragment of its message.
    pub fin: bool,
    /// One of the opcode constants of this module.
    pub opcode: u8,
    /// The unmasked payload.
    pub payload: Vec<u8>,
}

/// Why a frame is refused; each maps to the close code the connection ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A protocol violation (close code 1002), described.
    Protocol(&'static str),
    /// A payload longer than allowed (close code 1009).
    TooBig,
}

impl FrameError {
    /// The close code (RFC 6455 §7.4.1).
    pub fn code(self) -> u16 {
        match self {
            FrameError::Protocol(_) => 1002,
            FrameError::TooBig => 1009,
        }
    }

    /// What went wrong, for the close frame's reason and the log.
    pub fn reason(self) -> &'static str {
        match self {
            FrameError::Protocol(r) => r,
            FrameError::TooBig => "message too big",
        }
    }
}

/// Parses the client frame at the start of `buf`: `Ok(None)` when more bytes are needed,
/// else the frame and the bytes it took. A payload longer than `max_payload` is refused from
/// its header, before it arrives.
pub fn parse(buf: &[u8], max_payload: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0f;
    if b0 & 0x70 != 0 {
        return Err(FrameError::Protocol("reserved bits set"));
    }
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(FrameError::Protocol("unknown opcode"));
    }
    if b1 & 0x80 == 0 {
        return Err(FrameError::Protocol("client frames must be masked"));
    }
    let control = opcode >= CLOSE;
    let len7 = (b1 & 0x7f) as usize;
    if control && (!fin || len7 > 125) {
        return Err(FrameError::Protocol("control frames are short and whole"));
    }
    let (len, mut at) = match len7 {
        126 => match buf.get(2..4) {
            Some(b) => (u16::from_be_bytes([b[0], b[1]]) as u64, 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut n = [0u8; 8];
                n.copy_from_slice(b);
                (u64::from_be_bytes(n), 10)
            }
            None => return Ok(None),
        },
        n => (n as u64, 2),
    };
    if len > max_payload as u64 {
        return Err(FrameError::TooBig);
    }
    let len = len as usize;
    let Some(mask) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let mask = [mask[0], mask[1], mask[2], mask[3]];
    at += 4;
    let Some(data) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let payload = data
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i & 3])
        .collect();
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload,
        },
        at + len,
    )))
}

/// A whole server frame (final, unmasked) carrying `payload`.
pub fn encode(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut out = Vec::with_capacity(n + 10);
    out.push(0x80 | (opcode & 0x0f));
    if n < 126 {
        out.push(n as u8);
    } else if n <= u16::MAX as usize {
        out.push(126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A close frame with this code and reason (the reason cut to fit 125 bytes at a character
/// boundary).
pub fn close(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(&reason.as_bytes()[..end]);
    encode(CLOSE, &p)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client frame as a browser sends it (masked with `mask`).
    pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut f = encode(opcode, payload);
        if !fin {
            f[0] &= 0x7f;
        }
        let at = match payload.len() {
            0..=125 => 2,
            126..=65535 => 4,
            _ => 10,
        };
        f[1] |= 0x80;
        let body: Vec<u8> = f
            .split_off(at)
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i & 3])
            .collect();
        f.extend_from_slice(&mask);
        f.extend_from_slice(&body);
        f
    }

    #[test]
    fn parses_rfc_examples() {
        // RFC 6455 §5.7: a masked "Hello".
        let hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (f, n) = parse(&hello, 1024).unwrap().unwrap();
        assert_eq!(
            (f.fin, f.opcode, &f.payload[..], n),
            (true, TEXT, &b"Hello"[..], 11)
        );
        // Unmasked: refused (clients must mask).
        assert_eq!(
            parse(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'], 1024),
            Err(FrameError::Protocol("client frames must be masked"))
        );
        // The server's own "Hello" is unmasked.
        assert_eq!(
            encode(TEXT, b"Hello"),
            [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']
        );
        // 256 bytes take the 16-bit length, 65536 the 64-bit one.
        assert_eq!(&encode(BINARY, &[0; 256])[..4], &[0x82, 126, 1, 0]);
        assert_eq!(
            &encode(BINARY, &vec![0; 65536])[..10],
            &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn refuses_what_rfc_6455_forbids() {
        let m = [1, 2, 3, 4];
        let bad = |f: Vec<u8>| parse(&f, 100).unwrap_err();
        assert_eq!(bad(client_frame(true, 3, b"", m)).code(), 1002);
        let mut rsv = client_frame(true, TEXT, b"x", m);
        rsv[0] |= 0x40;
        assert_eq!(bad(rsv).code(), 1002);
        assert_eq!(bad(client_frame(false, PING, b"", m)).code(), 1002);
        assert_eq!(bad(client_frame(true, PING, &[0; 126], m)).code(), 1002);
        // Too big is known from the header alone.
        let big = client_frame(true, BINARY, &[0; 101], m);
        assert_eq!(parse(&big[..4], 100), Err(FrameError::TooBig));
        assert_eq!(parse(&big, 101).unwrap().unwrap().1, big.len());
    }

    #[test]
    fn close_reason_is_cut_at_a_character() {
        let f = close(1001, &"é".repeat(100));
        assert!(f.len() <= 127);
        assert!(std::str::from_utf8(&f[4..]).is_ok());
        assert_eq!(&f[2..4], &1001u16.to_be_bytes());
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn never_panics(buf in proptest::collection::vec(any::<u8>(), 0..300), max in 0usize..400) {
            let _ = parse(&buf, max);
        }

        /// Any frame a client may send comes back whole, from any split of its bytes: a
        /// prefix is "more needed", never an error or a different frame.
        #[test]
        fn round_trips_from_every_prefix(
            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
            data in any::<bool>(),
            fin in any::<bool>(),
            mask in any::<[u8; 4]>(),
            tail in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let (op, payload) = if data { (BINARY, payload) } else { (PING, payload[..payload.len().min(125)].to_vec()) };
            let fin = fin || !data;
            let mut bytes = client_frame(fin, op, &payload, mask);
            let len = bytes.len();
            for cut in [0, 1, 2, 3, 5, 9, 13, len / 2, len - 1] {
                if cut < len {
                    prop_assert_eq!(parse(&bytes[..cut], 70_000), Ok(None));
                }
            }
            bytes.extend_from_slice(&tail);
            let (f, n) = parse(&bytes, 70_000).unwrap().unwrap();
            prop_assert_eq!(n, len);
            prop_assert_eq!(f, Frame { fin, opcode: op, payload });
        }
    }
}
