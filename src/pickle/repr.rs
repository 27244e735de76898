//! `Display` of a [`Value`] as Python's `repr` shows it.
//!
//! Built-in types print exactly as CPython 3 prints them (floats by the shortest
//! repr that reads back: `1.0`, `1e+16`, `nan`, `-0.0`; strings with Python's choice
//! of quotes and escapes). The few well-known objects print as their constructor
//! call (`datetime.datetime(2024, 1, 2, 3, 4, 5)`, `Decimal('1.5')`,
//! `UUID('...')`, `OrderedDict({...})`); any other object as the call that makes it
//! (`module.Name(args)`, whether by `REDUCE` or `NEWOBJ`, so that a namedtuple reads
//! `__main__.Point(1, 2)`), then what is applied to it:
//! `.extend([...])`, `.update({...})`, `.__setstate__(state)`.
//! A cycle prints as Python prints it, `[...]` / `{...}` / `(...)` where the value
//! refers back to itself.
//!
//! Whether a non-ASCII character is printable (shown as is) or escaped follows
//! Python's `str.isprintable` for the control, format, separator, private-use and
//! noncharacter code points; other unassigned code points (which need Unicode's
//! tables) are shown as is.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use super::value::Value;

/// Python's `repr(x)` of a float.
pub(crate) fn float_repr(x: f64) -> String {
    float_text(x, true)
}

/// Python's float formatting, code `'r'`: the shortest digits that read back, fixed
/// notation for exponents -4 to 15, scientific outside; `add_dot_0` adds the `.0`
/// that `repr` adds to integral values and `complex.__repr__` does not.
fn float_text(x: f64, add_dot_0: bool) -> String {
    if x.is_nan() {
        return String::from("nan");
    }
    if x.is_infinite() {
        return String::from(if x > 0.0 { "inf" } else { "-inf" });
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
        return out;
    }
    let point = exp + 1;
    if point <= 0 {
        out.push_str("0.");
        out.extend(core::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(core::iter::repeat_n('0', point as usize - digits.len()));
        if add_dot_0 {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// Python's `repr` of a complex.
fn complex_repr(re: f64, im: f64) -> String {
    let imag = float_text(im, false);
    if re == 0.0 && re.is_sign_positive() {
        return format!("{imag}j");
    }
    let sign = if imag.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{imag}j)", float_text(re, false))
}

/// Whether Python's `str.isprintable` holds for `c` (see the module documentation
/// for the approximation).
fn printable(c: char) -> bool {
    let n = u32::from(c);
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || (0x600..=0x605).contains(&n)
        || n == 0x61c
        || n == 0x6dd
        || n == 0x70f
        || n == 0x1680
        || n == 0x180e
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x2064).contains(&n)
        || (0x2066..=0x206f).contains(&n)
        || n == 0x3000
        || (0xd800..=0xf8ff).contains(&n)
        || (0xfdd0..=0xfdef).contains(&n)
        || n == 0xfeff
        || (0xfff9..=0xfffb).contains(&n)
        || (n & 0xfffe) == 0xfffe
        || n == 0x110bd
        || (0x1d173..=0x1d17a).contains(&n)
        || n == 0xe0001
        || (0xe0020..=0xe007f).contains(&n)
        || n >= 0xf0000)
}

/// Python's `repr` of a str.
pub(crate) fn str_repr(s: &str, out: &mut impl Write) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\t' => out.write_str("\\t")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            c if c == quote => {
                out.write_char('\\')?;
                out.write_char(c)?;
            }
            c if printable(c) => out.write_char(c)?,
            c if u32::from(c) <= 0xff => write!(out, "\\x{:02x}", u32::from(c))?,
            c if u32::from(c) <= 0xffff => write!(out, "\\u{:04x}", u32::from(c))?,
            c => write!(out, "\\U{:08x}", u32::from(c))?,
        }
    }
    out.write_char(quote)
}

