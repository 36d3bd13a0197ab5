//! Pull-style XML over quick-xml with a reused buffer, shared by every reader
//! of untrusted bytes (declarations and iWlz messages).
//!
//! It adds what quick-xml leaves to the caller: line:column positions, a cap
//! on the size of any single event and of the whole input (so no input can make
//! memory grow without bound), a refusal of DOCTYPE, and namespace-resolved
//! element names.
//!
//! Most of a declaration is simple elements (`<Bsn>001000007</Bsn>`): three
//! events each through quick-xml, which cost more than everything the check
//! does with the value. [`XmlPull::simple`], [`XmlPull::skip_blank`] and
//! [`XmlPull::next_start_is`] take such bytes straight from the window when
//! they leave no doubt, and leave the rest to quick-xml; what the caller sees
//! is the same (text, line:column, caps). A test in `declaration.rs` reads
//! every input both ways and compares the transcripts.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead};
use std::rc::Rc;

/// The largest single XML event (a tag, a text run, a comment) we buffer.
/// No valid message comes near it; it bounds memory against hostile input.
pub const MAX_EVENT_BYTES: u64 = 1 << 20;
/// The longest text value of one element after concatenating its pieces.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

const XSI_NS: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";

/// A position in the input: 1-based line and column (columns count bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What kind of problem the input has; maps onto the 010x retourcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Not well-formed XML (0101).
    Malformed,
    /// Well-formed, but not the message schema (0102).
    Schema,
    /// DOCTYPE or entity declaration (0103).
    Doctype,
    /// Larger than the configured maximum (0104).
    TooLarge,
}

/// An error in the input, with where it is.
#[derive(Debug)]
pub enum XmlError {
    Input {
        fault: Fault,
        message: String,
        pos: Pos,
        path: String,
    },
    /// Reading the bytes failed (disk, network): not the sender's fault.
    Io(io::Error),
}

impl XmlError {
    /// `line:column path`, the Locatie of the answer.
    pub fn locatie(&self) -> Option<String> {
        match self {
            XmlError::Input { pos, path, .. } if path.is_empty() => Some(pos.to_string()),
            XmlError::Input { pos, path, .. } => Some(format!("{pos} {path}")),
            XmlError::Io(_) => None,
        }
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Input { message, .. } => {
                write!(f, "{message} at {}", self.locatie().unwrap_or_default())
            }
            XmlError::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for XmlError {}

/// Why the counting reader refused to deliver more bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Refusal {
    EventTooLarge,
    InputTooLarge,
}

#[derive(Default)]
struct Counters {
    consumed: Cell<u64>,
    line: Cell<u64>,
    line_start: Cell<u64>,
    event_start: Cell<u64>,
    refused: Cell<Option<Refusal>>,
    /// The UTF-8 decoder's state between two consumed chunks.
    utf8: Cell<Utf8>,
    /// The first byte or character XML 1.0 forbids, and where.
    bad: Cell<Option<(Pos, BadChar)>>,
}

/// A character XML 1.0 does not allow, or bytes that are not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BadChar {
    /// Not UTF-8: the offending byte.
    Byte(u8),
    /// Outside the XML `Char` production (U+0000..U+0008, U+000B, U+000C,
    /// U+000E..U+001F, U+FFFE, U+FFFF).
    Char(u32),
}

impl fmt::Display for BadChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadChar::Byte(b) => write!(f, "invalid UTF-8 (byte 0x{b:02X})"),
            BadChar::Char(c) => write!(f, "character U+{c:04X} is not allowed in XML"),
        }
    }
}

/// Where a multi-byte UTF-8 sequence stands.
#[derive(Clone, Copy, Debug, Default)]
struct Utf8 {
    need: u8,
    cp: u32,
    min: u32,
}

/// Is `c` an XML 1.0 `Char`?
pub fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// The first character of `s` that XML 1.0 forbids.
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| !is_xml_char(c as u32))
}

