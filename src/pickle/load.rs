//! The unpickler: protocols 0 to 5 as CPython writes them, iterative, within limits.
//!
//! Two passes. The first runs the pickle machine over an arena: every object the
//! pickle makes is a node, the stack and the memo hold node ids, and containers hold
//! the ids of their items, so `APPEND`s to a list that is already referenced elsewhere
//! (as a recursive structure needs) are plain pushes. The second turns the arena's
//! graph into a [`Value`] by an iterative depth-first walk: a node reached twice is
//! shared (an `Arc` clone), a node reached again while it is still being walked is a
//! cycle, cut into [`Value::Recursive`] / [`Value::BackRef`]. Neither pass recurses,
//! and both are linear in the input: every node and every item slot is made by an
//! opcode of at least one byte, and what the few normalized calls copy (`set(list)`,
//! `bytearray(bytes)`, ...) is capped at the input's length.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use num_bigint::BigInt;

use super::error::{At, Error, Limit};
use super::opcode::*;
use super::value::{canonical_module, Call, Object, Recursive, Value};

/// Limits on what an input may make [`loads_with`] build. The defaults are safe for
/// input from anyone; raise them for large trusted data.
///
/// Whatever the limits, memory stays within a small constant times the input's
/// length, and nothing recurses.
///
/// ```
/// use mpconn::pickle::{loads_with, Error, Limit, Limits};
/// let limits = Limits { max_depth: 2, ..Limits::default() };
/// assert!(loads_with(b"]]].", &limits).is_ok()); // [] [] []: three lists, stack only
/// let err = loads_with(b"(((lll.", &limits).unwrap_err(); // [[[]]]
/// assert!(matches!(err, Error::LimitExceeded { limit: Limit::Depth, max: 2, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How deep containers and objects may nest in the decoded value (a flat list of
    /// ints is 1). Default 1,000: what a recursive consumer (serde, a printer) can walk
    /// on a 2 MiB thread stack with room to spare. The decoder itself has no depth
    /// limit of its own: it never recurses.
    pub max_depth: usize,
    /// How many objects and container items the pickle may make. Default 64 Mi.
    pub max_items: usize,
    /// How many memo entries the pickle may set. Default 16 Mi.
    pub max_memo: usize,
    /// How many values the serde deserializer ([`from_slice`](super::from_slice),
    /// [`from_slice_with`](super::from_slice_with), [`from_value`](super::from_value))
    /// may visit, counting a shared value once per place it is reached from: a
    /// decoded [`Value`] shares what the pickle shares, so a few hundred bytes (a
    /// list holding the same list twice, 60 deep) can stand for 2^60 values, which
    /// the Rust type would copy out one by one. Each value counts one, a str, bytes
    /// or bytearray one more per 64 bytes. Default 4 Mi. `from_slice_with` allows at
    /// least twice the input's length, which no pickle without shared containers
    /// reaches, so that only sharing runs into it. Exceeding it is
    /// [`SerdeError::LimitExceeded`](super::SerdeError::LimitExceeded) with
    /// [`Limit::Expanded`](super::Limit::Expanded).
    pub max_expanded: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 1000,
            max_items: 64 << 20,
            max_memo: 16 << 20,
            max_expanded: 4 << 20,
        }
    }
}

/// Decodes a pickle with the default [`Limits`]. Bytes after `STOP` are ignored, as
/// CPython's `pickle.loads` ignores them.
///
/// ```
/// use mpconn::pickle::{loads, Value};
/// // pickle.dumps({"a": (1, 2.5)}, 2)
/// let v = loads(b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01G@\x04\x00\x00\x00\x00\x00\x00\x86q\x02s.").unwrap();
/// assert_eq!(v.to_string(), "{'a': (1, 2.5)}");
/// ```
pub fn loads(data: &[u8]) -> Result<Value, Error> {
    loads_with(data, &Limits::default())
}

/// Decodes a pickle within `limits`.
///
/// ```
/// use mpconn::pickle::{loads_with, Limits, Value};
/// assert_eq!(loads_with(b"N.", &Limits::default()).unwrap(), Value::None);
/// ```
pub fn loads_with(data: &[u8], limits: &Limits) -> Result<Value, Error> {
    load_prefix(data, limits).map(|(value, _)| value)
}