/// Python's `repr` of a bytes.
pub(crate) fn bytes_repr(b: &[u8], out: &mut impl Write) -> fmt::Result {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.write_char('b')?;
    out.write_char(char::from(quote))?;
    for &c in b {
        match c {
            b'\\' => out.write_str("\\\\")?,
            b'\t' => out.write_str("\\t")?,
            b'\n' => out.write_str("\\n")?,
            b'\r' => out.write_str("\\r")?,
            c if c == quote => {
                out.write_char('\\')?;
                out.write_char(char::from(c))?;
            }
            0x20..=0x7e => out.write_char(char::from(c))?,
            c => write!(out, "\\x{c:02x}")?,
        }
    }
    out.write_char(char::from(quote))
}

/// A container: `empty` when it has nothing, else `open`, its items (which close
/// their own bracket), then `after`.
fn container<'a>(
    f: &mut fmt::Formatter<'_>,
    stack: &mut Vec<Piece<'a>>,
    is_empty: bool,
    [empty, open, after]: [&'static str; 3],
    items: Piece<'a>,
) -> fmt::Result {
    if is_empty {
        return f.write_str(empty);
    }
    f.write_str(open)?;
    if !after.is_empty() {
        stack.push(Piece::Text(after));
    }
    stack.push(items);
    Ok(())
}

