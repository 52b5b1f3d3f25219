//! numpy `.npy` files: format versions 1.0, 2.0 and 3.0, little-endian, C order, dtypes `<f4 <f8 <f2
//! <i4 <i8 |b1`. bf16 has no numpy dtype, so a bf16 tensor is written as `<f4` (exactly: every bf16 is
//! an f32) and reads back as an f32 tensor.

use std::path::Path;

use irc_ir::DType;

use super::{FormatError, MEMORY, check_filled, check_size, decode, encode, read_file, show_path, write_file};
use crate::Tensor;

const MAGIC: &[u8] = b"\x93NUMPY";
const SUPPORTED: &str = "<f4, <f8, <f2, <i4, <i8, |b1";

fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::BF16 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::Bool => "|b1",
    }
}

fn dtype_of(descr: &str) -> Option<DType> {
    Some(match descr {
        "<f4" => DType::F32,
        "<f8" => DType::F64,
        "<f2" => DType::F16,
        "<i4" => DType::I32,
        "<i8" => DType::I64,
        "|b1" => DType::Bool,
        _ => return None,
    })
}

/// The `.npy` encoding of `t`.
pub fn npy_to_bytes(t: &Tensor) -> Result<Vec<u8>, FormatError> {
    to_bytes(t, MEMORY)
}

pub fn write_npy(path: impl AsRef<Path>, t: &Tensor) -> Result<(), FormatError> {
    let path = path.as_ref();
    write_file(path, &to_bytes(t, &show_path(path))?)
}

/// Parses a `.npy` buffer; errors name the path `<bytes>`.
pub fn npy_from_bytes(bytes: &[u8]) -> Result<Tensor, FormatError> {
    from_bytes(bytes, MEMORY)
}

pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor, FormatError> {
    let path = path.as_ref();
    from_bytes(&read_file(path)?, &show_path(path))
}

fn to_bytes(t: &Tensor, path: &str) -> Result<Vec<u8>, FormatError> {
    check_filled(t, path, "array")?;
    let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}", descr(t.dtype));
    // numpy pads the header with spaces and a final newline so the data starts 64-byte aligned.
    // Version 1.0 stores the header length in 2 bytes, 2.0 in 4.
    let padded = |prefix: usize| (prefix + header.len() + 1).next_multiple_of(64) - prefix;
    let v1 = padded(MAGIC.len() + 4) <= u16::MAX as usize;
    let prefix = MAGIC.len() + if v1 { 4 } else { 6 };
    let total = prefix + padded(prefix);
    header.extend(std::iter::repeat_n(' ', total - prefix - header.len() - 1));
    header.push('\n');
    let mut out = MAGIC.to_vec();
    if v1 {
        out.extend([1, 0]);
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend([2, 0]);
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    let stored = if t.dtype == DType::BF16 { DType::F32 } else { t.dtype };
    out.extend(encode(stored, &t.data));
    Ok(out)
}

fn from_bytes(bytes: &[u8], path: &str) -> Result<Tensor, FormatError> {
    let bad = |msg: &str| FormatError::NpyHeader { path: path.into(), msg: msg.into() };
    if bytes.len() < MAGIC.len() + 2 || !bytes.starts_with(MAGIC) {
        return Err(FormatError::NotNpy { path: path.into() });
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(FormatError::NpyVersion { path: path.into(), major, minor }),
    };
    let start = 8 + len_bytes;
    let len_field = bytes.get(8..start).ok_or_else(|| bad("file ends inside the header length"))?;
    let header_len = len_field.iter().rev().fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("file ends inside the header"))?;
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not ASCII text"))?;
    let header = parse_header(text).map_err(|msg| bad(&msg))?;

    let dtype = dtype_of(&header.descr).ok_or_else(|| FormatError::UnsupportedDType {
        path: path.into(),
        tensor: None,
        dtype: header.descr.clone(),
        supported: SUPPORTED,
    })?;
    // With at most one dim above 1, Fortran and C order lay the data out identically.
    if header.fortran_order && header.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(FormatError::FortranOrder { path: path.into() });
    }
    let data = &bytes[end..];
    check_size(path, dtype, &header.shape, data.len())?;
    Ok(Tensor::new(dtype, header.shape, decode(dtype, data)))
}

#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut p = Parser { s: text.as_bytes(), pos: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.expect(b':')?;
        match (key.as_str(), p.value()?) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", _) => return Err(format!("`{key}` has the wrong kind of value")),
            _ => return Err(format!("unexpected key `{key}`")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err("unexpected text after the dict".into());
    }
    Ok(Header {
        descr: descr.ok_or("missing key `descr`")?,
        fortran_order: fortran.ok_or("missing key `fortran_order`")?,
        shape: shape.ok_or("missing key `shape`")?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.pos) == Some(&c);
        self.pos += hit as usize;
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.eat(c) { Ok(()) } else { Err(format!("expected `{}` at byte {}", c as char, self.pos)) }
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = match self.s.get(self.pos) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.pos)),
        };
        let start = self.pos + 1;
        let len = self.s[start..].iter().position(|&c| c == quote).ok_or("unterminated string")?;
        self.pos = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn word(&mut self, w: &str) -> bool {
        let hit = self.s[self.pos..].starts_with(w.as_bytes());
        if hit {
            self.pos += w.len();
        }
        hit
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        if self.word("True") {
            return Ok(Value::Bool(true));
        }
        if self.word("False") {
            return Ok(Value::Bool(false));
        }
        if !self.eat(b'(') {
            return self.string().map(Value::Str);
        }
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(Value::Tuple(dims));
            }
            let start = self.pos;
            while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.pos]).expect("ASCII digits");
            dims.push(digits.parse().map_err(|_| format!("bad dimension at byte {start}"))?);
            self.eat(b'L'); // Python 2 wrote longs as `3L`
            self.skip_ws();
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(Value::Tuple(dims));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numpy_style_headers() {
        let h = parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }   \n").unwrap();
        assert_eq!(h, Header { descr: "<f4".into(), fortran_order: false, shape: vec![3, 4] });
        let h = parse_header("{\"shape\":(7,),\"descr\":\"|b1\",\"fortran_order\":True}").unwrap();
        assert_eq!(h, Header { descr: "|b1".into(), fortran_order: true, shape: vec![7] });
        assert_eq!(
            parse_header("{'descr': '<i8', 'fortran_order': False, 'shape': ()}").unwrap().shape,
            Vec::<usize>::new()
        );
        for bad in ["", "{'descr': '<f4'}", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, x)}", "{'a': 1}"] {
            assert!(parse_header(bad).is_err(), "{bad:?} parsed");
        }
    }
}
