//! A small Python literal syntax, read into a [`Value`]: what a person types for
//! `mpconn send --pickle`, and what `Display` prints for the built-in types.
//!
//! `None`, `True`, `False`; ints of any size (`-12`, `0x1f`, `1_000`); floats
//! (`1.5`, `1e16`, `-0.0`, and `nan` / `inf` as `repr` prints them); complex
//! (`2j`, `(1+2j)`); strings `'...'` / `"..."` and bytes `b'...'` with Python's
//! escapes (and `r` raw prefixes); tuples (`()`, `(1,)`, `(1, 2)`), lists, dicts with
//! any literal keys, sets (`{1, 2}`, `set()`), `frozenset({...})` and
//! `bytearray(b'...')`, nested to a depth of 200. Objects and globals have no
//! literal.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use num_bigint::BigInt;

use super::value::Value;

/// How deep literals may nest: the parser is recursive, and this keeps it far from
/// the end of any stack.
const MAX_DEPTH: usize = 200;

/// Why a literal did not parse, and where.
///
/// ```
/// use mpconn::pickle::parse_literal;
/// let err = parse_literal("[1, 2").unwrap_err();
/// assert_eq!((err.offset, err.to_string().as_str()), (5, "at offset 5: expected ',' or ']'"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralError {
    /// Byte offset in the text.
    pub offset: usize,
    /// What was expected or is wrong.
    pub message: &'static str,
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.message)
    }
}

impl core::error::Error for LiteralError {}