enum Piece<'a> {
    Value(&'a Value),
    /// A value in the callable position: a global prints as `module.name`.
    Callable(&'a Value),
    Text(&'static str),
    Owned(String),
    /// A separator `, ` before every item but the first of a sequence.
    Items(&'a [Value], usize, &'static str),
    Entries(&'a [(Value, Value)], usize),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut stack: Vec<Piece<'_>> = alloc::vec![Piece::Value(self)];
        // What each label's value is, for the `[...]` of a back-reference.
        let mut kinds: BTreeMap<u32, &'static str> = BTreeMap::new();
        while let Some(piece) = stack.pop() {
            match piece {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Owned(t) => f.write_str(&t)?,
                Piece::Items(items, next, close) => {
                    if next > 0 {
                        f.write_str(", ")?;
                    }
                    if next + 1 < items.len() {
                        stack.push(Piece::Items(items, next + 1, close));
                    } else {
                        stack.push(Piece::Text(close));
                    }
                    stack.push(Piece::Value(&items[next]));
                }
                Piece::Entries(entries, next) => {
                    if next > 0 {
                        f.write_str(", ")?;
                    }
                    if next + 1 < entries.len() {
                        stack.push(Piece::Entries(entries, next + 1));
                    } else {
                        stack.push(Piece::Text("}"));
                    }
                    stack.push(Piece::Value(&entries[next].1));
                    stack.push(Piece::Text(": "));
                    stack.push(Piece::Value(&entries[next].0));
                }
                Piece::Callable(Value::Global(g)) => write!(f, "{}.{}", g.module, g.name)?,
                Piece::Callable(other) => stack.push(Piece::Value(other)),
                Piece::Value(value) => match value {
                    Value::None => f.write_str("None")?,
                    Value::Bool(true) => f.write_str("True")?,
                    Value::Bool(false) => f.write_str("False")?,
                    Value::Int(n) => write!(f, "{n}")?,
                    Value::BigInt(n) => write!(f, "{n}")?,
                    Value::Float(x) => f.write_str(&float_repr(*x))?,
                    Value::Complex(re, im) => f.write_str(&complex_repr(*re, *im))?,
                    Value::Str(s) => str_repr(s, f)?,
                    Value::Bytes(b) => bytes_repr(b, f)?,
                    Value::ByteArray(b) => {
                        f.write_str("bytearray(")?;
                        bytes_repr(b, f)?;
                        f.write_str(")")?;
                    }
                    Value::Tuple(items) if items.len() == 1 => {
                        f.write_str("(")?;
                        stack.push(Piece::Text(",)"));
                        stack.push(Piece::Value(&items[0]));
                    }
                    Value::Tuple(items) => {
                        let tuple = Piece::Items(items, 0, ")");
                        container(f, &mut stack, items.is_empty(), ["()", "(", ""], tuple)?;
                    }
                    Value::List(items) => {
                        let list = Piece::Items(items, 0, "]");
                        container(f, &mut stack, items.is_empty(), ["[]", "[", ""], list)?;
                    }
                    Value::Dict(entries) => {
                        let dict = Piece::Entries(entries, 0);
                        container(f, &mut stack, entries.is_empty(), ["{}", "{", ""], dict)?;
                    }
                    Value::Set(items) => {
                        let set = Piece::Items(items, 0, "}");
                        container(f, &mut stack, items.is_empty(), ["set()", "{", ""], set)?;
                    }
                    Value::FrozenSet(items) => {
                        let set = Piece::Items(items, 0, "}");
                        let texts = ["frozenset()", "frozenset({", ")"];
                        container(f, &mut stack, items.is_empty(), texts, set)?;
                    }
                    Value::Global(g) => write!(f, "<class '{}.{}'>", g.module, g.name)?,
                    Value::Object(o) => {
                        if let Some(text) = value.known_repr() {
                            f.write_str(&text)?;
                            continue;
                        }
                        let ordered = o
                            .class()
                            .is_some_and(|g| g.is("collections", "OrderedDict"));
                        if ordered && o.args().is_empty() && o.state.is_none() && o.items.is_empty()
                        {
                            let texts = ["OrderedDict()", "OrderedDict({", ")"];
                            let dict = Piece::Entries(&o.entries, 0);
                            container(f, &mut stack, o.entries.is_empty(), texts, dict)?;
                            continue;
                        }
                        // Pushed in reverse.
                        if let Some(state) = &o.state {
                            stack.push(Piece::Text(")"));
                            stack.push(Piece::Value(state));
                            stack.push(Piece::Text(".__setstate__("));
                        }
                        if !o.entries.is_empty() {
                            stack.push(Piece::Text(")"));
                            stack.push(Piece::Entries(&o.entries, 0));
                            stack.push(Piece::Text(".update({"));
                        }
                        if !o.items.is_empty() {
                            stack.push(Piece::Text(")"));
                            stack.push(Piece::Items(&o.items, 0, "]"));
                            stack.push(Piece::Text(".extend(["));
                        }
                        let args = o.args();
                        let kwargs = o.kwargs.as_ref().and_then(Value::as_dict).unwrap_or(&[]);
                        stack.push(Piece::Text(")"));
                        for (i, (k, v)) in kwargs.iter().enumerate().rev() {
                            stack.push(Piece::Value(v));
                            match k.as_str() {
                                Some(name) => stack.push(Piece::Owned(format!("{name}="))),
                                None => {
                                    // Not a keyword: shown as Python would have to pass it.
                                    stack.pop();
                                    stack.push(Piece::Text("}"));
                                    stack.push(Piece::Value(v));
                                    stack.push(Piece::Text(": "));
                                    stack.push(Piece::Value(k));
                                    stack.push(Piece::Text("**{"));
                                }
                            }
                            if i > 0 || !args.is_empty() {
                                stack.push(Piece::Text(", "));
                            }
                        }
                        if !args.is_empty() {
                            stack.push(Piece::Items(args, 0, ""));
                        }
                        stack.push(Piece::Text("("));
                        stack.push(Piece::Callable(&o.callable));
                    }
                    Value::Recursive(r) => {
                        let kind = match &r.value {
                            Value::List(_) => "[...]",
                            Value::Dict(_) => "{...}",
                            Value::Tuple(_) => "(...)",
                            _ => "...",
                        };
                        kinds.insert(r.label, kind);
                        stack.push(Piece::Value(&r.value));
                    }
                    Value::BackRef(label) => {
                        f.write_str(kinds.get(label).copied().unwrap_or("..."))?
                    }
                },
            }
        }
        Ok(())
    }
}

impl Value {
    /// Python's `repr` of the value as `Display` writes it, but at most `max_bytes`
    /// of it: the text and whether it was cut, when it ends with `...` after the
    /// first `max_bytes` bytes (cut at a character boundary).
    ///
    /// `Display` prints a shared value once each place it is reached, as Python
    /// does, so a few hundred bytes of pickle (a list holding the same list twice,
    /// 60 deep) print as 2^60 items; this stops after `max_bytes`, in time and
    /// memory that follow `max_bytes`, whatever the value.
    ///
    /// ```
    /// use mpconn::pickle::Value;
    /// let v = Value::list(vec![Value::Int(1), Value::Int(22)]);
    /// assert_eq!(v.repr_bounded(100), ("[1, 22]".to_owned(), false));
    /// assert_eq!(v.repr_bounded(5), ("[1, 2...".to_owned(), true));
    /// ```
    pub fn repr_bounded(&self, max_bytes: usize) -> (String, bool) {
        let mut out = Capped {
            out: String::new(),
            max: max_bytes,
            cut: false,
        };
        // The only error is the cap's: `Display` itself never fails.
        let _ = write!(out, "{self}");
        if out.cut {
            out.out.push_str("...");
        }
        (out.out, out.cut)
    }
}

/// A `String` that takes at most `max` bytes, then fails every write so that the
/// `Display` writing into it stops.
struct Capped {
    out: String,
    max: usize,
    cut: bool,
}

impl Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.max - self.out.len();
        if s.len() <= room {
            self.out.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.cut = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_bounded_repr_is_the_repr_or_its_start() {
        let v = Value::list(alloc::vec![Value::str("\u{e9}\u{e9}"), Value::Int(7)]);
        let full = v.to_string();
        assert_eq!(full, "['\u{e9}\u{e9}', 7]");
        assert_eq!(v.repr_bounded(full.len()), (full.clone(), false));
        assert_eq!(v.repr_bounded(0), ("...".into(), true));
        // Byte 5 is inside the second 'é': cut before it.
        assert_eq!(v.repr_bounded(5), ("['\u{e9}...".into(), true));
        assert_eq!(
            v.repr_bounded(full.len() - 1),
            ("['\u{e9}\u{e9}', 7...".into(), true)
        );
    }

    #[test]
    fn floats_print_as_python_repr() {
        for (x, text) in [
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1.5e-300, "1.5e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(float_repr(x), text, "{x:?}");
        }
    }

    #[test]
    fn complex_prints_as_python_repr() {
        assert_eq!(Value::Complex(1.0, 2.0).to_string(), "(1+2j)");
        assert_eq!(Value::Complex(0.0, -1.5).to_string(), "-1.5j");
        assert_eq!(Value::Complex(-0.0, 1.0).to_string(), "(-0+1j)");
        assert_eq!(Value::Complex(1.0, f64::NAN).to_string(), "(1+nanj)");
    }

    #[test]
    fn strings_are_quoted_as_python_quotes_them() {
        assert_eq!(Value::str("a'b").to_string(), "\"a'b\"");
        assert_eq!(Value::str("a'b\"").to_string(), "'a\\'b\"'");
        assert_eq!(
            Value::str("\u{7f}\t\n\u{e9}\u{a0}\u{2028}").to_string(),
            "'\\x7f\\t\\n\u{e9}\\xa0\\u2028'"
        );
        assert_eq!(Value::bytes(b"'\x00\xff").to_string(), "b\"'\\x00\\xff\"");
    }

    #[test]
    fn containers_print_as_python_repr() {
        let v = Value::dict(alloc::vec![
            (
                Value::str("a"),
                Value::tuple(alloc::vec![Value::Int(1), Value::Int(2)])
            ),
            (
                Value::Int(3),
                Value::Set(alloc::sync::Arc::new(alloc::vec![
                    Value::Int(1),
                    Value::Int(2)
                ]))
            ),
        ]);
        assert_eq!(v.to_string(), "{'a': (1, 2), 3: {1, 2}}");
        assert_eq!(Value::Set(Default::default()).to_string(), "set()");
        assert_eq!(
            Value::FrozenSet(alloc::sync::Arc::new(alloc::vec![Value::None])).to_string(),
            "frozenset({None})"
        );
        assert_eq!(
            Value::ByteArray(alloc::sync::Arc::from(&b"x"[..])).to_string(),
            "bytearray(b'x')"
        );
    }
}