/// Checks `chunk` (continuing `st`): the index of the first bad byte.
fn check_chunk(st: &mut Utf8, chunk: &[u8]) -> Result<(), (usize, BadChar)> {
    let mut i = 0;
    while i < chunk.len() {
        if st.need == 0 {
            // Runs of plain ASCII are skipped in one sweep.
            match chunk[i..].iter().position(|&b| !(0x20..0x80).contains(&b)) {
                None => return Ok(()),
                Some(k) => i += k,
            }
            let b = chunk[i];
            match b {
                b'\t' | b'\n' | b'\r' => {}
                0x00..=0x1F => return Err((i, BadChar::Char(u32::from(b)))),
                0xC2..=0xDF => {
                    *st = Utf8 {
                        need: 1,
                        cp: u32::from(b & 0x1F),
                        min: 0x80,
                    }
                }
                0xE0..=0xEF => {
                    *st = Utf8 {
                        need: 2,
                        cp: u32::from(b & 0x0F),
                        min: 0x800,
                    }
                }
                0xF0..=0xF4 => {
                    *st = Utf8 {
                        need: 3,
                        cp: u32::from(b & 0x07),
                        min: 0x10000,
                    }
                }
                _ => return Err((i, BadChar::Byte(b))),
            }
        } else {
            let b = chunk[i];
            if b & 0xC0 != 0x80 {
                return Err((i, BadChar::Byte(b)));
            }
            st.cp = (st.cp << 6) | u32::from(b & 0x3F);
            st.need -= 1;
            if st.need == 0 {
                let cp = st.cp;
                if cp < st.min || cp > 0x10FFFF || (0xD800..=0xDFFF).contains(&cp) {
                    return Err((i, BadChar::Byte(b)));
                }
                if !is_xml_char(cp) {
                    return Err((i, BadChar::Char(cp)));
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// Bytes the counting reader holds at a time, read from the input in one go.
const WINDOW: usize = 64 * 1024;

thread_local! {
    /// A window given back by the last reader on this thread, for the next:
    /// a fresh zeroed 64 KiB per message was 2% of a request thread's
    /// samples under load. Only bytes read into it are ever looked at.
    static SPARE_WINDOW: std::cell::Cell<Option<Box<[u8]>>> = const { std::cell::Cell::new(None) };
}

fn take_window() -> Box<[u8]> {
    SPARE_WINDOW
        .with(std::cell::Cell::take)
        .unwrap_or_else(|| vec![0; WINDOW].into_boxed_slice())
}

impl<R> Drop for CountingReader<R> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() == WINDOW {
            SPARE_WINDOW.with(|s| s.set(Some(buf)));
        }
    }
}

/// A `BufRead` over its own buffer that refuses to go on when one event or
/// the whole input grows past its cap, and counts lines lazily: `consume`
/// only moves a cursor; the newlines of the consumed bytes are counted when a
/// position is asked for (once per event) or before the buffer is refilled.
struct CountingReader<R> {
    inner: R,
    counters: Rc<Counters>,
    max_total: Option<u64>,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Up to where in `buf` newlines are counted into `counters.line`.
    counted: Cell<usize>,
    /// Where the line holding `buf[0]` starts (an offset in the input).
    window_line_start: u64,
    /// Bumped at every refill: a [`Mark`] is good for one window.
    generation: u64,
    /// A window index whose position must outlive a refill: resolved into
    /// `pinned` just before the window is overwritten.
    pin: Option<usize>,
    pinned: Option<Pos>,
}

impl<R> CountingReader<R> {
    /// Brings the line count up to the bytes consumed so far.
    fn sync(&self) {
        let from = self.counted.get();
        if from >= self.pos {
            return;
        }
        let chunk = &self.buf[from..self.pos];
        // Counted in one sweep (vectorised), the last newline found from
        // the end: no per-byte bookkeeping.
        let n = count_newlines(chunk);
        if n > 0 {
            let c = &self.counters;
            let last = chunk.iter().rposition(|&b| b == b'\n').expect("counted");
            let base = c.consumed.get() - (self.pos - from) as u64;
            c.line.set(c.line.get() + n as u64);
            c.line_start.set(base + last as u64 + 1);
        }
        self.counted.set(self.pos);
    }

    /// Where the parser stands: 1-based line, column in bytes.
    fn position(&self) -> Pos {
        self.sync();
        position(&self.counters)
    }

    /// Consumes `amt` bytes the caller saw are printable ASCII or XML
    /// whitespace: nothing for the character check to find.
    fn consume_ascii(&mut self, amt: usize) {
        debug_assert!(self.buf[self.pos..self.pos + amt]
            .iter()
            .all(|&b| matches!(b, 0x20..=0x7E | b'\t' | b'\n' | b'\r')));
        self.pos += amt;
        let c = &self.counters;
        c.consumed.set(c.consumed.get() + amt as u64);
    }

    /// Where byte `idx` of the current window is (`idx` not past the bytes
    /// consumed): counted back from the consumed end, so only an error pays.
    fn position_at(&self, idx: usize) -> Pos {
        self.sync();
        let c = &self.counters;
        let abs = c.consumed.get() - (self.pos - idx) as u64;
        let n = count_newlines(&self.buf[idx..self.pos]) as u64;
        if n == 0 {
            return Pos {
                line: c.line.get(),
                column: abs - c.line_start.get() + 1,
            };
        }
        let line_start = match self.buf[..idx].iter().rposition(|&b| b == b'\n') {
            Some(k) => abs - (idx - k) as u64 + 1,
            None => self.window_line_start,
        };
        Pos {
            line: c.line.get() - n,
            column: abs - line_start + 1,
        }
    }
}

/// Newlines in `s`, counted in byte-wide lanes (at most 255 per chunk, so a
/// `u8` cannot overflow): most chunks are the few bytes between two events.
fn count_newlines(s: &[u8]) -> usize {
    s.chunks(255)
        .map(|c| usize::from(c.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n'))))
        .sum()
}

impl<R: io::Read> io::Read for CountingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: io::Read> BufRead for CountingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let c = &self.counters;
        if let Some(r) = c.refused.get() {
            return Err(io::Error::other(format!("{r:?}")));
        }
        if c.bad.get().is_some() {
            return Err(io::Error::other("not XML characters"));
        }
        if c.consumed.get().saturating_sub(c.event_start.get()) > MAX_EVENT_BYTES {
            c.refused.set(Some(Refusal::EventTooLarge));
            return Err(io::Error::other("event too large"));
        }
        if let Some(max) = self.max_total {
            if c.consumed.get() > max {
                c.refused.set(Some(Refusal::InputTooLarge));
                return Err(io::Error::other("input too large"));
            }
        }
        if self.pos >= self.filled {
            if let Some(idx) = self.pin.take() {
                self.pinned = Some(self.position_at(idx));
            }
            self.sync();
            let c = &self.counters;
            self.window_line_start = c.line_start.get();
            self.generation += 1;
            self.pos = 0;
            self.counted.set(0);
            self.filled = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.filled = 0;
                        return Err(e);
                    }
                }
            };
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.filled - self.pos);
        {
            let c = &self.counters;
            if c.bad.get().is_none() {
                let chunk = &self.buf[self.pos..self.pos + amt];
                let mut st = c.utf8.get();
                match check_chunk(&mut st, chunk) {
                    Ok(()) => c.utf8.set(st),
                    Err((at, bad)) => {
                        // The lines before this chunk, then those inside it.
                        self.sync();
                        let before = &chunk[..at];
                        let n = count_newlines(before) as u64;
                        let line_start = match before.iter().rposition(|&b| b == b'\n') {
                            Some(k) => c.consumed.get() + k as u64 + 1,
                            None => c.line_start.get(),
                        };
                        let pos = Pos {
                            line: c.line.get() + n,
                            column: c.consumed.get() + at as u64 - line_start + 1,
                        };
                        c.bad.set(Some((pos, bad)));
                    }
                }
            }
        }
        self.pos += amt;
        let c = &self.counters;
        c.consumed.set(c.consumed.get() + amt as u64);
    }
}