/// Parses a Python literal (see the module documentation for the syntax).
///
/// ```
/// use mpconn::pickle::{parse_literal, Value};
/// let v = parse_literal(r#"{"a": (1, 2), 3: {1, 2}, 'b': b"\x00", 'n': 12345678901234567890123}"#).unwrap();
/// assert_eq!(v.to_string(), "{'a': (1, 2), 3: {1, 2}, 'b': b'\\x00', 'n': 12345678901234567890123}");
/// assert_eq!(parse_literal(&v.to_string()).unwrap(), v);
/// ```
pub fn parse_literal(text: &str) -> Result<Value, LiteralError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let value = p.value(0)?;
    p.space();
    if p.pos != p.s.len() {
        return Err(p.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &'static str) -> LiteralError {
        LiteralError {
            offset: self.pos,
            message,
        }
    }

    fn space(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.space();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &'a str {
        let text: &'a str = self.text;
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
        {
            self.pos += 1;
        }
        &text[start..self.pos]
    }

    fn value(&mut self, depth: usize) -> Result<Value, LiteralError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested more than 200 deep"));
        }
        self.space();
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value"));
        };
        match c {
            b'(' => match self.opened(b')', depth)? {
                None => Ok(Value::tuple(Vec::new())),
                // Parenthesized, not a tuple.
                Some(first) if self.eat(b')') => Ok(first),
                Some(first) => Ok(Value::tuple(self.items_after(first, b')', depth)?)),
            },
            b'[' => match self.opened(b']', depth)? {
                None => Ok(Value::list(Vec::new())),
                Some(first) => Ok(Value::list(self.items_after(first, b']', depth)?)),
            },
            b'{' => {
                let Some(first) = self.opened(b'}', depth)? else {
                    return Ok(Value::dict(Vec::new()));
                };
                if self.eat(b':') {
                    let mut entries = alloc::vec![(first, self.value(depth + 1)?)];
                    loop {
                        if self.eat(b'}') {
                            return Ok(Value::dict(entries));
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected ',' or '}'"));
                        }
                        if self.eat(b'}') {
                            return Ok(Value::dict(entries));
                        }
                        let k = self.value(depth + 1)?;
                        if !self.eat(b':') {
                            return Err(self.error("expected ':'"));
                        }
                        entries.push((k, self.value(depth + 1)?));
                    }
                }
                let items = self.items_after(first, b'}', depth)?;
                Ok(Value::Set(Arc::new(items)))
            }
            b'\'' | b'"' => self.string(false, false),
            b'0'..=b'9' | b'-' | b'+' | b'.' => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.pos;
                let word = self.word();
                match word {
                    "None" => Ok(Value::None),
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "nan" => Ok(Value::Float(f64::NAN)),
                    "inf" => Ok(Value::Float(f64::INFINITY)),
                    "b" | "B" | "r" | "R" | "br" | "rb" | "Br" | "bR" | "BR" | "RB" | "Rb"
                    | "rB"
                        if matches!(self.peek(), Some(b'\'' | b'"')) =>
                    {
                        let lower = word.to_ascii_lowercase();
                        self.string(lower.contains('b'), lower.contains('r'))
                    }
                    "set" | "frozenset" | "bytearray" => {
                        let frozen = word == "frozenset";
                        let bytearray = word == "bytearray";
                        if !self.eat(b'(') {
                            return Err(self.error("expected '('"));
                        }
                        if self.eat(b')') {
                            return Ok(if bytearray {
                                Value::ByteArray(Arc::from(&b""[..]))
                            } else if frozen {
                                Value::FrozenSet(Arc::new(Vec::new()))
                            } else {
                                Value::Set(Arc::new(Vec::new()))
                            });
                        }
                        let inner = self.value(depth + 1)?;
                        if !self.eat(b')') {
                            return Err(self.error("expected ')'"));
                        }
                        match (bytearray, &inner) {
                            (true, Value::Bytes(b)) => Ok(Value::ByteArray(b.clone())),
                            (false, v) if v.as_items().is_some() || v.as_dict().is_some_and(|d| d.is_empty()) => {
                                let items = v.as_items().map(<[Value]>::to_vec).unwrap_or_default();
                                Ok(if frozen { Value::FrozenSet(Arc::new(items)) } else { Value::Set(Arc::new(items)) })
                            }
                            _ => Err(LiteralError {
                                offset: start,
                                message: "set(), frozenset() and bytearray() take a literal of items or bytes",
                            }),
                        }
                    }
                    _ => Err(LiteralError {
                        offset: start,
                        message:
                            "not a literal (None, True, False, a number, a string or a container)",
                    }),
                }
            }
            _ => Err(self.error("expected a value")),
        }
    }

    /// The items after a first `item,` up to `close`, trailing comma allowed.
    /// Past an opening bracket: `None` when `close` follows at once, else the first
    /// item.
    fn opened(&mut self, close: u8, depth: usize) -> Result<Option<Value>, LiteralError> {
        self.pos += 1;
        if self.eat(close) {
            return Ok(None);
        }
        self.value(depth + 1).map(Some)
    }

    /// A container's items after its first, `first`, up to `close`: a `,` between two,
    /// one more allowed before `close`.
    fn items_after(
        &mut self,
        first: Value,
        close: u8,
        depth: usize,
    ) -> Result<Vec<Value>, LiteralError> {
        let mut items = alloc::vec![first];
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            if !self.eat(b',') {
                return Err(self.error(match close {
                    b')' => "expected ',' or ')'",
                    b']' => "expected ',' or ']'",
                    _ => "expected ',' or '}'",
                }));
            }
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
        }
    }

    fn number(&mut self) -> Result<Value, LiteralError> {
        let negative = self.peek() == Some(b'-');
        let first = self.real()?;
        // `a+bj` / `a-bj`: a complex as repr prints it.
        let save = self.pos;
        self.space();
        if let (Value::Float(_) | Value::Int(_) | Value::BigInt(_), Some(b'+' | b'-')) =
            (&first, self.peek())
        {
            if let Ok(Value::Complex(0.0, im)) = self.real() {
                let re = match &first {
                    Value::Float(x) => *x,
                    // repr writes complex(-0.0, y) as (-0+yj): keep the sign.
                    Value::Int(0) if negative => -0.0,
                    Value::Int(n) => *n as f64,
                    _ => return Err(self.error("the real part of a complex is too large")),
                };
                return Ok(Value::Complex(re, im));
            }
        }
        self.pos = save;
        Ok(first)
    }

    /// One number, its sign included, `j` making it imaginary.
    fn real(&mut self) -> Result<Value, LiteralError> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        self.space();
        let body = self.pos;
        if self.s[body..].starts_with(b"inf") || self.s[body..].starts_with(b"nan") {
            let word = self.word();
            let x = match word {
                "inf" => f64::INFINITY,
                "nan" => f64::NAN,
                "infj" => {
                    return Ok(Value::Complex(
                        0.0,
                        if negative {
                            -f64::INFINITY
                        } else {
                            f64::INFINITY
                        },
                    ))
                }
                "nanj" => return Ok(Value::Complex(0.0, f64::NAN)),
                _ => {
                    return Err(LiteralError {
                        offset: body,
                        message: "not a number",
                    })
                }
            };
            return Ok(Value::Float(if negative { -x } else { x }));
        }
        let radix = match self.s.get(body..body + 2) {
            Some(b"0x" | b"0X") => 16,
            Some(b"0o" | b"0O") => 8,
            Some(b"0b" | b"0B") => 2,
            _ => 10,
        };
        if radix != 10 {
            self.pos += 2;
            let digits_start = self.pos;
            while self.pos < self.s.len()
                && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
            {
                self.pos += 1;
            }
            let digits: String = self.text[digits_start..self.pos]
                .chars()
                .filter(|&c| c != '_')
                .collect();
            let n = BigInt::parse_bytes(digits.as_bytes(), radix).ok_or(LiteralError {
                offset: start,
                message: "not a number",
            })?;
            return Ok(Value::int(if negative { -n } else { n }));
        }
        let mut float = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' | b'_' => {}
                b'.' => float = true,
                b'e' | b'E' => {
                    float = true;
                    if matches!(self.s.get(self.pos + 1), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        let digits: String = self.text[body..self.pos]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        if digits.is_empty() || digits == "." {
            return Err(LiteralError {
                offset: start,
                message: "expected a value",
            });
        }
        let imaginary = matches!(self.peek(), Some(b'j' | b'J'));
        if imaginary {
            self.pos += 1;
        }
        if float || imaginary {
            let x: f64 = digits.parse().map_err(|_| LiteralError {
                offset: start,
                message: "not a number",
            })?;
            let x = if negative { -x } else { x };
            return Ok(if imaginary {
                Value::Complex(0.0, x)
            } else {
                Value::Float(x)
            });
        }
        let n = BigInt::parse_bytes(digits.as_bytes(), 10).ok_or(LiteralError {
            offset: start,
            message: "not a number",
        })?;
        Ok(Value::int(if negative { -n } else { n }))
    }

    /// A quoted string at `pos`, after any prefix.
    fn string(&mut self, bytes: bool, raw: bool) -> Result<Value, LiteralError> {
        let start = self.pos;
        let quote = self.s[self.pos];
        self.pos += 1;
        let mut out: Vec<u32> = Vec::new();
        loop {
            let Some(c) = self.text[self.pos..].chars().next() else {
                return Err(LiteralError {
                    offset: start,
                    message: "the string is not closed",
                });
            };
            self.pos += c.len_utf8();
            if c as u32 == u32::from(quote) {
                break;
            }
            if c == '\n' {
                return Err(LiteralError {
                    offset: start,
                    message: "the string is not closed",
                });
            }
            if c != '\\' {
                if bytes && !c.is_ascii() {
                    return Err(self.error("bytes literals hold ASCII characters only"));
                }
                out.push(c.into());
                continue;
            }
            let Some(e) = self.text[self.pos..].chars().next() else {
                return Err(LiteralError {
                    offset: start,
                    message: "the string is not closed",
                });
            };
            self.pos += e.len_utf8();
            if raw {
                out.push('\\'.into());
                out.push(e.into());
                continue;
            }
            let simple = match e {
                '\n' => None,
                '\\' | '\'' | '"' => Some(e as u32),
                'a' => Some(7),
                'b' => Some(8),
                'f' => Some(12),
                'n' => Some(10),
                'r' => Some(13),
                't' => Some(9),
                'v' => Some(11),
                '0'..='7' => {
                    let mut n = e as u32 - '0' as u32;
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                n = n * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    Some(n)
                }
                'x' => Some(self.hex(2)?),
                'u' if !bytes => Some(self.hex(4)?),
                'U' if !bytes => Some(self.hex(8)?),
                other => {
                    out.push('\\'.into());
                    Some(other as u32)
                }
            };
            out.extend(simple);
        }
        if bytes {
            let b: Vec<u8> = out
                .into_iter()
                .map(|c| {
                    u8::try_from(c).map_err(|_| LiteralError {
                        offset: start,
                        message: "a byte above 255",
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(Value::bytes(&b))
        } else {
            let s: String = out
                .into_iter()
                .map(|c| {
                    char::from_u32(c).ok_or(LiteralError {
                        offset: start,
                        message: "not a character (a surrogate?)",
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(Value::from(s))
        }
    }

    fn hex(&mut self, n: usize) -> Result<u32, LiteralError> {
        let digits = self
            .s
            .get(self.pos..self.pos + n)
            .ok_or_else(|| self.error("a truncated escape"))?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16
                + (d as char)
                    .to_digit(16)
                    .ok_or_else(|| self.error("a bad hex escape"))?;
        }
        self.pos += n;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn literals_parse_into_the_python_types() {
        for (text, repr) in [
            ("None", "None"),
            ("[True, False]", "[True, False]"),
            ("-12", "-12"),
            ("0x1F", "31"),
            ("1_000", "1000"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("1.5", "1.5"),
            ("1e16", "1e+16"),
            ("-0.0", "-0.0"),
            ("[nan, inf, -inf]", "[nan, inf, -inf]"),
            ("2j", "2j"),
            ("(1+2j)", "(1+2j)"),
            ("(1.5-0.5j)", "(1.5-0.5j)"),
            ("'it''s'", ""),
            ("\"it's\"", "\"it's\""),
            ("'\\n\\x41\\u00e9\\U0001F600\\101'", "'\\nAé😀A'"),
            ("b'\\x00a'", "b'\\x00a'"),
            ("r'\\n'", "'\\\\n'"),
            ("()", "()"),
            ("(1,)", "(1,)"),
            ("(1, 2,)", "(1, 2)"),
            ("[]", "[]"),
            ("{}", "{}"),
            ("{1, 2}", "{1, 2}"),
            ("set()", "set()"),
            ("frozenset({1})", "frozenset({1})"),
            ("frozenset()", "frozenset()"),
            ("bytearray(b'x')", "bytearray(b'x')"),
            ("{\"a\": (1, 2), 3: {1, 2}}", "{'a': (1, 2), 3: {1, 2}}"),
            (" [ 1 , [ 2 ] ] ", "[1, [2]]"),
        ] {
            match parse_literal(text) {
                Ok(v) => assert_eq!(v.to_string(), repr, "{text}"),
                Err(e) => assert!(repr.is_empty(), "{text}: {e}"),
            }
        }
    }

    #[test]
    fn what_display_prints_parses_back_to_the_same_value() {
        let v = parse_literal("{'k': [1, 2.5, -0.0, nan, 'é\\n', b'\\xff', (None,), {1}, frozenset(), set(), (1-2j)]}").unwrap();
        assert_eq!(parse_literal(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn bad_literals_say_where() {
        assert_eq!(parse_literal("[1,, 2]").unwrap_err().offset, 3);
        assert_eq!(
            parse_literal("{1: 2, 3}").unwrap_err().message,
            "expected ':'"
        );
        assert_eq!(
            parse_literal("'abc").unwrap_err().message,
            "the string is not closed"
        );
        assert_eq!(parse_literal("os.system").unwrap_err().offset, 0);
        assert!(parse_literal("1 2").is_err());
        let deep = "[".repeat(300) + &"]".repeat(300);
        assert_eq!(
            parse_literal(&deep).unwrap_err().message,
            "nested more than 200 deep"
        );
    }
}
