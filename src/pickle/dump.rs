//! The pickler: a [`Value`] as a pickle that CPython's `pickle.loads` turns back into
//! the same object, of the same type, for the chosen protocol.
//!
//! It writes what CPython's own pickler writes for the same object, opcode for opcode
//! where that matters to the reader (`set` as `builtins.set([...])` below protocol 4,
//! `bytes` as `_codecs.encode(..., 'latin1')` below 3, namedtuples and instances as
//! their `NEWOBJ`/`REDUCE` and `BUILD`). It walks the value with an explicit stack, so
//! depth costs heap, and memoizes every shared allocation (an `Arc` referenced more
//! than once) and every [`Value::Recursive`], so shared references stay shared and
//! cycles close. Protocol 4 and 5 output has no `FRAME`s: they are optional, and a
//! reader handed the whole message gains nothing from them.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use num_bigint::{BigInt, Sign};
use num_traits::Zero;

use super::error::Error;
use super::opcode::*;
use super::repr::float_repr;
use super::value::{Call, Global, Identity, Object, Value};

/// A pickle protocol version: what the peer can read.
///
/// ```
/// use mpconn::pickle::Protocol;
/// assert_eq!(Protocol::default(), Protocol::V3);
/// assert_eq!(Protocol::new(5), Some(Protocol::V5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Protocol {
    /// Text protocol, read by every Python.
    V0,
    /// Binary, Python 1.4 and later.
    V1,
    /// Python 2.3 and later: the highest Python 2.7 reads.
    V2,
    /// Python 3.0 and later: `bytes` of its own. The default, which every CPython 3
    /// reads (and `multiprocessing`'s default before 3.8).
    #[default]
    V3,
    /// Python 3.4 and later: sets, large objects, `STACK_GLOBAL`.
    V4,
    /// Python 3.8 and later: `bytearray` of its own.
    V5,
}

impl Protocol {
    /// The protocol of this number, `None` above 5.
    ///
    /// ```
    /// # use mpconn::pickle::Protocol;
    /// assert_eq!(Protocol::new(6), None);
    /// ```
    pub fn new(version: u8) -> Option<Protocol> {
        Some(match version {
            0 => Protocol::V0,
            1 => Protocol::V1,
            2 => Protocol::V2,
            3 => Protocol::V3,
            4 => Protocol::V4,
            5 => Protocol::V5,
            _ => return None,
        })
    }

    /// Its number.
    ///
    /// ```
    /// # use mpconn::pickle::Protocol;
    /// assert_eq!(Protocol::V2.version(), 2);
    /// ```
    pub fn version(self) -> u8 {
        self as u8
    }
}

/// Pickles `value` with the default protocol (3).
///
/// ```
/// use mpconn::pickle::{dumps, loads, Value};
/// let v = Value::dict(vec![(Value::str("a"), Value::list(vec![Value::Int(1)]))]);
/// assert_eq!(loads(&dumps(&v).unwrap()).unwrap(), v);
/// ```
pub fn dumps(value: &Value) -> Result<Vec<u8>, Error> {
    dumps_with(value, Protocol::default())
}

/// Pickles `value` with `protocol`.
///
/// ```
/// use mpconn::pickle::{dumps_with, Protocol, Value};
/// assert_eq!(dumps_with(&Value::Int(1), Protocol::V0).unwrap(), b"I1\n.");
/// assert_eq!(dumps_with(&Value::Int(1), Protocol::V2).unwrap(), b"\x80\x02K\x01.");
/// ```
pub fn dumps_with(value: &Value, protocol: Protocol) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    dump_into(value, protocol, &mut out)?;
    Ok(out)
}

/// Pickles `value` with `protocol`, appending to `out` (on error, `out` may hold part
/// of a pickle).
///
/// ```
/// use mpconn::pickle::{dump_into, Protocol, Value};
/// let mut out = b"prefix".to_vec();
/// dump_into(&Value::None, Protocol::V3, &mut out).unwrap();
/// assert_eq!(out, b"prefix\x80\x03N.");
/// ```
pub fn dump_into(value: &Value, protocol: Protocol, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut pickler = Pickler::new(out, protocol);
    pickler.run(value)?;
    pickler.out.push(STOP);
    Ok(())
}