/// One step of the document, with namespaces resolved.
#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    /// An element starts. `in_ns` tells whether it is in the namespace the
    /// caller asked for; `ns` is the namespace URI (empty when none).
    Start {
        local: String,
        ns: String,
    },
    End,
    /// Text (entities resolved, CDATA included), not yet trimmed.
    Text(String),
    Eof,
}

/// A [`Node`] borrowed from the reader: valid until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef<'a> {
    Start { local: &'a str, ns: &'a str },
    End,
    Text(&'a str),
    Eof,
}

impl NodeRef<'_> {
    pub fn to_node(self) -> Node {
        match self {
            NodeRef::Start { local, ns } => Node::Start {
                local: local.to_owned(),
                ns: ns.to_owned(),
            },
            NodeRef::End => Node::End,
            NodeRef::Text(t) => Node::Text(t.to_owned()),
            NodeRef::Eof => Node::Eof,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Start,
    End,
    Text,
    Eof,
}

/// How to treat attributes on elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attributes {
    /// Anything but `xmlns*` and `xsi:*` is a schema error.
    Refuse,
    /// Ignore them (the iWlz readers need none).
    Ignore,
}

/// The pull reader. Call [`XmlPull::next_ref`] (or [`XmlPull::next_node`]) for each step.
pub struct XmlPull<R: BufRead> {
    reader: NsReader<CountingReader<R>>,
    counters: Rc<Counters>,
    buf: Vec<u8>,
    attributes: Attributes,
    depth: usize,
    root_done: bool,
    seen_root: bool,
    /// Where the event returned last started.
    event_pos: Pos,
    /// The node read last (returned or peeked), in buffers reused for every
    /// node: reading allocates nothing once they have grown.
    kind: Kind,
    local: String,
    ns: String,
    text: String,
    peeked: bool,
    peeked_pos: Pos,
    /// When set, `event_pos` is stale: the last node was taken by
    /// [`XmlPull::simple`] and starts at this mark.
    event_mark: Option<Mark>,
    /// Where quick-xml stands in the bytes between two events.
    between: Between,
    /// Whitespace was skipped up to a `<` left in place ([`XmlPull::skip_blank`]).
    lt_taken: bool,
    /// Depths of the open elements that declare namespaces.
    scoped: Vec<usize>,
    /// The last event ended an element that declared namespaces: quick-xml
    /// drops its scope only at the next read, so resolving now would see it.
    scope_pending: bool,
}

/// Where quick-xml's parser stands between two events, as far as the raw
/// bytes go: what [`XmlPull::simple`] needs to take bytes past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Between {
    /// After a start or end tag: the next byte is text or `<`.
    Tag,
    /// After text: its closing `<` is consumed, the next byte is markup.
    AfterLt,
    /// Anywhere else (an empty element half-way, the end, an error).
    Unknown,
}

/// A byte of the current window, resolved to a [`Pos`] only when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    idx: usize,
    generation: u64,
}

fn position(c: &Counters) -> Pos {
    Pos {
        line: c.line.get(),
        column: c.consumed.get() - c.line_start.get() + 1,
    }
}

fn malformed<R>(c: &CountingReader<R>, message: String) -> XmlError {
    XmlError::Input {
        fault: Fault::Malformed,
        message,
        pos: c.position(),
        path: String::new(),
    }
}

