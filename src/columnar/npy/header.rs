//! The `.npy` header: the magic, the version, and the Python dict literal that describes the
//! array, parsed without Python and written the way numpy writes it.

use super::{MAGIC, NpyDtype, NpyErrorKind};

/// The three keys of an `.npy` header.
#[derive(Debug)]
pub(super) struct Header {
    pub(super) descr: String,
    pub(super) fortran_order: bool,
    pub(super) shape: Vec<u64>,
}

/// A cursor over the header's Python dict literal (`{'descr': '<i8', 'fortran_order': False,
/// 'shape': (n, 26), }`): just enough Python syntax for what numpy writes, in any key order.
struct HeaderParser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl HeaderParser<'_> {
    fn error(&self, expected: &str) -> NpyErrorKind {
        NpyErrorKind::Header(format!(
            "expected {expected} at byte {} of the header dict {:?}",
            self.pos,
            String::from_utf8_lossy(self.text).trim_end()
        ))
    }

    fn skip_space(&mut self) {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    /// Skips whitespace, then consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.text.get(self.pos) == Some(&byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), NpyErrorKind> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("'{}'", byte as char)))
        }
    }

    /// A single- or double-quoted string without escapes (numpy's keys and simple descrs).
    fn string(&mut self) -> Result<String, NpyErrorKind> {
        self.skip_space();
        let Some(&quote @ (b'\'' | b'"')) = self.text.get(self.pos) else {
            return Err(self.error("a quoted string"));
        };
        let start = self.pos + 1;
        let len = self.text[start..]
            .iter()
            .position(|&b| b == quote)
            .ok_or_else(|| self.error("a closing quote"))?;
        self.pos = start + len + 1;
        Ok(String::from_utf8_lossy(&self.text[start..start + len]).into_owned())
    }

    fn word(&mut self) -> &[u8] {
        self.skip_space();
        let start = self.pos;
        while self
            .text
            .get(self.pos)
            .is_some_and(u8::is_ascii_alphanumeric)
        {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn boolean(&mut self) -> Result<bool, NpyErrorKind> {
        match self.word() {
            b"True" => Ok(true),
            b"False" => Ok(false),
            _ => Err(self.error("True or False")),
        }
    }

    /// A tuple of non-negative integers: `()`, `(n,)`, `(n, m)`, ... (Python 2's `L` suffix
    /// allowed, as old numpy wrote it).
    fn shape(&mut self) -> Result<Vec<u64>, NpyErrorKind> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        while !self.eat(b')') {
            let word = self.word();
            let digits = word.strip_suffix(b"L").unwrap_or(word);
            let dim = std::str::from_utf8(digits)
                .ok()
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u64>().ok())
                .ok_or_else(|| self.error("a dimension (a non-negative integer below 2^64)"))?;
            dims.push(dim);
            if !self.eat(b',') {
                self.expect(b')')?;
                break;
            }
        }
        Ok(dims)
    }

    fn parse(mut self) -> Result<Header, NpyErrorKind> {
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        self.expect(b'{')?;
        while !self.eat(b'}') {
            let key = self.string()?;
            self.expect(b':')?;
            match key.as_str() {
                "descr" => {
                    self.skip_space();
                    if self.text.get(self.pos) == Some(&b'[') {
                        return Err(NpyErrorKind::Dtype("(a structured dtype)".into()));
                    }
                    descr = Some(self.string()?);
                }
                "fortran_order" => fortran_order = Some(self.boolean()?),
                "shape" => shape = Some(self.shape()?),
                other => {
                    return Err(NpyErrorKind::Header(format!(
                        "unexpected key '{other}' (expected descr, fortran_order and shape)"
                    )));
                }
            }
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        let missing = |key: &str| NpyErrorKind::Header(format!("the header has no '{key}' key"));
        Ok(Header {
            descr: descr.ok_or_else(|| missing("descr"))?,
            fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
            shape: shape.ok_or_else(|| missing("shape"))?,
        })
    }
}

/// Formats a shape as numpy does: `(n,)` or `(n, m)`.
pub(super) fn shape_text(shape: &[u64]) -> String {
    match shape {
        [n] => format!("({n},)"),
        dims => {
            let dims: Vec<String> = dims.iter().map(u64::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// Splits a mapped file into its parsed header and the data offset.
pub(super) fn parse_prefix(bytes: &[u8]) -> Result<(Header, usize), NpyErrorKind> {
    if bytes.get(..MAGIC.len()) != Some(MAGIC) {
        return Err(NpyErrorKind::BadMagic);
    }
    let cut = || NpyErrorKind::Header("the file ends inside the header".into());
    let version = bytes.get(6..8).ok_or_else(cut)?;
    let (len_bytes, start) = match (version[0], version[1]) {
        (1, 0) => (bytes.get(8..10).ok_or_else(cut)?, 10_usize),
        (2 | 3, 0) => (bytes.get(8..12).ok_or_else(cut)?, 12),
        (major, minor) => return Err(NpyErrorKind::Version(major, minor)),
    };
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0_usize, |len, &b| (len << 8) | usize::from(b));
    let end = start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            NpyErrorKind::Header(format!(
                "the header length {header_len} runs past the end of the file ({} bytes)",
                bytes.len()
            ))
        })?;
    let header = HeaderParser {
        text: &bytes[start..end],
        pos: 0,
    }
    .parse()?;
    Ok((header, end))
}

/// The header dict numpy writes, e.g. `{'descr': '<i8', 'fortran_order': False, 'shape': (5, 26), }`.
pub(super) fn header_dict(dtype: NpyDtype, rows: u64, cols: Option<usize>) -> String {
    let shape = match cols {
        Some(cols) => format!("({rows}, {cols})"),
        None => format!("({rows},)"),
    };
    format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        dtype.descr()
    )
}