/// Stands for the kwargs of a call that has none (never written).
static NO_KWARGS: Value = Value::None;

/// CPython's batch size for `APPENDS`/`SETITEMS`/`ADDITEMS`.
const BATCH: usize = 1000;

/// One step of the walk.
enum Task<'v> {
    Save(&'v Value),
    Op(u8),
    /// After a call (`REDUCE`, `NEWOBJ`, ...): memoize its result.
    Memoize(&'v Value),
    /// After a tuple's items: `TUPLE*`, or, if writing the items memoized the tuple
    /// itself (a cycle through it), drop the items and `GET` that copy, as CPython does.
    EndTuple(&'v Value, usize),
    /// After a frozenset's items (protocol 4+): the same for `FROZENSET`.
    EndFrozenSet(&'v Value),
    /// Batches of `items` from `next` on, each ending with `op`.
    Items(&'v [Value], usize, u8),
    Entries(&'v [(Value, Value)], usize),
    /// The end of a back-reference's re-write (see [`Pickler::back_ref`]).
    EndRewrite(u32),
}

pub(super) struct Pickler<'o, 'v> {
    pub(super) out: &'o mut Vec<u8>,
    pub(super) proto: u8,
    /// Memo index of each allocation written, by address.
    memo: BTreeMap<Identity, u32>,
    /// Allocations that must be memoized although not shared: the values of
    /// `Recursive`s.
    must_memo: BTreeSet<Identity>,
    labels: BTreeMap<u32, &'v Value>,
    rewriting: BTreeSet<u32>,
    /// Set from the first `Recursive` on: from there every allocation is memoized, as
    /// CPython memoizes everything, since a back-reference written again (see
    /// [`Pickler::back_ref`]) must find the containers between it and its target.
    memo_all: bool,
}

impl<'o, 'v> Pickler<'o, 'v> {
    /// A pickler appending to `out`, the `PROTO` header written.
    pub(super) fn new(out: &'o mut Vec<u8>, protocol: Protocol) -> Pickler<'o, 'v> {
        let proto = protocol.version();
        if proto >= 2 {
            out.extend_from_slice(&[PROTO, proto]);
        }
        Pickler {
            out,
            proto,
            memo: BTreeMap::new(),
            must_memo: BTreeSet::new(),
            labels: BTreeMap::new(),
            rewriting: BTreeSet::new(),
            memo_all: false,
        }
    }

    fn run(&mut self, root: &'v Value) -> Result<(), Error> {
        let mut tasks: Vec<Task<'v>> = alloc::vec![Task::Save(root)];
        while let Some(task) = tasks.pop() {
            match task {
                Task::Save(value) => self.save(value, &mut tasks)?,
                Task::Op(op) => self.out.push(op),
                Task::Memoize(value) => {
                    // A call whose arguments led back to its result (a cycle through
                    // them) has memoized the result already, in a re-write: drop this
                    // one and GET that, as CPython's save_reduce does.
                    if let Some(index) = self.memoized(value) {
                        self.out.push(POP);
                        self.get(index);
                    } else {
                        self.memoize(value);
                    }
                }
                Task::EndTuple(value, len) => {
                    if let Some(index) = self.memoized(value) {
                        if self.proto >= 2 && (1..=3).contains(&len) {
                            self.out.extend(core::iter::repeat_n(POP, len));
                        } else {
                            self.out.push(POP_MARK);
                        }
                        self.get(index);
                    } else {
                        match len {
                            1..=3 if self.proto >= 2 => self.out.push(TUPLE1 + len as u8 - 1),
                            _ => self.out.push(TUPLE),
                        }
                        self.memoize(value);
                    }
                }
                Task::EndFrozenSet(value) => {
                    if let Some(index) = self.memoized(value) {
                        self.out.push(POP_MARK);
                        self.get(index);
                    } else {
                        self.out.push(FROZENSET);
                        self.memoize(value);
                    }
                }
                Task::Items(items, next, op) => {
                    let batch = if self.proto == 0 { 1 } else { BATCH };
                    let end = (next + batch).min(items.len());
                    if end < items.len() {
                        tasks.push(Task::Items(items, end, op));
                    }
                    let chunk = &items[next..end];
                    if chunk.len() == 1 && op != ADDITEMS {
                        tasks.push(Task::Op(if op == APPENDS { APPEND } else { op }));
                        tasks.push(Task::Save(&chunk[0]));
                    } else if !chunk.is_empty() {
                        tasks.push(Task::Op(op));
                        tasks.extend(chunk.iter().rev().map(Task::Save));
                        tasks.push(Task::Op(MARK));
                    }
                }
                Task::Entries(entries, next) => {
                    let batch = if self.proto == 0 { 1 } else { BATCH };
                    let end = (next + batch).min(entries.len());
                    if end < entries.len() {
                        tasks.push(Task::Entries(entries, end));
                    }
                    let chunk = &entries[next..end];
                    if chunk.len() == 1 {
                        tasks.push(Task::Op(SETITEM));
                        tasks.push(Task::Save(&chunk[0].1));
                        tasks.push(Task::Save(&chunk[0].0));
                    } else if !chunk.is_empty() {
                        tasks.push(Task::Op(SETITEMS));
                        for (k, v) in chunk.iter().rev() {
                            tasks.push(Task::Save(v));
                            tasks.push(Task::Save(k));
                        }
                        tasks.push(Task::Op(MARK));
                    }
                }
                Task::EndRewrite(label) => {
                    self.rewriting.remove(&label);
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn memoize(&mut self, value: &Value) {
        let Some(id) = value.identity() else { return };
        if !self.memo_all && !value.is_shared() && !self.must_memo.contains(&id) {
            return;
        }
        let index = self.memo.len() as u32;
        if self.memo.insert(id, index).is_some() {
            return;
        }
        if self.proto >= 4 {
            self.out.push(MEMOIZE);
        } else {
            self.memo_op([PUT, BINPUT, LONG_BINPUT], index);
        }
    }

    /// The memo index `value` was stored under, if it was.
    fn memoized(&self, value: &Value) -> Option<u32> {
        value.identity().and_then(|id| self.memo.get(&id)).copied()
    }

    /// An empty list or dict: its `EMPTY_` opcode, or under protocol 0 `MARK` and the
    /// opcode that builds it from nothing.
    #[inline]
    pub(super) fn empty_container(&mut self, empty: u8, build: u8) {
        if self.proto >= 1 {
            self.out.push(empty);
        } else {
            self.out.extend_from_slice(&[MARK, build]);
        }
    }

    #[inline]
    fn get(&mut self, index: u32) {
        self.memo_op([GET, BINGET, LONG_BINGET], index);
    }

    /// A memo opcode with its index, in the opcode of the three (text, one byte, four
    /// bytes) that the protocol and the index allow.
    #[inline]
    fn memo_op(&mut self, [text, one, four]: [u8; 3], index: u32) {
        if self.proto == 0 {
            self.out.push(text);
            self.decimal_line(index.into());
        } else if index < 256 {
            self.out.extend_from_slice(&[one, index as u8]);
        } else {
            self.out.push(four);
            self.out.extend_from_slice(&index.to_le_bytes());
        }
    }

    fn decimal_line(&mut self, n: i64) {
        let mut buf = itoa(n);
        buf.push('\n');
        self.out.extend_from_slice(buf.as_bytes());
    }

    fn save(&mut self, value: &'v Value, tasks: &mut Vec<Task<'v>>) -> Result<(), Error> {
        if let Some(index) = self.memoized(value) {
            self.get(index);
            return Ok(());
        }
        match value {
            Value::None => self.out.push(NONE),
            Value::Bool(b) => {
                if self.proto >= 2 {
                    self.out.push(if *b { NEWTRUE } else { NEWFALSE });
                } else {
                    self.out
                        .extend_from_slice(if *b { b"I01\n" } else { b"I00\n" });
                }
            }
            Value::Int(n) => self.int(*n),
            Value::BigInt(n) => self.big_int(n)?,
            Value::Float(x) => self.float(*x),
            Value::Complex(re, im) => {
                self.global("builtins", "complex")?;
                if self.proto >= 2 {
                    self.float(*re);
                    self.float(*im);
                    self.out.push(TUPLE2);
                } else {
                    self.out.push(MARK);
                    self.float(*re);
                    self.float(*im);
                    self.out.push(TUPLE);
                }
                self.out.push(REDUCE);
            }
            Value::Str(s) => {
                self.str(s);
                self.memoize(value);
            }
            Value::Bytes(b) => {
                self.bytes_object(b)?;
                self.memoize(value);
            }
            Value::ByteArray(b) => {
                if self.proto >= 5 {
                    self.out.push(BYTEARRAY8);
                    self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                    self.out.extend_from_slice(b);
                } else {
                    self.global("builtins", "bytearray")?;
                    if b.is_empty() {
                        self.empty_tuple();
                    } else if self.proto >= 3 {
                        self.bytes(b);
                        self.out.push(TUPLE1);
                    } else {
                        self.latin1_pair(b, "latin-1");
                    }
                    self.out.push(REDUCE);
                }
                self.memoize(value);
            }
            Value::Tuple(items) => {
                if items.is_empty() {
                    self.empty_tuple();
                    return Ok(());
                }
                tasks.push(Task::EndTuple(value, items.len()));
                tasks.extend(items.iter().rev().map(Task::Save));
                if self.proto < 2 || items.len() > 3 {
                    tasks.push(Task::Op(MARK));
                }
            }
            Value::List(items) => {
                self.empty_container(EMPTY_LIST, LIST);
                self.memoize(value);
                tasks.push(Task::Items(items, 0, APPENDS));
            }
            Value::Dict(entries) => {
                self.empty_container(EMPTY_DICT, DICT);
                self.memoize(value);
                tasks.push(Task::Entries(entries, 0));
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                let frozen = matches!(value, Value::FrozenSet(_));
                if self.proto >= 4 {
                    if frozen {
                        tasks.push(Task::EndFrozenSet(value));
                        tasks.extend(items.iter().rev().map(Task::Save));
                        tasks.push(Task::Op(MARK));
                    } else {
                        self.out.push(EMPTY_SET);
                        self.memoize(value);
                        tasks.push(Task::Items(items, 0, ADDITEMS));
                    }
                } else {
                    // set([...]): the list is a new object, never shared.
                    self.global("builtins", if frozen { "frozenset" } else { "set" })?;
                    tasks.push(Task::Memoize(value));
                    tasks.push(Task::Op(REDUCE));
                    if self.proto >= 2 {
                        tasks.push(Task::Op(TUPLE1));
                    } else {
                        tasks.push(Task::Op(TUPLE));
                    }
                    tasks.push(Task::Items(items, 0, APPENDS));
                    if self.proto >= 1 {
                        tasks.push(Task::Op(EMPTY_LIST));
                    } else {
                        tasks.push(Task::Op(LIST));
                        tasks.push(Task::Op(MARK));
                    }
                    if self.proto < 2 {
                        tasks.push(Task::Op(MARK));
                    }
                }
            }
            Value::Global(g) => {
                self.global_of(g)?;
                self.memoize(value);
            }
            Value::Object(o) => self.object(value, o, tasks)?,
            Value::Recursive(r) => {
                if let Some(id) = r.value.identity() {
                    self.must_memo.insert(id);
                }
                self.memo_all = true;
                self.labels.insert(r.label, &r.value);
                tasks.push(Task::Save(&r.value));
            }
            Value::BackRef(label) => self.back_ref(*label, tasks)?,
        }
        Ok(())
    }

    /// A back-reference whose target is memoized is a `GET`. One whose target is not
    /// yet (a tuple or frozenset still being written, which CPython memoizes only
    /// once complete) is written again in full, as CPython's pickler does: its items
    /// are memoized by now, so the copy completes, and the outer one is then dropped
    /// for a `GET` of the copy ([`Task::EndTuple`]).
    fn back_ref(&mut self, label: u32, tasks: &mut Vec<Task<'v>>) -> Result<(), Error> {
        let target = *self
            .labels
            .get(&label)
            .ok_or(Error::DanglingBackRef { label })?;
        if let Some(index) = target.identity().and_then(|id| self.memo.get(&id)).copied() {
            self.get(index);
            return Ok(());
        }
        if !self.rewriting.insert(label) {
            return Err(Error::Unpicklable {
                reason:
                    "a cycle through tuples or call arguments only, which no pickle can rebuild",
            });
        }
        tasks.push(Task::EndRewrite(label));
        tasks.push(Task::Save(target));
        Ok(())
    }

    fn object(
        &mut self,
        value: &'v Value,
        o: &'v Object,
        tasks: &mut Vec<Task<'v>>,
    ) -> Result<(), Error> {
        // Pushed in reverse: what follows the call comes first.
        if let Some(state) = &o.state {
            tasks.push(Task::Op(BUILD));
            tasks.push(Task::Save(state));
        }
        if !o.entries.is_empty() {
            tasks.push(Task::Entries(&o.entries, 0));
        }
        if !o.items.is_empty() {
            tasks.push(Task::Items(&o.items, 0, APPENDS));
        }
        tasks.push(Task::Memoize(value));
        let args = match &o.args {
            Value::Tuple(items) => &items[..],
            _ => {
                return Err(Error::Unpicklable {
                    reason: "an object's args must be a tuple",
                })
            }
        };
        let kwargs = match (&o.kwargs, o.call) {
            (Some(kwargs @ Value::Dict(_)), Call::NewObjEx) => kwargs,
            (None, Call::NewObjEx) => {
                return Err(Error::Unpicklable {
                    reason: "a NEWOBJ_EX object needs its kwargs dict",
                })
            }
            (Some(_), _) => {
                return Err(Error::Unpicklable {
                    reason: "kwargs must be a dict, and only a NEWOBJ_EX object has them",
                })
            }
            (None, _) => &NO_KWARGS,
        };
        match o.call {
            Call::Reduce => {
                tasks.push(Task::Op(REDUCE));
                tasks.push(Task::Save(&o.args));
                tasks.push(Task::Save(&o.callable));
            }
            Call::NewObj if self.proto >= 2 => {
                tasks.push(Task::Op(NEWOBJ));
                tasks.push(Task::Save(&o.args));
                tasks.push(Task::Save(&o.callable));
            }
            Call::NewObj => {
                // copyreg.__newobj__(cls, *args), which both Pythons have.
                tasks.push(Task::Op(REDUCE));
                tasks.push(Task::Op(TUPLE));
                tasks.extend(args.iter().rev().map(Task::Save));
                tasks.push(Task::Save(&o.callable));
                tasks.push(Task::Op(MARK));
                self.global("copyreg", "__newobj__")?;
            }
            Call::NewObjEx if self.proto >= 4 => {
                tasks.push(Task::Op(NEWOBJ_EX));
                tasks.push(Task::Save(kwargs));
                tasks.push(Task::Save(&o.args));
                tasks.push(Task::Save(&o.callable));
            }
            Call::NewObjEx => {
                tasks.push(Task::Op(REDUCE));
                tasks.push(Task::Op(if self.proto >= 2 { TUPLE3 } else { TUPLE }));
                tasks.push(Task::Save(kwargs));
                tasks.push(Task::Save(&o.args));
                tasks.push(Task::Save(&o.callable));
                if self.proto < 2 {
                    tasks.push(Task::Op(MARK));
                }
                self.global("copyreg", "__newobj_ex__")?;
            }
            Call::Inst => match (&o.callable, self.proto) {
                (Value::Global(g), 0) => {
                    // INST module\nname\n after the args; written once the args are.
                    let (module, name) = self.global_names(g)?;
                    let mut line = Vec::with_capacity(module.len() + name.len() + 3);
                    line.push(INST);
                    line.extend_from_slice(module.as_bytes());
                    line.push(b'\n');
                    line.extend_from_slice(name.as_bytes());
                    line.push(b'\n');
                    // Ops are single bytes: queue the line byte by byte.
                    tasks.extend(line.into_iter().rev().map(Task::Op));
                    tasks.extend(args.iter().rev().map(Task::Save));
                    tasks.push(Task::Op(MARK));
                }
                _ => {
                    tasks.push(Task::Op(OBJ));
                    tasks.extend(args.iter().rev().map(Task::Save));
                    tasks.push(Task::Save(&o.callable));
                    tasks.push(Task::Op(MARK));
                }
            },
        }
        Ok(())
    }

    /// A `bytes` object: its own opcodes from protocol 3, `_codecs.encode(text,
    /// 'latin1')` (or `bytes()`) below, which both Pythons read as bytes.
    pub(super) fn bytes_object(&mut self, b: &[u8]) -> Result<(), Error> {
        if self.proto >= 3 {
            self.bytes(b);
        } else if b.is_empty() {
            self.global("builtins", "bytes")?;
            self.empty_tuple();
            self.out.push(REDUCE);
        } else {
            self.global("_codecs", "encode")?;
            self.latin1_pair(b, "latin1");
            self.out.push(REDUCE);
        }
        Ok(())
    }

    pub(super) fn empty_tuple(&mut self) {
        if self.proto >= 1 {
            self.out.push(EMPTY_TUPLE);
        } else {
            self.out.extend_from_slice(&[MARK, TUPLE]);
        }
    }

    /// `(str, encoding)` for `_codecs.encode` / `bytearray` below protocol 3.
    fn latin1_pair(&mut self, b: &[u8], encoding: &str) {
        let text: String = b.iter().map(|&c| char::from(c)).collect();
        if self.proto < 2 {
            self.out.push(MARK);
        }
        self.str(&text);
        self.str(encoding);
        self.out.push(if self.proto >= 2 { TUPLE2 } else { TUPLE });
    }

    #[inline]
    pub(super) fn int(&mut self, n: i64) {
        if self.proto >= 1 {
            if (0..=0xff).contains(&n) {
                self.out.extend_from_slice(&[BININT1, n as u8]);
                return;
            }
            if (0..=0xffff).contains(&n) {
                self.out.push(BININT2);
                self.out.extend_from_slice(&(n as u16).to_le_bytes());
                return;
            }
            if let Ok(n) = i32::try_from(n) {
                self.out.push(BININT);
                self.out.extend_from_slice(&n.to_le_bytes());
                return;
            }
        }
        if self.proto >= 2 {
            self.long1(&BigInt::from(n));
        } else if i32::try_from(n).is_ok() {
            self.out.push(INT);
            self.decimal_line(n);
        } else {
            self.out.push(LONG);
            let mut text = itoa(n);
            text.push_str("L\n");
            self.out.extend_from_slice(text.as_bytes());
        }
    }

    pub(super) fn big_int(&mut self, n: &BigInt) -> Result<(), Error> {
        if self.proto >= 2 {
            self.long1(n);
            return Ok(());
        }
        // Protocols 0 and 1 write ints in decimal, which CPython (3.11 and later)
        // and our reader refuse past 4300 digits.
        if n.bits() > 14_300 {
            return Err(too_long());
        }
        let mut text = n.to_str_radix(10);
        if text.trim_start_matches('-').len() > 4300 {
            return Err(too_long());
        }
        self.out.push(LONG);
        text.push_str("L\n");
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// `LONG1`/`LONG4`: little-endian two's complement, as short as CPython's.
    #[inline]
    fn long1(&mut self, n: &BigInt) {
        let bytes = if n.is_zero() {
            Vec::new()
        } else {
            let mut bytes = n.to_signed_bytes_le();
            // num-bigint's encoding is minimal already; CPython's is the same.
            if n.sign() == Sign::Minus && bytes.is_empty() {
                bytes.push(0xff);
            }
            bytes
        };
        if bytes.len() < 256 {
            self.out.extend_from_slice(&[LONG1, bytes.len() as u8]);
        } else {
            self.out.push(LONG4);
            self.out
                .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        }
        self.out.extend_from_slice(&bytes);
    }

    #[inline]
    pub(super) fn float(&mut self, x: f64) {
        if self.proto >= 1 {
            self.out.push(BINFLOAT);
            self.out.extend_from_slice(&x.to_be_bytes());
        } else {
            self.out.push(FLOAT);
            self.out.extend_from_slice(float_repr(x).as_bytes());
            self.out.push(b'\n');
        }
    }

    #[inline]
    pub(super) fn str(&mut self, s: &str) {
        if self.proto == 0 {
            self.out.push(UNICODE);
            raw_unicode_escape(s, self.out);
            self.out.push(b'\n');
        } else if s.len() < 256 && self.proto >= 4 {
            self.out
                .extend_from_slice(&[SHORT_BINUNICODE, s.len() as u8]);
            self.out.extend_from_slice(s.as_bytes());
        } else if let Ok(n) = u32::try_from(s.len()) {
            self.out.push(BINUNICODE);
            self.out.extend_from_slice(&n.to_le_bytes());
            self.out.extend_from_slice(s.as_bytes());
        } else {
            self.out.push(BINUNICODE8);
            self.out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    #[inline]
    pub(super) fn bytes(&mut self, b: &[u8]) {
        if b.len() < 256 {
            self.out.extend_from_slice(&[SHORT_BINBYTES, b.len() as u8]);
        } else if let Ok(n) = u32::try_from(b.len()) {
            self.out.push(BINBYTES);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            self.out.push(BINBYTES8);
            self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        }
        self.out.extend_from_slice(b);
    }

    /// The module and name to write for `g` at this protocol: Python 2's module names
    /// below protocol 3 (CPython 3 maps them back), Python 3's from 3 on (where
    /// CPython maps nothing), as `_compat_pickle` does for the modules that matter.
    fn global_names<'g>(&self, g: &'g Global) -> Result<(&'g str, &'g str), Error> {
        if g.module.contains('\n') || g.name.contains('\n') {
            return Err(Error::Unpicklable {
                reason: "a global's module or name holds a newline",
            });
        }
        let module = match (self.proto, g.module.as_str()) {
            (0..=2, "builtins") => "__builtin__",
            (0..=2, "copyreg") => "copy_reg",
            (3.., "__builtin__" | "exceptions") => "builtins",
            (3.., "copy_reg") => "copyreg",
            (_, m) => m,
        };
        Ok((module, &g.name))
    }

    pub(super) fn global(&mut self, module: &str, name: &str) -> Result<(), Error> {
        self.global_of(&Global::new(module, name))
    }

    fn global_of(&mut self, g: &Global) -> Result<(), Error> {
        let (module, name) = self.global_names(g)?;
        if self.proto >= 4 {
            self.str(module);
            self.str(name);
            self.out.push(STACK_GLOBAL);
        } else {
            self.out.push(GLOBAL);
            self.out.extend_from_slice(module.as_bytes());
            self.out.push(b'\n');
            self.out.extend_from_slice(name.as_bytes());
            self.out.push(b'\n');
        }
        Ok(())
    }
}

/// Python 3's protocol 0 `UNICODE` argument: `raw-unicode-escape` of the string with
/// `\`, NUL, `\n`, `\r` and `\x1a` escaped too, so the line parses back.
fn raw_unicode_escape(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for c in s.chars() {
        let n = u32::from(c);
        match c {
            '\\' | '\0' | '\n' | '\r' | '\x1a' => {
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[HEX[(n >> 4) as usize], HEX[(n & 15) as usize]]);
            }
            _ if n < 0x100 => out.push(n as u8),
            _ if n < 0x10000 => {
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 15) as usize]);
                }
            }
            _ => {
                out.extend_from_slice(b"\\U");
                for shift in [28, 24, 20, 16, 12, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 15) as usize]);
                }
            }
        }
    }
}

fn too_long() -> Error {
    Error::Unpicklable {
        reason: "an int of more than 4300 digits below protocol 2, where ints are decimal",
    }
}

fn itoa(n: i64) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{n}");
    s
}