impl<R: BufRead> XmlPull<R> {
    pub fn new(input: R, max_total: Option<u64>, attributes: Attributes) -> Self {
        let counters = Rc::new(Counters::default());
        counters.line.set(1);
        let counting = CountingReader {
            inner: input,
            counters: counters.clone(),
            max_total,
            buf: take_window(),
            pos: 0,
            filled: 0,
            counted: Cell::new(0),
            window_line_start: 0,
            generation: 0,
            pin: None,
            pinned: None,
        };
        let mut reader = NsReader::from_reader(counting);
        let cfg = reader.config_mut();
        cfg.expand_empty_elements = true;
        cfg.check_end_names = true;
        cfg.check_comments = true;
        Self {
            reader,
            counters,
            buf: Vec::with_capacity(1024),
            attributes,
            depth: 0,
            root_done: false,
            seen_root: false,
            event_pos: Pos::default(),
            kind: Kind::Eof,
            local: String::new(),
            ns: String::new(),
            text: String::new(),
            peeked: false,
            peeked_pos: Pos::default(),
            event_mark: None,
            between: Between::Unknown,
            lt_taken: false,
            scoped: Vec::new(),
            scope_pending: false,
        }
    }

    /// Where the parser stands now.
    pub fn here(&self) -> Pos {
        self.reader.get_ref().position()
    }

    /// Where the last returned node started.
    pub fn node_pos(&self) -> Pos {
        match self.event_mark {
            Some(m) => self.mark_pos(m),
            None => self.event_pos,
        }
    }

    /// Where `m` is. Good until the next read: a mark points into the
    /// window, which a read may refill.
    pub fn mark_pos(&self, m: Mark) -> Pos {
        let r = self.reader.get_ref();
        debug_assert_eq!(m.generation, r.generation, "a mark outlived its window");
        if m.generation != r.generation {
            return r.position();
        }
        r.position_at(m.idx)
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.counters.consumed.get()
    }

    pub fn error(&self, fault: Fault, message: impl Into<String>, path: String) -> XmlError {
        XmlError::Input {
            fault,
            message: message.into(),
            pos: self.node_pos(),
            path,
        }
    }