/// Decodes the pickle at the start of `data` within `limits`, and says how many bytes
/// it took (up to and including `STOP`).
///
/// ```
/// use mpconn::pickle::{load_prefix, Limits, Value};
/// let (v, used) = load_prefix(b"K\x05.rest", &Limits::default()).unwrap();
/// assert_eq!((v, used), (Value::Int(5), 3));
/// ```
pub fn load_prefix(data: &[u8], limits: &Limits) -> Result<(Value, usize), Error> {
    let mut machine = Machine {
        input: data,
        pos: 0,
        at: At {
            offset: 0,
            opcode: 0,
        },
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Memo::default(),
        limits,
        items: 0,
        copied: 0,
    };
    let root = machine.run()?;
    // What only the first pass needs goes before the second allocates.
    machine.stack = Vec::new();
    machine.marks = Vec::new();
    machine.memo = Memo::default();
    machine.nodes.shrink_to_fit();
    let value = machine.convert(root)?;
    Ok((value, machine.pos))
}

type Id = u32;

/// What [`Machine::extend_target`] does with the items.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extend {
    Append,
    SetItems,
    AddItems,
}

/// One object the pickle made.
enum Node {
    /// A finished value without children in the arena (scalars, strings, globals).
    Atom(Value),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    FrozenSet(Vec<Id>),
    Object(alloc::boxed::Box<ObjectNode>),
}

struct ObjectNode {
    callable: Id,
    call: Call,
    args: Id,
    kwargs: Option<Id>,
    items: Vec<Id>,
    entries: Vec<(Id, Id)>,
    state: Option<Id>,
}

impl Node {
    fn type_name(&self) -> &'static str {
        match self {
            Node::Atom(v) => v.type_name(),
            Node::List(_) => "list",
            Node::Tuple(_) => "tuple",
            Node::Dict(_) => "dict",
            Node::Set(_) => "set",
            Node::FrozenSet(_) => "frozenset",
            Node::Object(_) => "object",
        }
    }

    /// The `i`-th child in the order the pickler writes them (and so the order in
    /// which back-references are found): for an object callable, args, kwargs,
    /// items, entries, state.
    fn child(&self, i: usize) -> Option<Id> {
        match self {
            Node::Atom(_) => None,
            Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => v.get(i).copied(),
            Node::Dict(e) => e.get(i / 2).map(|&(k, v)| if i % 2 == 0 { k } else { v }),
            Node::Object(o) => {
                let mut i = i;
                if i == 0 {
                    return Some(o.callable);
                }
                if i == 1 {
                    return Some(o.args);
                }
                i -= 2;
                if let Some(kwargs) = o.kwargs {
                    if i == 0 {
                        return Some(kwargs);
                    }
                    i -= 1;
                }
                if i < o.items.len() {
                    return Some(o.items[i]);
                }
                i -= o.items.len();
                if i < 2 * o.entries.len() {
                    let (k, v) = o.entries[i / 2];
                    return Some(if i % 2 == 0 { k } else { v });
                }
                i -= 2 * o.entries.len();
                if i == 0 {
                    return o.state;
                }
                None
            }
        }
    }
}

/// The memo: dense while the indices are (CPython's always are), a map past that so
/// that a hostile `LONG_BINPUT 4294967295` costs one entry, not four billion.
#[derive(Default)]
struct Memo {
    dense: Vec<Id>,
    sparse: BTreeMap<u32, Id>,
    len: usize,
}

const UNSET: Id = Id::MAX;

impl Memo {
    fn get(&self, index: u32) -> Option<Id> {
        match self.dense.get(index as usize) {
            Some(&id) if id != UNSET => Some(id),
            Some(_) => None,
            None => self.sparse.get(&index).copied(),
        }
    }

    /// Sets an entry; returns whether it is a new one.
    fn put(&mut self, index: u32, id: Id) -> bool {
        let i = index as usize;
        let new = if i < self.dense.len() {
            let new = self.dense[i] == UNSET;
            self.dense[i] = id;
            new
        } else if i <= self.dense.len() + 64 && !self.sparse.contains_key(&index) {
            self.dense.resize(i, UNSET);
            self.dense.push(id);
            true
        } else {
            self.sparse.insert(index, id).is_none()
        };
        if new {
            self.len += 1;
        }
        new
    }
}

struct Machine<'a, 'l> {
    input: &'a [u8],
    pos: usize,
    at: At,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: Memo,
    limits: &'l Limits,
    /// Nodes and item slots made so far, against `limits.max_items`.
    items: usize,
    /// Items copied by normalized calls, against the input's length.
    copied: usize,
}

/// The most decimal digits an `INT`/`LONG` line may have: CPython's default
/// `sys.get_int_max_str_digits()`, and what keeps parsing linear.
const MAX_DECIMAL_DIGITS: usize = 4300;

