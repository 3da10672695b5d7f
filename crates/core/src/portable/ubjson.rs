//! A reader of Universal Binary JSON (the format of XGBoost's `.ubj` models) into a JSON value,
//! written for untrusted bytes: every length is checked against what is left, nesting is
//! bounded, and nothing is allocated beyond what the input can fill.

use crate::error::{Error, Result};
use serde_json::{Map, Number, Value};

/// Deeper than any model file nests.
const MAX_DEPTH: usize = 64;

/// Parses one UBJSON value that must span the whole input.
pub fn parse(bytes: &[u8]) -> Result<Value> {
    let mut r = Reader { bytes, at: 0 };
    let value = r.value(0)?;
    if r.at != bytes.len() {
        return Err(r.bad("bytes follow the end of the document"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bad(&self, what: &str) -> Error {
        Error::invalid(format!("the UBJSON model is malformed at byte {}: {what}", self.at))
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.bytes.len() - self.at < n {
            return Err(self.bad("unexpected end"));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// A length or count: an integer of any width, not negative.
    fn length(&mut self) -> Result<usize> {
        let marker = self.byte()?;
        let n = match self.scalar(marker)? {
            Value::Number(n) => n.as_i64(),
            _ => None,
        };
        match n {
            Some(n) if n >= 0 && n as u64 <= self.bytes.len() as u64 => Ok(n as usize),
            _ => Err(self.bad("a length is not a small non-negative integer")),
        }
    }

    fn string(&mut self) -> Result<String> {
        let n = self.length()?;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.bad("a string is not UTF-8"))
    }

    fn float(&self, v: f64) -> Value {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }

    /// A value of a marker that is not a container.
    fn scalar(&mut self, marker: u8) -> Result<Value> {
        let be = |r: &mut Self, n: usize| -> Result<[u8; 8]> {
            let raw = r.take(n)?;
            let mut out = [0u8; 8];
            out[8 - n..].copy_from_slice(raw);
            Ok(out)
        };
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' => Value::from(self.byte()? as i8),
            b'U' => Value::from(self.byte()?),
            b'I' => Value::from(i16::from_be_bytes(be(self, 2)?[6..].try_into().unwrap_or_default())),
            b'l' => Value::from(i32::from_be_bytes(be(self, 4)?[4..].try_into().unwrap_or_default())),
            b'L' => Value::from(i64::from_be_bytes(be(self, 8)?)),
            b'd' => {
                let v = f32::from_be_bytes(be(self, 4)?[4..].try_into().unwrap_or_default());
                self.float(v as f64)
            }
            b'D' => {
                let v = f64::from_be_bytes(be(self, 8)?);
                self.float(v)
            }
            b'C' => Value::String((self.byte()? as char).to_string()),
            b'S' | b'H' => Value::String(self.string()?),
            other => return Err(self.bad(&format!("unknown type marker 0x{other:02x}"))),
        })
    }

    /// The encoded size of one value of a fixed-size marker (for typed containers).
    fn fixed_size(marker: u8) -> Option<usize> {
        match marker {
            b'Z' | b'T' | b'F' => Some(0),
            b'i' | b'U' | b'C' => Some(1),
            b'I' => Some(2),
            b'l' | b'd' => Some(4),
            b'L' | b'D' => Some(8),
            _ => None,
        }
    }

    /// `$type` and `#count` after a container's opening marker, when given.
    fn container_head(&mut self) -> Result<(Option<u8>, Option<usize>)> {
        let mut kind = None;
        if self.peek() == Some(b'$') {
            self.at += 1;
            kind = Some(self.byte()?);
            if self.peek() != Some(b'#') {
                return Err(self.bad("a typed container has no count"));
            }
        }
        let mut count = None;
        if self.peek() == Some(b'#') {
            self.at += 1;
            let n = self.length()?;
            // every element takes at least one byte, unless typed as zero-sized
            let least = match kind.and_then(Self::fixed_size) {
                Some(0) => 0,
                Some(size) => size,
                None => 1,
            };
            if n.saturating_mul(least) > self.left() {
                return Err(self.bad("a container counts more elements than the bytes hold"));
            }
            count = Some(n);
        }
        Ok((kind, count))
    }

    fn element(&mut self, kind: Option<u8>, depth: usize) -> Result<Value> {
        match kind {
            Some(marker) => self.typed(marker, depth),
            None => self.value(depth),
        }
    }

    fn typed(&mut self, marker: u8, depth: usize) -> Result<Value> {
        match marker {
            b'[' | b'{' => self.container(marker, depth),
            _ => self.scalar(marker),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        let mut marker = self.byte()?;
        while marker == b'N' {
            marker = self.byte()?;
        }
        self.typed(marker, depth)
    }

    fn container(&mut self, open: u8, depth: usize) -> Result<Value> {
        if depth >= MAX_DEPTH {
            return Err(self.bad("nested too deeply"));
        }
        let (kind, count) = self.container_head()?;
        let close = if open == b'[' { b']' } else { b'}' };
        let mut items = Vec::new();
        let mut fields = Map::new();
        let mut i = 0usize;
        loop {
            match count {
                Some(n) if i == n => break,
                None => {
                    while self.peek() == Some(b'N') {
                        self.at += 1;
                    }
                    if self.peek() == Some(close) {
                        self.at += 1;
                        break;
                    }
                }
                _ => {}
            }
            if open == b'[' {
                items.push(self.element(kind, depth + 1)?);
            } else {
                let key = self.string()?;
                let v = self.element(kind, depth + 1)?;
                fields.insert(key, v);
            }
            i += 1;
        }
        Ok(if open == b'[' { Value::Array(items) } else { Value::Object(fields) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_typed_containers() {
        // {"a": [1, 2.5], "b": typed int32 array [3, -4], "s": "hi"}
        let mut b = vec![b'{'];
        b.extend([b'i', 1, b'a', b'[', b'U', 1, b'd']);
        b.extend(2.5f32.to_be_bytes());
        b.push(b']');
        b.extend([b'i', 1, b'b', b'[', b'$', b'l', b'#', b'i', 2]);
        b.extend(3i32.to_be_bytes());
        b.extend((-4i32).to_be_bytes());
        b.extend([b'i', 1, b's', b'S', b'i', 2, b'h', b'i', b'}']);
        let v = parse(&b).unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, 2.5], "b": [3, -4], "s": "hi"}));
    }

    #[test]
    fn refuses_lies_about_lengths_and_depth() {
        // a typed array claiming a billion int64s in a few bytes
        let b = [b'[', b'$', b'L', b'#', b'l', 0x40, 0, 0, 0, 0, 0];
        assert!(parse(&b).is_err());
        let deep = vec![b'['; 1000];
        assert!(parse(&deep).is_err());
        assert!(parse(&[b'S', b'i', 5, b'a']).is_err());
        assert!(parse(&[b'i', 1, b'i']).is_err());
    }
}