    /// Looks at the next node without taking it.
    pub fn peek(&mut self) -> Result<NodeRef<'_>, XmlError> {
        if !self.peeked {
            // The last node stays the current one; its mark, if any, is
            // pinned, as reading may refill the window it points into.
            let saved = (self.event_pos, self.event_mark);
            if let Some(m) = saved.1 {
                let r = self.reader.get_mut();
                r.pin = (m.generation == r.generation).then_some(m.idx);
                r.pinned = None;
            }
            let read = self.read_node();
            let r = self.reader.get_mut();
            let pinned = r.pinned.take();
            r.pin = None;
            read?;
            self.peeked_pos = self.event_pos;
            (self.event_pos, self.event_mark) = match (saved, pinned) {
                ((_, Some(_)), Some(pos)) => (pos, None),
                (saved, _) => saved,
            };
            self.peeked = true;
        }
        Ok(self.current())
    }

    /// The next element start, end, text or the end of the document, borrowed.
    /// Comments, processing instructions and the XML declaration are handled
    /// here.
    pub fn next_ref(&mut self) -> Result<NodeRef<'_>, XmlError> {
        if self.peeked {
            self.peeked = false;
            self.event_pos = self.peeked_pos;
            self.event_mark = None;
        } else {
            self.read_node()?;
        }
        Ok(self.current())
    }

    /// A simple element `<name>value</name>` taken straight from the bytes,
    /// when they leave no doubt: no prefix, no attribute, a value of printable
    /// ASCII without `<`, `&` or `>`, in the default namespace `ns`, all in
    /// the window. It gives what the event path gives for those bytes (the
    /// same text, positions, counts and caps), at a fraction of the cost;
    /// `None` means "take the event path", never "not there".
    ///
    /// Between two elements quick-xml may already have consumed the `<` of
    /// the next one (after text); then the whitespace after the element and
    /// the next `<` are taken too, so quick-xml finds the bytes where it
    /// expects them.
    pub fn simple(&mut self, name: &str, ns: &str) -> Option<(&str, Mark)> {
        if self.peeked || self.between == Between::Unknown || self.scope_pending {
            return None;
        }
        let after_lt = self.between == Between::AfterLt;
        let r = self.reader.get_ref();
        let c = &*self.counters;
        if c.refused.get().is_some() || c.bad.get().is_some() || c.utf8.get().need > 0 {
            return None;
        }
        let base = r.pos;
        let w = &r.buf[base..r.filled];
        let name = name.as_bytes();
        let open = usize::from(!after_lt);
        if !after_lt && w.first() != Some(&b'<') {
            return None;
        }
        let text_start = open + name.len() + 1;
        if w.get(open..text_start - 1)? != name || w.get(text_start - 1) != Some(&b'>') {
            return None;
        }
        let len = w[text_start..]
            .iter()
            .position(|&b| !matches!(b, 0x20..=0x7E) || matches!(b, b'<' | b'&' | b'>'))?;
        let text_end = text_start + len;
        let mut end = text_end + name.len() + 3;
        let close = w.get(text_end..end)?;
        if close[0] != b'<' || close[1] != b'/' || &close[2..end - text_end - 1] != name {
            return None;
        }
        if close[end - text_end - 1] != b'>' {
            return None;
        }
        // The end tag's event starts past its `<` when text came before it
        // (quick-xml consumed the `<` with the text).
        let end_event = if len == 0 { text_end } else { text_end + 1 };
        let mut event_at = end_event;
        if after_lt {
            let ws = w[end..]
                .iter()
                .position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
            if ws == 0 || w[end + ws] != b'<' {
                return None;
            }
            // As the whitespace's own node, which every next step reads first.
            event_at = end;
            end += ws + 1;
        }
        if let Some(max) = r.max_total {
            if c.consumed.get() + end as u64 > max {
                return None;
            }
        }
        match self.reader.resolve_element(quick_xml::name::QName(name)).0 {
            ResolveResult::Bound(b) if b.as_ref() == ns.as_bytes() => {}
            _ => return None,
        }
        let generation = r.generation;
        let start = base + usize::from(std::mem::take(&mut self.lt_taken));
        self.reader.get_mut().consume_ascii(end);
        let c = &*self.counters;
        c.event_start.set(c.consumed.get());
        self.kind = Kind::End;
        self.event_mark = Some(Mark {
            idx: base + event_at,
            generation,
        });
        let r = self.reader.get_ref();
        let text = std::str::from_utf8(&r.buf[base + text_start..base + text_end]).ok()?;
        Some((
            text,
            Mark {
                idx: start,
                generation,
            },
        ))
    }

    /// Whitespace between two tags, followed by a `<`, taken straight from
    /// the bytes as [`XmlPull::next_ref`] would take its text node; `false`
    /// when the bytes leave doubt (then read the node).
    pub fn skip_blank(&mut self) -> bool {
        if self.peeked || self.between != Between::Tag || self.depth == 0 {
            return false;
        }
        let r = self.reader.get_ref();
        let c = &*self.counters;
        if c.refused.get().is_some() || c.bad.get().is_some() || c.utf8.get().need > 0 {
            return false;
        }
        let w = &r.buf[r.pos..r.filled];
        let Some(n) = w
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        else {
            return false;
        };
        if n == 0 || w[n] != b'<' {
            return false;
        }
        if let Some(max) = r.max_total {
            if c.consumed.get() + n as u64 + 1 > max {
                return false;
            }
        }
        let mark = Mark {
            idx: r.pos,
            generation: r.generation,
        };
        // The `<` stays: quick-xml expects text next and finds markup at
        // once. The event path would have taken it with the text, so the
        // next node is placed one byte on (`lt_taken`).
        self.reader.get_mut().consume_ascii(n);
        let c = &*self.counters;
        c.event_start.set(c.consumed.get());
        self.lt_taken = true;
        self.kind = Kind::Text;
        self.text.clear();
        self.event_mark = Some(mark);
        true
    }

    /// Is the next node the start of `name` in the default namespace `ns`,
    /// told from the bytes? `None` when they leave doubt (whitespace, a
    /// prefix, attributes, a comment): ask [`XmlPull::peek`].
    pub fn next_start_is(&self, name: &str, ns: &str) -> Option<bool> {
        if self.peeked || self.between == Between::Unknown || self.scope_pending {
            return None;
        }
        let r = self.reader.get_ref();
        let w = &r.buf[r.pos..r.filled];
        // After text, quick-xml has consumed the `<` already.
        let open = usize::from(self.between == Between::Tag);
        if open == 1 && w.first() != Some(&b'<') {
            return None;
        }
        if w.get(open) == Some(&b'/') {
            // An end tag: reading it may fail (`</<Clienten>`, a name that
            // does not match), and that error comes first: let the event
            // path read it.
            return None;
        }
        // A plain name closed by `>`: reading that start tag cannot fail, so
        // answering without reading it changes no error.
        let qname_len = w
            .get(open..)?
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))?;
        let qname = &w[open..open + qname_len];
        if qname.is_empty() || !qname[0].is_ascii_alphabetic() || w[open + qname_len] != b'>' {
            return None;
        }
        if qname != name.as_bytes() {
            return Some(false);
        }
        match self.reader.resolve_element(quick_xml::name::QName(qname)).0 {
            ResolveResult::Bound(b) => Some(b.as_ref() == ns.as_bytes()),
            ResolveResult::Unbound => Some(ns.is_empty()),
            ResolveResult::Unknown(_) => None,
        }
    }

    /// [`XmlPull::next_ref`], owned.
    pub fn next_node(&mut self) -> Result<Node, XmlError> {
        self.next_ref().map(NodeRef::to_node)
    }

    fn current(&self) -> NodeRef<'_> {
        match self.kind {
            Kind::Start => NodeRef::Start {
                local: &self.local,
                ns: &self.ns,
            },
            Kind::End => NodeRef::End,
            Kind::Text => NodeRef::Text(&self.text),
            Kind::Eof => NodeRef::Eof,
        }
    }

    /// Reads the next node into `kind` and the reused buffers.
    fn read_node(&mut self) -> Result<(), XmlError> {
        // Once the input was cut off, quick-xml would report a plain end of
        // input; keep reporting why it was cut off instead.
        if self.counters.refused.get().is_some() {
            let e = quick_xml::Error::Io(std::sync::Arc::new(io::Error::other("refused")));
            return Err(convert(self.reader.get_ref(), self.node_pos(), e));
        }
        self.event_mark = None;
        loop {
            self.between = Between::Unknown;
            self.scope_pending = false;
            self.buf.clear();
            let c = &*self.counters;
            c.event_start.set(c.consumed.get());
            self.event_pos = self.reader.get_ref().position();
            if std::mem::take(&mut self.lt_taken) {
                // As if the `<` had gone with the whitespace before it.
                c.event_start.set(c.consumed.get() + 1);
                self.event_pos.column += 1;
            }
            let event_pos = self.event_pos;
            let event = self.reader.read_event_into(&mut self.buf);
            if let Some(e) = bad_chars(c) {
                return Err(e);
            }
            let event = match event {
                Ok(e) => e,
                Err(e) => return Err(convert(self.reader.get_ref(), event_pos, e)),
            };
            let counters = self.reader.get_ref();
            match event {
                Event::Decl(d) => {
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|e| malformed(counters, e.to_string()))?;
                        if !enc.eq_ignore_ascii_case(b"utf-8")
                            && !enc.eq_ignore_ascii_case(b"us-ascii")
                        {
                            return Err(malformed(
                                counters,
                                format!(
                                    "encoding {} is not supported: send UTF-8",
                                    String::from_utf8_lossy(&enc)
                                ),
                            ));
                        }
                    }
                }
                Event::DocType(_) => {
                    return Err(XmlError::Input {
                        fault: Fault::Doctype,
                        message: "DOCTYPE and entity declarations are not allowed".into(),
                        pos: event_pos,
                        path: String::new(),
                    })
                }
                Event::Comment(_) | Event::PI(_) => self.between = Between::Tag,
                Event::Start(e) => {
                    if self.root_done {
                        return Err(malformed(counters, "a second root element".into()));
                    }
                    self.seen_root = true;
                    self.depth += 1;
                    let (res, local) = self.reader.resolve_element(e.name());
                    match res {
                        // Almost every element is in the namespace of the one
                        // before it: compared in place, copied only on change.
                        ResolveResult::Bound(ns) if self.ns.as_bytes() == ns.as_ref() => {}
                        ResolveResult::Bound(ns) => {
                            self.ns.clear();
                            match std::str::from_utf8(ns.as_ref()) {
                                Ok(s) => self.ns.push_str(s),
                                Err(_) => self.ns.push_str(&String::from_utf8_lossy(ns.as_ref())),
                            }
                        }
                        ResolveResult::Unbound => self.ns.clear(),
                        ResolveResult::Unknown(p) => {
                            return Err(malformed(
                                counters,
                                format!(
                                    "namespace prefix `{}` is not declared",
                                    String::from_utf8_lossy(&p)
                                ),
                            ))
                        }
                    };
                    let local = std::str::from_utf8(local.into_inner())
                        .map_err(|_| malformed(counters, "element name is not UTF-8".into()))?;
                    self.local.clear();
                    self.local.push_str(local);
                    let mut declares = false;
                    for attr in e.attributes() {
                        let attr = attr.map_err(|err| malformed(counters, err.to_string()))?;
                        if attr.value.contains(&b'&') {
                            let v = attr
                                .unescape_value()
                                .map_err(|err| malformed(counters, err.to_string()))?;
                            if let Some(c) = forbidden_char(&v) {
                                return Err(not_a_char(event_pos, c));
                            }
                        }
                        let key = attr.key;
                        if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
                            declares = true;
                            continue;
                        }
                        let (ans, alocal) = self.reader.resolve_attribute(key);
                        if let ResolveResult::Unknown(p) = ans {
                            return Err(malformed(
                                counters,
                                format!(
                                    "namespace prefix `{}` is not declared",
                                    String::from_utf8_lossy(&p)
                                ),
                            ));
                        }
                        // xsi:schemaLocation is a hint validators allow everywhere;
                        // xsi:nil and xsi:type change validation, so they are refused
                        // exactly as the XSD refuses them.
                        let is_xsi = matches!(ans, ResolveResult::Bound(ns) if ns.as_ref() == XSI_NS)
                            && matches!(
                                alocal.as_ref(),
                                b"schemaLocation" | b"noNamespaceSchemaLocation"
                            );
                        if self.attributes == Attributes::Refuse && !is_xsi {
                            return Err(XmlError::Input {
                                fault: Fault::Schema,
                                message: format!(
                                    "attribute `{}` is not allowed on `{}`",
                                    String::from_utf8_lossy(alocal.as_ref()),
                                    self.local
                                ),
                                pos: event_pos,
                                path: String::new(),
                            });
                        }
                    }
                    if declares {
                        self.scoped.push(self.depth);
                    }
                    // `<a/>` leaves quick-xml inside the empty element (its
                    // end comes next, read from no bytes).
                    if self.buf.last() != Some(&b'/') {
                        self.between = Between::Tag;
                    }
                    self.kind = Kind::Start;
                    return Ok(());
                }
                Event::End(_) => {
                    // Only after a second root was refused: read on past that
                    // error (`drain`), its `<x/>` still ends here.
                    if self.depth == 0 {
                        return Err(malformed(counters, "a second root element".into()));
                    }
                    if self.scoped.last() == Some(&self.depth) {
                        self.scoped.pop();
                        self.scope_pending = true;
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.root_done = true;
                    }
                    self.between = Between::Tag;
                    self.kind = Kind::End;
                    return Ok(());
                }
                Event::Empty(_) => unreachable!("expand_empty_elements is on"),
                Event::Text(t) => {
                    self.between = Between::AfterLt;
                    // Text without `&` has nothing to unescape: only checked
                    // to be UTF-8 (its characters were checked as they were
                    // consumed). A character reference may still name a
                    // character XML forbids.
                    let has_ref = t.contains(&b'&');
                    let plain = if has_ref {
                        None
                    } else {
                        std::str::from_utf8(&t).ok()
                    };
                    let text = match plain {
                        Some(s) => std::borrow::Cow::Borrowed(s),
                        None => t
                            .unescape()
                            .map_err(|e| malformed(counters, e.to_string()))?,
                    };
                    if has_ref {
                        if let Some(c) = forbidden_char(&text) {
                            return Err(not_a_char(event_pos, c));
                        }
                    }
                    if self.depth == 0 {
                        if text.trim().is_empty() {
                            continue;
                        }
                        return Err(malformed(counters, "text outside the root element".into()));
                    }
                    self.text.clear();
                    self.text.push_str(&text);
                    self.kind = Kind::Text;
                    return Ok(());
                }
                Event::CData(t) => {
                    if self.depth == 0 {
                        return Err(malformed(counters, "CDATA outside the root element".into()));
                    }
                    let text = t.decode().map_err(|e| malformed(counters, e.to_string()))?;
                    self.between = Between::Tag;
                    self.text.clear();
                    self.text.push_str(&text);
                    self.kind = Kind::Text;
                    return Ok(());
                }
                Event::Eof => {
                    if counters.counters.utf8.get().need > 0 {
                        return Err(malformed(
                            counters,
                            "invalid UTF-8 (the input ends inside a character)".into(),
                        ));
                    }
                    if self.depth > 0 {
                        return Err(malformed(
                            counters,
                            "unexpected end of input: element not closed".into(),
                        ));
                    }
                    if !self.seen_root {
                        return Err(malformed(counters, "no root element".into()));
                    }
                    self.kind = Kind::Eof;
                    return Ok(());
                }
            }
        }
    }
}