impl<'a> Machine<'a, '_> {
    fn truncated(&self) -> Error {
        Error::Truncated { at: self.at }
    }

    fn bad(&self, reason: &'static str) -> Error {
        Error::BadArgument {
            at: self.at,
            reason,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.input.len() - self.pos < n {
            return Err(self.truncated());
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length that must fit what is left of the input (checked before anything is
    /// allocated for it).
    fn len64(&mut self, n: u64) -> Result<usize, Error> {
        match usize::try_from(n) {
            Ok(n) if n <= self.input.len() - self.pos => Ok(n),
            _ => Err(self.truncated()),
        }
    }

    /// A text argument: the bytes up to the next `\n`, which is consumed.
    fn line(&mut self) -> Result<&'a [u8], Error> {
        let rest = &self.input[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(n) => {
                self.pos += n + 1;
                Ok(&rest[..n])
            }
            None => Err(self.truncated()),
        }
    }

    fn exceeded(&self, limit: Limit, max: usize) -> Error {
        Error::LimitExceeded {
            at: self.at,
            limit,
            max,
        }
    }

    fn count(&mut self, n: usize) -> Result<(), Error> {
        self.items = self.items.saturating_add(n);
        if self.items > self.limits.max_items {
            return Err(self.exceeded(Limit::Items, self.limits.max_items));
        }
        Ok(())
    }

    fn copy(&mut self, n: usize) -> Result<(), Error> {
        self.copied = self.copied.saturating_add(n);
        if self.copied > self.input.len() {
            return Err(self.exceeded(Limit::Copies, self.input.len()));
        }
        Ok(())
    }

    fn new_node(&mut self, node: Node) -> Result<Id, Error> {
        self.count(1)?;
        let id = self.nodes.len() as Id;
        self.nodes.push(node);
        Ok(id)
    }

    fn push_node(&mut self, node: Node) -> Result<(), Error> {
        let id = self.new_node(node)?;
        self.stack.push(id);
        Ok(())
    }

    fn push_atom(&mut self, value: Value) -> Result<(), Error> {
        self.push_node(Node::Atom(value))
    }

    /// Where the current mark frame starts: opcodes never reach below it.
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Id, Error> {
        let id = self.top()?;
        self.stack.pop();
        Ok(id)
    }

    fn top(&self) -> Result<Id, Error> {
        if self.stack.len() <= self.fence() {
            return Err(Error::StackUnderflow { at: self.at });
        }
        Ok(self.stack[self.stack.len() - 1])
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, Error> {
        let mark = self.marks.pop().ok_or(Error::NoMark { at: self.at })?;
        Ok(self.stack.split_off(mark))
    }

    fn wrong(&self, id: Id, expected: &'static str) -> Error {
        let node = &self.nodes[id as usize];
        let global = match node {
            Node::Object(o) => match &self.nodes[o.callable as usize] {
                Node::Atom(Value::Global(g)) => Some(g.to_string()),
                _ => None,
            },
            Node::Atom(Value::Global(g)) => Some(g.to_string()),
            _ => None,
        };
        Error::WrongType {
            at: self.at,
            expected,
            found: node.type_name(),
            global,
        }
    }

    fn atom(&self, id: Id) -> Option<&Value> {
        match &self.nodes[id as usize] {
            Node::Atom(v) => Some(v),
            _ => None,
        }
    }

    fn str_arg(&self, bytes: &'a [u8]) -> Result<Arc<str>, Error> {
        core::str::from_utf8(bytes)
            .map(Arc::from)
            .map_err(|_| self.bad("the string is not valid UTF-8 (a lone surrogate?)"))
    }

    fn memo_put(&mut self, index: u32) -> Result<(), Error> {
        let id = self.top()?;
        if self.memo.put(index, id) && self.memo.len > self.limits.max_memo {
            return Err(self.exceeded(Limit::Memo, self.limits.max_memo));
        }
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> Result<(), Error> {
        let id = self
            .memo
            .get(index)
            .ok_or(Error::MemoMissing { at: self.at, index })?;
        self.count(1)?;
        self.stack.push(id);
        Ok(())
    }

    /// A length-prefixed argument: its length in one, four or eight bytes
    /// (little-endian, by opcode), then that many bytes.
    fn sized(&mut self, op: u8) -> Result<&'a [u8], Error> {
        let n = match op {
            SHORT_BINSTRING | SHORT_BINBYTES | SHORT_BINUNICODE => self.byte()?.into(),
            BINBYTES | BINUNICODE => self.u32()? as usize,
            _ => {
                let n = self.u64()?;
                self.len64(n)?
            }
        };
        self.take(n)
    }

    /// The memo index a `GET`/`PUT` opcode carries: a text line, one byte or four.
    fn memo_index(&mut self, op: u8) -> Result<u32, Error> {
        match op {
            GET | PUT => self.text_index(),
            BINGET | BINPUT => Ok(self.byte()?.into()),
            _ => self.u32(),
        }
    }

    fn text_index(&mut self) -> Result<u32, Error> {
        let line = self.line()?;
        let text =
            core::str::from_utf8(line).map_err(|_| self.bad("the memo index is no number"))?;
        text.trim()
            .parse::<u32>()
            .map_err(|_| self.bad("the memo index is no number"))
    }

    /// Moves `stack[from..]` into the container just below them (`APPEND(S)`,
    /// `SETITEM(S)`, `ADDITEMS`), without a copy of the items in between.
    fn extend_target(&mut self, from: usize, how: Extend) -> Result<(), Error> {
        if from == 0 || from - 1 < self.fence() || from > self.stack.len() {
            return Err(Error::StackUnderflow { at: self.at });
        }
        let target = self.stack[from - 1];
        let n = self.stack.len() - from;
        if how == Extend::SetItems && n % 2 != 0 {
            return Err(self.bad("an odd number of items for the dict's keys and values"));
        }
        self.count(n)?;
        let items = &self.stack[from..];
        let fits = match (&mut self.nodes[target as usize], how) {
            (Node::List(v), Extend::Append) | (Node::Set(v), Extend::AddItems) => {
                v.extend_from_slice(items);
                true
            }
            (Node::Object(o), Extend::Append) => {
                o.items.extend_from_slice(items);
                true
            }
            (Node::Dict(e), Extend::SetItems) => {
                e.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                true
            }
            (Node::Object(o), Extend::SetItems) => {
                o.entries
                    .extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                true
            }
            _ => false,
        };
        if !fits {
            return Err(self.wrong(
                target,
                match how {
                    Extend::Append => "a list to append to",
                    Extend::SetItems => "a dict to set items in",
                    Extend::AddItems => "a set to add to",
                },
            ));
        }
        self.stack.truncate(from);
        Ok(())
    }

    /// Where the items of the topmost mark start, the mark popped.
    fn items_from_mark(&mut self) -> Result<usize, Error> {
        self.marks.pop().ok_or(Error::NoMark { at: self.at })
    }

    /// Where the top `n` items start, if the frame holds them.
    fn items_from_top(&self, n: usize) -> Result<usize, Error> {
        if self.stack.len() < self.fence() + n {
            return Err(Error::StackUnderflow { at: self.at });
        }
        Ok(self.stack.len() - n)
    }

    fn tuple_of(&mut self, items: Vec<Id>) -> Result<(), Error> {
        self.count(items.len())?;
        self.push_node(Node::Tuple(items))
    }

    fn expect_tuple(&self, id: Id) -> Result<(), Error> {
        match self.nodes[id as usize] {
            Node::Tuple(_) => Ok(()),
            _ => Err(self.wrong(id, "a tuple of arguments")),
        }
    }

    fn run(&mut self) -> Result<Id, Error> {
        loop {
            let offset = self.pos;
            let Some(&op) = self.input.get(offset) else {
                return Err(self.truncated());
            };
            self.at = At { offset, opcode: op };
            self.pos += 1;
            match op {
                STOP => return self.pop(),
                MARK => self.marks.push(self.stack.len()),
                POP => {
                    if self.stack.len() > self.fence() {
                        self.stack.pop();
                    } else {
                        self.pop_mark()?;
                    }
                }
                POP_MARK => {
                    self.pop_mark()?;
                }
                DUP => {
                    let id = self.top()?;
                    self.count(1)?;
                    self.stack.push(id);
                }
                PROTO => {
                    let version = self.byte()?;
                    if version > 5 {
                        return Err(Error::UnsupportedProtocol {
                            at: self.at,
                            version,
                        });
                    }
                }
                FRAME => {
                    // Frames only batch reads; the whole input is here already.
                    let n = self.u64()?;
                    self.len64(n)?;
                }
                NONE => self.push_atom(Value::None)?,
                NEWTRUE => self.push_atom(Value::Bool(true))?,
                NEWFALSE => self.push_atom(Value::Bool(false))?,
                INT => {
                    let line = self.line()?;
                    let value = match line {
                        b"01" => Value::Bool(true),
                        b"00" => Value::Bool(false),
                        _ => self.decimal(line)?,
                    };
                    self.push_atom(value)?;
                }
                LONG => {
                    let line = self.line()?;
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let value = self.decimal(digits)?;
                    self.push_atom(value)?;
                }
                BININT => {
                    let n = self.u32()? as i32;
                    self.push_atom(Value::Int(n.into()))?;
                }
                BININT1 => {
                    let n = self.byte()?;
                    self.push_atom(Value::Int(n.into()))?;
                }
                BININT2 => {
                    let n = self.u16()?;
                    self.push_atom(Value::Int(n.into()))?;
                }
                LONG1 => {
                    let n = self.byte()? as usize;
                    let bytes = self.take(n)?;
                    self.push_atom(Value::int(BigInt::from_signed_bytes_le(bytes)))?;
                }
                LONG4 => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err(self.bad("LONG4 with a negative byte count"));
                    }
                    let bytes = self.take(n as usize)?;
                    self.push_atom(Value::int(BigInt::from_signed_bytes_le(bytes)))?;
                }
                FLOAT => {
                    let line = self.line()?;
                    let x = core::str::from_utf8(line)
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.bad("the FLOAT line is no number"))?;
                    self.push_atom(Value::Float(x))?;
                }
                BINFLOAT => {
                    let b = self.take(8)?;
                    let mut a = [0; 8];
                    a.copy_from_slice(b);
                    self.push_atom(Value::Float(f64::from_be_bytes(a)))?;
                }
                STRING => {
                    let line = self.line()?;
                    let inner = match line {
                        [q, inner @ .., q2] if q == q2 && (*q == b'\'' || *q == b'"') => inner,
                        _ => return Err(self.bad("the STRING argument must be quoted")),
                    };
                    let bytes =
                        escape_decode(inner).ok_or_else(|| self.bad("a bad escape in STRING"))?;
                    self.push_atom(Value::Bytes(bytes.into()))?;
                }
                BINSTRING => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err(self.bad("BINSTRING with a negative length"));
                    }
                    let bytes = self.take(n as usize)?;
                    self.push_atom(Value::bytes(bytes))?;
                }
                SHORT_BINSTRING | SHORT_BINBYTES | BINBYTES | BINBYTES8 => {
                    let bytes = self.sized(op)?;
                    self.push_atom(Value::bytes(bytes))?;
                }
                BYTEARRAY8 => {
                    let bytes = self.sized(op)?;
                    self.push_atom(Value::ByteArray(bytes.into()))?;
                }
                UNICODE => {
                    let line = self.line()?;
                    let s = raw_unicode_escape_decode(line)
                        .ok_or_else(|| self.bad("a bad \\u escape in UNICODE"))?;
                    self.push_atom(Value::Str(s.into()))?;
                }
                SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                    let bytes = self.sized(op)?;
                    let s = self.str_arg(bytes)?;
                    self.push_atom(Value::Str(s))?;
                }
                EMPTY_TUPLE => self.push_node(Node::Tuple(Vec::new()))?,
                EMPTY_LIST => self.push_node(Node::List(Vec::new()))?,
                EMPTY_DICT => self.push_node(Node::Dict(Vec::new()))?,
                EMPTY_SET => self.push_node(Node::Set(Vec::new()))?,
                TUPLE => {
                    let items = self.pop_mark()?;
                    self.tuple_of(items)?;
                }
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = (op - TUPLE1 + 1) as usize;
                    if self.stack.len() < self.fence() + n {
                        return Err(Error::StackUnderflow { at: self.at });
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.tuple_of(items)?;
                }
                LIST | FROZENSET => {
                    let items = self.pop_mark()?;
                    self.count(items.len())?;
                    let node = match op {
                        LIST => Node::List(items),
                        _ => Node::FrozenSet(items),
                    };
                    self.push_node(node)?;
                }
                DICT => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(
                            self.bad("an odd number of items for the dict's keys and values")
                        );
                    }
                    self.count(items.len())?;
                    let entries = items.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect();
                    self.push_node(Node::Dict(entries))?;
                }
                APPEND | APPENDS | SETITEM | SETITEMS | ADDITEMS => {
                    let from = match op {
                        APPEND => self.items_from_top(1)?,
                        SETITEM => self.items_from_top(2)?,
                        _ => self.items_from_mark()?,
                    };
                    let how = match op {
                        APPEND | APPENDS => Extend::Append,
                        SETITEM | SETITEMS => Extend::SetItems,
                        _ => Extend::AddItems,
                    };
                    self.extend_target(from, how)?;
                }
                GET | BINGET | LONG_BINGET => {
                    let index = self.memo_index(op)?;
                    self.memo_get(index)?;
                }
                PUT | BINPUT | LONG_BINPUT => {
                    let index = self.memo_index(op)?;
                    self.memo_put(index)?;
                }
                MEMOIZE => {
                    let index = u32::try_from(self.memo.len).unwrap_or(u32::MAX);
                    self.memo_put(index)?;
                }
                GLOBAL => {
                    let global = self.text_global()?;
                    self.push_atom(global)?;
                }
                STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(Value::Str(m)), Some(Value::Str(n))) =
                        (self.atom(module), self.atom(name))
                    else {
                        let culprit = if matches!(self.atom(module), Some(Value::Str(_))) {
                            name
                        } else {
                            module
                        };
                        return Err(self.wrong(culprit, "a str for STACK_GLOBAL"));
                    };
                    let global = self.global(m, n);
                    self.push_atom(global)?;
                }
                REDUCE => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.expect_tuple(args)?;
                    self.reduce(callable, args)?;
                }
                NEWOBJ => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.expect_tuple(args)?;
                    self.push_object(cls, Call::NewObj, args, None)?;
                }
                NEWOBJ_EX => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.expect_tuple(args)?;
                    if !matches!(self.nodes[kwargs as usize], Node::Dict(_)) {
                        return Err(self.wrong(kwargs, "a dict of keyword arguments"));
                    }
                    self.push_object(cls, Call::NewObjEx, args, Some(kwargs))?;
                }
                INST => {
                    let global = self.text_global()?;
                    let items = self.pop_mark()?;
                    let cls = self.new_node(Node::Atom(global))?;
                    self.inst(cls, items)?;
                }
                OBJ => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err(Error::StackUnderflow { at: self.at });
                    }
                    let cls = items.remove(0);
                    self.inst(cls, items)?;
                }
                BUILD => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    match &mut self.nodes[target as usize] {
                        Node::Object(o) if o.state.is_none() => o.state = Some(state),
                        Node::Object(_) => {
                            return Err(self.bad("a second BUILD on the same object"))
                        }
                        _ => return Err(self.wrong(target, "an object to BUILD")),
                    }
                }
                PERSID => {
                    self.line()?;
                    return Err(Error::PersistentId { at: self.at });
                }
                BINPERSID => return Err(Error::PersistentId { at: self.at }),
                NEXT_BUFFER | READONLY_BUFFER => {
                    return Err(Error::OutOfBandBuffer { at: self.at })
                }
                EXT1 => {
                    let code = self.byte()?.into();
                    return Err(Error::Extension { at: self.at, code });
                }
                EXT2 => {
                    let code = self.u16()?.into();
                    return Err(Error::Extension { at: self.at, code });
                }
                EXT4 => {
                    let code = self.u32()?;
                    return Err(Error::Extension { at: self.at, code });
                }
                _ => return Err(Error::UnknownOpcode { at: self.at }),
            }
        }
    }

    fn text_global(&mut self) -> Result<Value, Error> {
        let module = self.line()?;
        let name = self.line()?;
        let module = self.str_arg(module)?;
        let name = self.str_arg(name)?;
        Ok(self.global(&module, &name))
    }

    /// A global by Python 3's module name: Python 2's names for the same modules
    /// (`__builtin__`, `exceptions`, `copy_reg`) are read as CPython 3 reads them
    /// below protocol 3 (`fix_imports`), and at any protocol, so that a value says
    /// `builtins.set` whichever Python wrote it and the pickler, which writes each
    /// protocol's names, gives back the same value.
    fn global(&self, module: &str, name: &str) -> Value {
        Value::global(canonical_module(module), name)
    }

    /// An `INT`/`LONG` line: decimal digits, an optional sign, spaces around.
    fn decimal(&self, line: &[u8]) -> Result<Value, Error> {
        let text = core::str::from_utf8(line)
            .map(str::trim)
            .map_err(|_| self.bad("the INT/LONG line is no integer"))?;
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.bad("the INT/LONG line is no integer"));
        }
        if digits.len() > MAX_DECIMAL_DIGITS {
            return Err(self.bad("an INT/LONG line of more than 4300 digits"));
        }
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::Int(n));
        }
        BigInt::parse_bytes(text.as_bytes(), 10)
            .map(Value::int)
            .ok_or_else(|| self.bad("the INT/LONG line is no integer"))
    }

    /// `INST` and `OBJ`: `cls(*items)`, the old-style instance call.
    fn inst(&mut self, cls: Id, items: Vec<Id>) -> Result<(), Error> {
        self.count(items.len())?;
        let args = self.new_node(Node::Tuple(items))?;
        self.push_object(cls, Call::Inst, args, None)
    }

    fn push_object(
        &mut self,
        callable: Id,
        call: Call,
        args: Id,
        kwargs: Option<Id>,
    ) -> Result<(), Error> {
        self.push_node(Node::Object(alloc::boxed::Box::new(ObjectNode {
            callable,
            call,
            args,
            kwargs,
            items: Vec::new(),
            entries: Vec::new(),
            state: None,
        })))
    }

    fn tuple_items(&self, id: Id) -> &[Id] {
        match &self.nodes[id as usize] {
            Node::Tuple(items) => items,
            _ => &[],
        }
    }

    /// `REDUCE`: kept as an object, except the calls by which CPython pickles
    /// built-in types under older protocols, which become those types.
    fn reduce(&mut self, callable: Id, args: Id) -> Result<(), Error> {
        let Some(Value::Global(global)) = self.atom(callable) else {
            return self.push_object(callable, Call::Reduce, args, None);
        };
        let global = global.clone();
        let module = canonical_module(&global.module);
        let argv: Vec<Id> = self.tuple_items(args).to_vec();
        let arg = |i: usize| argv.get(i).and_then(|&id| self.atom(id));
        // Python 2.7 names the encoding with its own str, which reads as bytes.
        let latin1 = |v: Option<&Value>| {
            let name: &[u8] = match v {
                Some(Value::Str(e)) => e.as_bytes(),
                Some(Value::Bytes(e)) => e,
                _ => return false,
            };
            matches!(
                name,
                b"latin1" | b"latin-1" | b"latin_1" | b"iso-8859-1" | b"iso8859-1"
            )
        };
        let normalized: Option<Node> = match (module, global.name.as_str(), argv.len()) {
            ("builtins", "set" | "frozenset", 0) => Some(if global.name == "set" {
                Node::Set(Vec::new())
            } else {
                Node::FrozenSet(Vec::new())
            }),
            ("builtins", "set" | "frozenset", 1) => match &self.nodes[argv[0] as usize] {
                Node::List(items)
                | Node::Tuple(items)
                | Node::Set(items)
                | Node::FrozenSet(items) => {
                    let items = items.clone();
                    self.copy(items.len())?;
                    self.count(items.len())?;
                    Some(if global.name == "set" {
                        Node::Set(items)
                    } else {
                        Node::FrozenSet(items)
                    })
                }
                _ => None,
            },
            ("builtins", "bytes", 0) => Some(Node::Atom(Value::bytes(b""))),
            ("builtins", "bytearray", 0) => Some(Node::Atom(Value::ByteArray(Arc::from(&b""[..])))),
            ("builtins", "bytearray", 1) => match arg(0) {
                Some(Value::Bytes(b)) => {
                    let b = b.clone();
                    self.copy(b.len())?;
                    Some(Node::Atom(Value::ByteArray(b)))
                }
                _ => None,
            },
            ("builtins", "bytearray", 2) | ("_codecs", "encode", 2) if latin1(arg(1)) => {
                match arg(0) {
                    Some(Value::Str(s)) => match latin1_bytes(s) {
                        Some(bytes) => {
                            self.copy(bytes.len())?;
                            Some(Node::Atom(if global.name == "encode" {
                                Value::Bytes(bytes.into())
                            } else {
                                Value::ByteArray(bytes.into())
                            }))
                        }
                        None => None,
                    },
                    _ => None,
                }
            }
            ("builtins", "complex", 1 | 2) => {
                let part = |v: Option<&Value>| match v {
                    Some(Value::Float(x)) => Some(*x),
                    Some(Value::Int(n)) => Some(*n as f64),
                    None => Some(0.0),
                    _ => None,
                };
                match (part(arg(0)), part(arg(1))) {
                    (Some(re), Some(im)) => Some(Node::Atom(Value::Complex(re, im))),
                    _ => None,
                }
            }
            ("copyreg", "__newobj__", 1..) => {
                let rest = argv[1..].to_vec();
                self.copy(rest.len())?;
                self.count(rest.len())?;
                let rest = self.new_node(Node::Tuple(rest))?;
                return self.push_object(argv[0], Call::NewObj, rest, None);
            }
            ("copyreg", "__newobj_ex__", 3)
                if matches!(self.nodes[argv[1] as usize], Node::Tuple(_))
                    && matches!(self.nodes[argv[2] as usize], Node::Dict(_)) =>
            {
                return self.push_object(argv[0], Call::NewObjEx, argv[1], Some(argv[2]));
            }
            _ => None,
        };
        match normalized {
            Some(node) => self.push_node(node),
            None => self.push_object(callable, Call::Reduce, args, None),
        }
    }

    /// The arena's graph as a [`Value`], walked depth-first without recursion.
    fn convert(&mut self, root: Id) -> Result<Value, Error> {
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const DONE: u8 = 2;
        let n = self.nodes.len();
        let mut status = alloc::vec![WHITE; n];
        let mut values: Vec<Value> = Vec::new();
        values.resize_with(n, || Value::None);
        let mut labels: BTreeMap<Id, u32> = BTreeMap::new();
        let mut path: Vec<(Id, usize)> = Vec::new();
        // How many times each node is an item of another (or the result).
        let mut refs: Vec<u32> = alloc::vec![0; n];
        refs[root as usize] = 1;
        for node in &self.nodes {
            let mut i = 0;
            while let Some(c) = node.child(i) {
                refs[c as usize] = refs[c as usize].saturating_add(1);
                i += 1;
            }
        }
        let at = self.at;
        let max_depth = self.limits.max_depth;

        // Enters a node: atoms are done at once, containers go on the path.
        let enter = |id: Id,
                     nodes: &mut Vec<Node>,
                     status: &mut Vec<u8>,
                     values: &mut Vec<Value>,
                     path: &mut Vec<(Id, usize)>|
         -> Result<(), Error> {
            let i = id as usize;
            if let Node::Atom(v) = &mut nodes[i] {
                values[i] = v.take();
                status[i] = DONE;
                return Ok(());
            }
            if path.len() >= max_depth {
                return Err(Error::LimitExceeded {
                    at,
                    limit: Limit::Depth,
                    max: max_depth,
                });
            }
            status[i] = GREY;
            path.push((id, 0));
            Ok(())
        };

        enter(root, &mut self.nodes, &mut status, &mut values, &mut path)?;
        while let Some(&mut (id, ref mut next)) = path.last_mut() {
            let node = &self.nodes[id as usize];
            if let Some(child) = node.child(*next) {
                *next += 1;
                match status[child as usize] {
                    WHITE => enter(child, &mut self.nodes, &mut status, &mut values, &mut path)?,
                    GREY => {
                        let next_label = labels.len() as u32;
                        labels.entry(child).or_insert(next_label);
                    }
                    _ => {}
                }
                continue;
            }
            path.pop();
            // A node's last reference takes its value; earlier ones share it.
            let mut get = |c: Id| -> Value {
                let i = c as usize;
                if status[i] != DONE {
                    return Value::BackRef(labels.get(&c).copied().unwrap_or(0));
                }
                refs[i] = refs[i].saturating_sub(1);
                if refs[i] == 0 {
                    values[i].take()
                } else {
                    values[i].clone()
                }
            };
            let node = core::mem::replace(&mut self.nodes[id as usize], Node::Atom(Value::None));
            let mut value = match &node {
                Node::Atom(_) => Value::None,
                Node::List(v) => Value::List(Arc::new(v.iter().map(|&c| get(c)).collect())),
                Node::Tuple(v) => Value::Tuple(Arc::new(v.iter().map(|&c| get(c)).collect())),
                Node::Set(v) => Value::Set(Arc::new(v.iter().map(|&c| get(c)).collect())),
                Node::FrozenSet(v) => {
                    Value::FrozenSet(Arc::new(v.iter().map(|&c| get(c)).collect()))
                }
                Node::Dict(e) => {
                    Value::Dict(Arc::new(e.iter().map(|&(k, v)| (get(k), get(v))).collect()))
                }
                Node::Object(o) => Value::Object(Arc::new(Object {
                    callable: get(o.callable),
                    call: o.call,
                    args: get(o.args),
                    kwargs: o.kwargs.map(&mut get),
                    items: o.items.iter().map(|&c| get(c)).collect(),
                    entries: o.entries.iter().map(|&(k, v)| (get(k), get(v))).collect(),
                    state: o.state.map(&mut get),
                })),
            };
            if let Some(&label) = labels.get(&id) {
                value = Value::Recursive(Arc::new(Recursive { label, value }));
            }
            values[id as usize] = value;
            status[id as usize] = DONE;
        }
        // The root's own reference; a root that is an item of itself is shared.
        Ok(if refs[root as usize] <= 1 {
            values[root as usize].take()
        } else {
            values[root as usize].clone()
        })
    }
}

/// Python's `codecs.escape_decode`, for the inside of a `STRING` argument.
fn escape_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *s.get(i)?;
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut n = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            n = n * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(n as u8);
            }
            b'x' => {
                let hi = hex(*s.get(i)?)?;
                let lo = hex(*s.get(i + 1)?)?;
                i += 2;
                out.push(hi * 16 + lo);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Python's `raw-unicode-escape` decoding, for the `UNICODE` argument: bytes are
/// Latin-1 characters except `\uXXXX` and `\UXXXXXXXX`.
fn raw_unicode_escape_decode(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' || i == s.len() {
            out.push(char::from(c));
            continue;
        }
        let count = match s[i] {
            b'u' => 4,
            b'U' => 8,
            other => {
                out.push('\\');
                out.push(char::from(other));
                i += 1;
                continue;
            }
        };
        i += 1;
        let digits = s.get(i..i + count)?;
        i += count;
        let mut n: u32 = 0;
        for &d in digits {
            n = n * 16 + u32::from(hex(d)?);
        }
        out.push(char::from_u32(n)?);
    }
    Some(out)
}

/// The Latin-1 encoding of `s`, if every character has one.
fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}
