//! Wire transcripts for insta snapshots.
//!
//! The book shows real bytes: the upgrade request, an SSE stream, a Socket.IO
//! conversation. Tests record them with a [`Transcript`], redact what changes from run
//! to run (session ids, keys, dates), and snapshot the result. The book includes the
//! snapshot file, so the text in the book is exactly what the tests last saw.

/// A conversation on the wire, line by line, with its direction.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    lines: Vec<String>,
    redactions: Vec<(String, String)>,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// What the client sent, shown as `> ` lines.
    pub fn client(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.push("> ", text.as_ref())
    }

    /// What the server sent, shown as `< ` lines.
    pub fn server(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.push("< ", text.as_ref())
    }

    /// A comment for the reader, shown as `# ` lines.
    pub fn note(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.push("# ", text.as_ref())
    }

    /// Replaces every occurrence of `value` with `[placeholder]` when rendered.
    /// Use it for what differs between runs: session ids, WebSocket keys, dates, ports.
    pub fn redact(&mut self, value: impl Into<String>, placeholder: &str) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.redactions.push((value, format!("[{placeholder}]")));
        }
        self
    }

    /// The transcript as text, redactions applied, one line per line on the wire.
    pub fn render(&self) -> String {
        let mut text = self.lines.join("\n");
        // Longest first, so a value that contains another is replaced whole.
        let mut redactions = self.redactions.clone();
        redactions.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        for (value, placeholder) in &redactions {
            text = text.replace(value.as_str(), placeholder);
        }
        text
    }

    fn push(&mut self, prefix: &str, text: &str) -> &mut Self {
        // Show CR LF explicitly: it matters in HTTP and SSE and is invisible otherwise.
        let text = text.replace("\r\n", "\\r\\n\n");
        let text = text.strip_suffix('\n').unwrap_or(&text);
        for line in text.split('\n') {
            self.lines.push(format!("{prefix}{line}"));
        }
        self
    }
}

/// Bytes as `8a 05 68 65 6c 6c 6f`, sixteen to a line: how the book shows a frame.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|chunk| {
            chunk
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::{Transcript, hex};

    #[test]
    fn directions_are_marked_and_crlf_is_visible() {
        let mut t = Transcript::new();
        t.client("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .server("HTTP/1.1 200 OK");
        assert_eq!(
            t.render(),
            "> GET / HTTP/1.1\\r\\n\n> Host: x\\r\\n\n> \\r\\n\n< HTTP/1.1 200 OK"
        );
    }

    #[test]
    fn redactions_replace_every_occurrence_longest_first() {
        let mut t = Transcript::new();
        t.server("sid=abc sid2=abcdef")
            .redact("abc", "sid")
            .redact("abcdef", "sid2");
        assert_eq!(t.render(), "< sid=[sid] sid2=[sid2]");
    }

    #[test]
    fn hex_is_sixteen_bytes_a_line() {
        assert_eq!(hex(&[0x81, 0x05]), "81 05");
        assert_eq!(hex(&[0u8; 17]).lines().count(), 2);
    }
}
