//! Sans-I/O line framing: bytes in, complete lines with their byte offsets out.
//!
//! Every source of JSON lines (a child's stdout, a tailed transcript) feeds whatever bytes it
//! read into a [`LineFramer`]. A line is handed out only once its `\n` has arrived; the tail of
//! a half-written line is carried until the rest comes, which is what lets a tailer re-read a
//! partial last line safely. Offsets are absolute positions in the stream, so a caller can store
//! "everything before `end` is done" as a checkpoint. A line longer than the maximum is dropped
//! (and reported) instead of growing the buffer without bound.

/// One complete line, without its terminating `\n` (and without a `\r` before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Offset of the line's first byte in the stream.
    pub start: u64,
    /// Offset just past the line's `\n`.
    pub end: u64,
    /// The line's bytes. Empty for an over-long line that was dropped.
    pub bytes: Vec<u8>,
    /// True when the line exceeded the maximum length and its bytes were dropped.
    pub oversized: bool,
}

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_start: u64,
    max_line: usize,
    /// True while skipping the rest of an over-long line.
    discarding: bool,
    /// Where the line being discarded started.
    discard_start: u64,
}

impl LineFramer {
    /// A framer whose stream starts at `offset` (0 for a new stream, a checkpoint for a resumed
    /// file), dropping lines longer than `max_line` bytes.
    pub fn new(offset: u64, max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            buf_start: offset,
            max_line,
            discarding: false,
            discard_start: 0,
        }
    }

    /// The offset up to which every byte belongs to a line already handed out.
    pub fn committed_offset(&self) -> u64 {
        if self.discarding {
            self.discard_start
        } else {
            self.buf_start
        }
    }

    /// Bytes of an incomplete line being held.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Frees the buffer a long line was assembled in, when no line is pending: a tailer that
    /// follows thousands of files keeps no line-sized buffer for each between reads.
    pub fn release_buffer(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// Feeds bytes; returns every line they complete, in order (each copied into its own
    /// buffer; [`LineFramer::push_each`] avoids the copies).
    pub fn push(&mut self, data: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        self.push_each(data, |l| lines.push(l.to_line()));
        lines
    }

    /// Feeds bytes, calling `on_line` for every line they complete, in order. A line that lies
    /// wholly inside `data` is lent straight from it; only a line that began in an earlier call
    /// is assembled in the framer's own (reused) buffer — so bulk reading copies nothing.
    pub fn push_each(&mut self, mut data: &[u8], mut on_line: impl FnMut(LineRef<'_>)) {
        while !data.is_empty() {
            if let Some(pos) = memchr::memchr(b'\n', data) {
                let (head, rest) = data.split_at(pos);
                let rest = &rest[1..];
                let consumed = (pos + 1) as u64;
                if self.discarding {
                    let end = self.buf_start + consumed;
                    on_line(LineRef {
                        start: self.discard_start,
                        end,
                        bytes: &[],
                        oversized: true,
                    });
                    self.discarding = false;
                    self.buf_start = end;
                } else if self.buf.len() + head.len() > self.max_line {
                    let end = self.buf_start + self.buf.len() as u64 + consumed;
                    on_line(LineRef {
                        start: self.buf_start,
                        end,
                        bytes: &[],
                        oversized: true,
                    });
                    self.buf.clear();
                    self.buf_start = end;
                } else {
                    let start = self.buf_start;
                    let end = start + self.buf.len() as u64 + consumed;
                    let bytes: &[u8] = if self.buf.is_empty() {
                        head
                    } else {
                        self.buf.extend_from_slice(head);
                        &self.buf
                    };
                    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                    on_line(LineRef {
                        start,
                        end,
                        bytes,
                        oversized: false,
                    });
                    self.buf.clear();
                    self.buf_start = end;
                }
                data = rest;
            } else {
                if self.discarding {
                    self.buf_start += data.len() as u64;
                } else if self.buf.len() + data.len() > self.max_line {
                    self.discarding = true;
                    self.discard_start = self.buf_start;
                    self.buf_start += (self.buf.len() + data.len()) as u64;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(data);
                }
                data = &[];
            }
        }
    }
}

/// A complete line lent by [`LineFramer::push_each`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRef<'a> {
    /// Offset of the line's first byte in the stream.
    pub start: u64,
    /// Offset just past the line's `\n`.
    pub end: u64,
    /// The line's bytes, without `\n` (or `\r\n`). Empty for an over-long line.
    pub bytes: &'a [u8],
    /// True when the line exceeded the maximum length and its bytes were dropped.
    pub oversized: bool,
}