/// The first forbidden byte or character consumed, as a 0101 fault.
fn bad_chars(counters: &Counters) -> Option<XmlError> {
    counters.bad.get().map(|(pos, bad)| XmlError::Input {
        fault: Fault::Malformed,
        message: bad.to_string(),
        pos,
        path: String::new(),
    })
}

/// A character reference to a character XML forbids (`&#1;`).
fn not_a_char(pos: Pos, c: char) -> XmlError {
    XmlError::Input {
        fault: Fault::Malformed,
        message: BadChar::Char(c as u32).to_string(),
        pos,
        path: String::new(),
    }
}

fn convert<R>(counters: &CountingReader<R>, event_pos: Pos, e: quick_xml::Error) -> XmlError {
    if let Some(e) = bad_chars(&counters.counters) {
        return e;
    }
    match counters.counters.refused.get() {
        Some(Refusal::EventTooLarge) => XmlError::Input {
            fault: Fault::Schema,
            message: format!(
                "a single element, text or comment is larger than {MAX_EVENT_BYTES} bytes"
            ),
            pos: event_pos,
            path: String::new(),
        },
        Some(Refusal::InputTooLarge) => XmlError::Input {
            fault: Fault::TooLarge,
            message: "message is larger than the configured maximum".into(),
            pos: counters.position(),
            path: String::new(),
        },
        None => match e {
            quick_xml::Error::Io(io) => XmlError::Io(io::Error::new(io.kind(), io.to_string())),
            other => malformed(counters, other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(s: &str) -> Result<Vec<Node>, XmlError> {
        let mut p = XmlPull::new(s.as_bytes(), None, Attributes::Refuse);
        let mut v = Vec::new();
        loop {
            let n = p.next_node()?;
            if n == Node::Eof {
                return Ok(v);
            }
            v.push(n);
        }
    }

    fn fault(s: &str) -> Fault {
        match nodes(s) {
            Err(XmlError::Input { fault, .. }) => fault,
            other => panic!("expected a fault for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn resolves_namespaces_whatever_the_prefix() {
        let v = nodes("<p:a xmlns:p='urn:x'><p:b>1</p:b></p:a>").unwrap();
        assert_eq!(
            v[0],
            Node::Start {
                local: "a".into(),
                ns: "urn:x".into()
            }
        );
        assert_eq!(v[2], Node::Text("1".into()));
    }

    #[test]
    fn faults_are_classified() {
        assert_eq!(fault(""), Fault::Malformed);
        assert_eq!(fault("<a>"), Fault::Malformed);
        assert_eq!(fault("<a></b>"), Fault::Malformed);
        assert_eq!(fault("<a/><b/>"), Fault::Malformed);
        assert_eq!(fault("\u{0}\u{1}binary"), Fault::Malformed);
        assert_eq!(
            fault("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"),
            Fault::Doctype
        );
        assert_eq!(fault("<a>&x;</a>"), Fault::Malformed);
        assert_eq!(fault("<a b='1'/>"), Fault::Schema);
        assert_eq!(fault("<q:a/>"), Fault::Malformed);
    }

    #[test]
    fn newlines_are_counted_past_a_chunk() {
        for len in [0, 1, 254, 255, 256, 600] {
            let s: Vec<u8> = (0..len)
                .map(|i| if i % 2 == 0 { b'\n' } else { b'x' })
                .collect();
            assert_eq!(
                count_newlines(&s),
                s.iter().filter(|&&b| b == b'\n').count()
            );
        }
    }

    #[test]
    fn positions_are_line_and_column() {
        let mut p = XmlPull::new("<a>\n  <b>\n</a>".as_bytes(), None, Attributes::Refuse);
        let e = loop {
            match p.next_node() {
                Ok(Node::Eof) => panic!("no error"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        match e {
            XmlError::Input { pos, .. } => assert_eq!(pos.line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_window_used_before_shows_nothing_of_the_last_message() {
        let long = format!("<a><b>{}</b></a>", "y".repeat(1000));
        assert_eq!(nodes(&long).unwrap().len(), 5);
        // The same thread's next reader gets that window back: a message
        // cut short must end in an error, not run on into the old bytes.
        assert!(SPARE_WINDOW.with(|s| {
            let w = s.take();
            let kept = w.as_ref().is_some_and(|w| w.len() == WINDOW);
            s.set(w);
            kept
        }));
        assert_eq!(fault(&long[..20]), Fault::Malformed);
        assert_eq!(nodes("<a><b>z</b></a>").unwrap()[2], Node::Text("z".into()));
    }

    #[test]
    fn huge_text_is_refused_not_buffered() {
        let big = format!("<a>{}</a>", "x".repeat(3 * MAX_EVENT_BYTES as usize));
        assert_eq!(fault(&big), Fault::Schema);
    }

    #[test]
    fn total_size_cap_gives_too_large() {
        let doc = format!("<a>{}</a>", "<b>1</b>".repeat(10_000));
        let mut p = XmlPull::new(doc.as_bytes(), Some(1000), Attributes::Refuse);
        let e = loop {
            match p.next_node() {
                Ok(Node::Eof) => panic!("no error"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                e,
                XmlError::Input {
                    fault: Fault::TooLarge,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    fn located(s: &[u8]) -> (Fault, String, Pos) {
        let mut p = XmlPull::new(s, None, Attributes::Ignore);
        loop {
            match p.next_node() {
                Ok(Node::Eof) => panic!("no error for {s:?}"),
                Ok(_) => {}
                Err(XmlError::Input {
                    fault,
                    message,
                    pos,
                    ..
                }) => return (fault, message, pos),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn characters_xml_forbids_are_malformed_with_a_location() {
        for (doc, col) in [
            (&b"<a>x\x00</a>"[..], 5),
            (b"<a>\x01</a>", 4),
            (b"<a>\x0b</a>", 4),
            (b"<a>\x1b[31m</a>", 4),
            (b"<a>\xef\xbf\xbe</a>", 6), // U+FFFE
            (b"<a>\xef\xbf\xbf</a>", 6), // U+FFFF
            (b"<a b='\x01'/>", 7),
            (b"<a><!-- \xff --></a>", 9),
            (b"<a>\xc0\x80</a>", 4),     // overlong
            (b"<a>\xed\xa0\x80</a>", 6), // a surrogate
            (b"<a><b>\xe2\x82</b></a>", 9),
            (b"<?xml version='1.0'?><a>\x02</a>", 25),
        ] {
            let (fault, message, pos) = located(doc);
            assert_eq!(fault, Fault::Malformed, "{doc:?}: {message}");
            assert_eq!((pos.line, pos.column), (1, col), "{doc:?}: {message}");
            assert!(message.is_ascii(), "{message}");
        }
        let (_, m, pos) = located(b"<a>\n\n  \x01</a>");
        assert_eq!((pos.line, pos.column), (3, 3), "{m}");
        assert_eq!(m, "character U+0001 is not allowed in XML");
        // Character references to forbidden characters.
        for doc in [&b"<a>&#1;</a>"[..], b"<a>&#xFFFE;</a>", b"<a b='&#x1b;'/>"] {
            assert_eq!(located(doc).0, Fault::Malformed, "{doc:?}");
        }
        // What XML allows still passes.
        let v = nodes("<a>\t\r\n\u{7f}\u{e9}\u{20ac}\u{1F600}\u{FFFD}&#9;</a>").unwrap();
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn bom_and_declaration_are_accepted() {
        let v = nodes("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            fault("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
            Fault::Malformed
        );
    }
}