impl LineRef<'_> {
    /// An owned copy.
    pub fn to_line(&self) -> Line {
        Line {
            start: self.start,
            end: self.end,
            bytes: self.bytes.to_vec(),
            oversized: self.oversized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect()
    }

    #[test]
    fn carries_partial_lines() {
        let mut f = LineFramer::new(0, 1024);
        assert!(f.push(b"{\"a\":").is_empty());
        assert_eq!(f.pending(), 5);
        let lines = f.push(b"1}\n{\"b\"");
        assert_eq!(texts(&lines), vec!["{\"a\":1}"]);
        assert_eq!((lines[0].start, lines[0].end), (0, 8));
        assert_eq!(f.committed_offset(), 8);
        let lines = f.push(b":2}\r\n");
        assert_eq!(texts(&lines), vec!["{\"b\":2}"]);
        assert_eq!((lines[0].start, lines[0].end), (8, 17));
    }

    #[test]
    fn releases_the_buffer_of_a_long_line_but_never_a_pending_one() {
        let mut f = LineFramer::new(0, 1 << 20);
        assert!(f.push(&vec![b'x'; 100_000]).is_empty());
        f.release_buffer();
        assert_eq!(f.pending(), 100_000, "a pending line is kept");
        assert_eq!(f.push(b"\n").len(), 1);
        assert!(f.buf.capacity() >= 100_000);
        f.release_buffer();
        assert_eq!(f.buf.capacity(), 0);
        assert_eq!(texts(&f.push(b"next\n")), ["next"]);
        assert_eq!(f.committed_offset(), 100_006);
    }

    #[test]
    fn starts_at_a_checkpoint() {
        let mut f = LineFramer::new(100, 1024);
        let lines = f.push(b"x\ny\n");
        assert_eq!((lines[1].start, lines[1].end), (102, 104));
    }

    #[test]
    fn drops_oversized_lines_and_recovers() {
        let mut f = LineFramer::new(0, 4);
        let mut lines = f.push(b"abcdef");
        lines.extend(f.push(b"gh\nok\n"));
        assert_eq!(lines.len(), 2);
        assert!(lines[0].oversized);
        assert_eq!((lines[0].start, lines[0].end), (0, 9));
        assert_eq!(texts(&lines[1..]), vec!["ok"]);
        assert_eq!((lines[1].start, lines[1].end), (9, 12));
    }

    proptest! {
        /// However the stream is cut into chunks, the lines and offsets are the same as
        /// splitting the whole stream at once.
        #[test]
        fn chunking_does_not_matter(
            lines in proptest::collection::vec("[a-z{}:\"]{0,12}", 0..20),
            cuts in proptest::collection::vec(0usize..200, 0..10),
        ) {
            let stream: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut f = LineFramer::new(0, 64);
            let mut got = Vec::new();
            let mut prev = 0;
            for c in cuts.into_iter().chain(std::iter::once(stream.len())) {
                got.extend(f.push(&stream[prev..c]));
                prev = c;
            }
            prop_assert_eq!(texts(&got), lines.clone());
            let mut offset = 0u64;
            for (line, text) in got.iter().zip(&lines) {
                prop_assert_eq!(line.start, offset);
                offset += text.len() as u64 + 1;
                prop_assert_eq!(line.end, offset);
            }
            prop_assert_eq!(f.committed_offset(), stream.len() as u64);
        }
    }
}
