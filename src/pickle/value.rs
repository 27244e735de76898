//! [`Value`]: a Python object as a pickle describes it.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// A Python object as a pickle describes it, kept as data: nothing is imported or
/// called.
///
/// Built-in types get a variant each, with the distinctions Python makes (`bytes` vs
/// `bytearray`, `tuple` vs `list`, `set` vs `frozenset`). A dict keeps its entries in
/// insertion order and its keys may be any value. Everything else is a [`Global`]
/// (a class or function by `module.name`) or an [`Object`]: a call of a global
/// (`REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST`/`OBJ`) and the `BUILD`, `APPEND` and
/// `SETITEM` applied to its result, which is how CPython pickles class instances,
/// namedtuples, datetimes, `Decimal`s, exceptions and the like (see the accessors
/// in [`known`](super::known)).
///
/// # Sharing and cycles
///
/// Containers are held by [`Arc`], so a value is cheap to clone, and an object that a
/// pickle references several times (its memo) is decoded once and shared: the decoded
/// value is as large as the pickle, never larger. A *cycle* (a list that contains
/// itself, an object whose `__dict__` refers back to it) cannot be an `Arc` graph
/// without leaking, so the decoder cuts it: the object that is referred back to is
/// wrapped in a [`Value::Recursive`] with a label, and each reference back to it is a
/// [`Value::BackRef`] with that label. A `BackRef` refers to the `Recursive` of its
/// label that encloses it or comes before it in depth-first order, which is the order
/// [`dumps`](super::dumps) writes, so the pickler turns it back into a memo `GET` and
/// CPython rebuilds the same cycle.
///
/// # Equality
///
/// `==` compares structure: floats by value except that NaN equals NaN and `-0.0`
/// differs from `0.0`, dicts and sets in order, labels by number. Sharing is not
/// compared. Comparing, cloning, dropping and [`Display`](core::fmt::Display) never
/// recurse, so a value nested a million deep is no danger to the stack.
///
/// ```
/// use mpconn::pickle::Value;
/// let v = Value::list(vec![Value::Int(1), Value::str("two"), Value::tuple(vec![])]);
/// assert_eq!(v.to_string(), "[1, 'two', ()]");
/// ```
#[derive(Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits an `i64`.
    Int(i64),
    /// An `int` outside `i64`: always outside, [`Value::int`] picks the variant.
    BigInt(Arc<BigInt>),
    /// A `float`.
    Float(f64),
    /// A `complex`: real and imaginary parts.
    Complex(f64, f64),
    /// A `str` (Python 2: `unicode`).
    Str(Arc<str>),
    /// A `bytes` (Python 2: `str`, which is bytes).
    Bytes(Arc<[u8]>),
    /// A `bytearray`.
    ByteArray(Arc<[u8]>),
    /// A `tuple`.
    Tuple(Arc<Vec<Value>>),
    /// A `list`.
    List(Arc<Vec<Value>>),
    /// A `dict`, in insertion order.
    Dict(Arc<Vec<(Value, Value)>>),
    /// A `set`, in the order pickled.
    Set(Arc<Vec<Value>>),
    /// A `frozenset`, in the order pickled.
    FrozenSet(Arc<Vec<Value>>),
    /// A reference to a module-level class or function, `module.name`.
    Global(Arc<Global>),
    /// A call of a global (or of another value) and what was applied to its result.
    Object(Arc<Object>),
    /// A value that a [`Value::BackRef`] inside it (or after it) refers to: how a
    /// cycle is kept (see the type's documentation).
    Recursive(Arc<Recursive>),
    /// A reference back to the [`Value::Recursive`] with this label.
    BackRef(u32),
}

/// A global: a module-level class or function, as `module.name` (`GLOBAL`,
/// `STACK_GLOBAL`, `INST`).
///
/// ```
/// use mpconn::pickle::Global;
/// let g = Global::new("collections", "OrderedDict");
/// assert!(g.is("collections", "OrderedDict"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Global {
    /// The module, as the pickle names it (`builtins`, or `__builtin__` from a
    /// protocol 0-2 pickle).
    pub module: String,
    /// The qualified name within the module (`Outer.Inner` for a nested class).
    pub name: String,
}

impl Global {
    /// `module.name`.
    ///
    /// ```
    /// # use mpconn::pickle::Global;
    /// assert_eq!(Global::new("uuid", "UUID").to_string(), "uuid.UUID");
    /// ```
    pub fn new(module: impl Into<String>, name: impl Into<String>) -> Global {
        Global {
            module: module.into(),
            name: name.into(),
        }
    }

    /// Whether this is `module.name`, counting Python 2's names for the same modules
    /// as equal (`__builtin__` and `exceptions` for `builtins`, `copy_reg` for
    /// `copyreg`), since a protocol 0-2 pickle from CPython 3 uses them too.
    ///
    /// ```
    /// # use mpconn::pickle::Global;
    /// assert!(Global::new("__builtin__", "set").is("builtins", "set"));
    /// ```
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.name == name && canonical_module(&self.module) == canonical_module(module)
    }
}

/// Python 3's name for a module Python 2 named otherwise (`_compat_pickle`'s few that
/// matter for the objects CPython pickles by itself).
pub(crate) fn canonical_module(module: &str) -> &str {
    match module {
        "__builtin__" | "exceptions" => "builtins",
        "copy_reg" => "copyreg",
        other => other,
    }
}

impl core::fmt::Display for Global {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

/// How an [`Object`]'s callable was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `REDUCE`: `callable(*args)`.
    Reduce,
    /// `NEWOBJ` (or `copyreg.__newobj__`): `cls.__new__(cls, *args)`.
    NewObj,
    /// `NEWOBJ_EX` (or `copyreg.__newobj_ex__`): `cls.__new__(cls, *args, **kwargs)`.
    NewObjEx,
    /// `INST` / `OBJ` (protocols 0 and 1): `cls(*args)`.
    Inst,
}

/// A call kept as data: `callable` called with `args` (and `kwargs`) as [`Call`] says,
/// then the result's `APPEND`s, `SETITEM`s and `BUILD` (its `__setstate__` or
/// `__dict__` update), in the order CPython writes them.
///
/// ```
/// use mpconn::pickle::{Call, Global, Object, Value};
/// let point = Object::new(
///     Value::global("__main__", "Point"),
///     Call::NewObj,
///     vec![Value::Int(1), Value::Int(2)],
/// );
/// assert_eq!(point.class().map(|g| g.name.as_str()), Some("Point"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Object {
    /// What is called: usually a [`Value::Global`].
    pub callable: Value,
    /// How.
    pub call: Call,
    /// The positional arguments: a [`Value::Tuple`].
    pub args: Value,
    /// The keyword arguments of a [`Call::NewObjEx`]: a [`Value::Dict`].
    pub kwargs: Option<Value>,
    /// Items `APPEND`ed to the result (a list subclass).
    pub items: Vec<Value>,
    /// Entries `SETITEM`ed into the result (a dict subclass, `OrderedDict`).
    pub entries: Vec<(Value, Value)>,
    /// The `BUILD` state: usually the instance's `__dict__`, or `(dict, slots)`.
    pub state: Option<Value>,
}

impl Object {
    /// A call of `callable` with positional `args`, nothing applied to it yet.
    ///
    /// ```
    /// # use mpconn::pickle::{Call, Object, Value};
    /// let d = Object::new(Value::global("decimal", "Decimal"), Call::Reduce, vec![Value::str("1.5")]);
    /// assert_eq!(Value::object(d).as_decimal(), Some("1.5"));
    /// ```
    pub fn new(callable: Value, call: Call, args: Vec<Value>) -> Object {
        Object {
            callable,
            call,
            args: Value::tuple(args),
            kwargs: None,
            items: Vec::new(),
            entries: Vec::new(),
            state: None,
        }
    }

    /// The class or function called, when it is a global.
    ///
    /// ```
    /// # use mpconn::pickle::{Call, Object, Value};
    /// let e = Object::new(Value::global("builtins", "ValueError"), Call::Reduce, vec![]);
    /// assert_eq!(e.class().unwrap().to_string(), "builtins.ValueError");
    /// ```
    pub fn class(&self) -> Option<&Global> {
        match &self.callable {
            Value::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The positional arguments, as a slice (empty if `args` is not a tuple).
    ///
    /// ```
    /// # use mpconn::pickle::{Call, Object, Value};
    /// let o = Object::new(Value::None, Call::Reduce, vec![Value::Int(3)]);
    /// assert_eq!(o.args(), &[Value::Int(3)]);
    /// ```
    pub fn args(&self) -> &[Value] {
        match &self.args {
            Value::Tuple(items) => items,
            _ => &[],
        }
    }
}

/// The payload of a [`Value::Recursive`]: a value that [`Value::BackRef`]s of `label`
/// refer to.
///
/// ```
/// use mpconn::pickle::{loads, Value};
/// // l = []; l.append(l)
/// let v = loads(b"\x80\x04]\x94h\x00a.").unwrap();
/// let Value::Recursive(r) = &v else { panic!() };
/// assert_eq!(r.value, Value::list(vec![Value::BackRef(r.label)]));
/// assert_eq!(v.to_string(), "[[...]]");
/// ```
#[derive(Clone, PartialEq)]
pub struct Recursive {
    /// The label its back-references carry.
    pub label: u32,
    /// The value itself.
    pub value: Value,
}

impl Value {
    /// An int, as [`Value::Int`] when it fits an `i64` and [`Value::BigInt`] otherwise.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::int(7u8), Value::Int(7));
    /// assert!(matches!(Value::int(u64::MAX), Value::BigInt(_)));
    /// ```
    pub fn int(n: impl Into<BigInt>) -> Value {
        let n = n.into();
        match n.to_i64() {
            Some(small) => Value::Int(small),
            None => Value::BigInt(Arc::new(n)),
        }
    }

    /// A `str`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::str("é").as_str(), Some("é"));
    /// ```
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// A `bytes`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::bytes(b"\x00").to_string(), "b'\\x00'");
    /// ```
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(Arc::from(b))
    }

    /// A `tuple`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::tuple(vec![Value::None]).to_string(), "(None,)");
    /// ```
    pub fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(Arc::new(items))
    }

    /// A `list`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::list(vec![]).to_string(), "[]");
    /// ```
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A `dict`, entries in this order.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let d = Value::dict(vec![(Value::Int(1), Value::str("a"))]);
    /// assert_eq!(d.to_string(), "{1: 'a'}");
    /// ```
    pub fn dict(entries: Vec<(Value, Value)>) -> Value {
        Value::Dict(Arc::new(entries))
    }

    /// A global reference `module.name`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::global("uuid", "UUID").to_string(), "<class 'uuid.UUID'>");
    /// ```
    pub fn global(module: &str, name: &str) -> Value {
        Value::Global(Arc::new(Global::new(module, name)))
    }

    /// An object.
    ///
    /// ```
    /// # use mpconn::pickle::{Call, Object, Value};
    /// let v = Value::object(Object::new(Value::global("m", "f"), Call::Reduce, vec![]));
    /// assert!(v.as_object().is_some());
    /// ```
    pub fn object(object: Object) -> Value {
        Value::Object(Arc::new(object))
    }

    /// Python's name for this value's type (`"int"`, `"dict"`, ...); for an object,
    /// `"object"`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::Float(1.0).type_name(), "float");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::ByteArray(_) => "bytearray",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Global(_) => "global",
            Value::Object(_) => "object",
            Value::Recursive(r) => r.value.type_name(),
            Value::BackRef(_) => "recursive reference",
        }
    }

    /// The string, if this is a `str`.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::Int(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a tuple, list, set or frozenset.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::list(vec![Value::None]).as_items().map(|i| i.len()), Some(1));
    /// ```
    pub fn as_items(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a dict.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert!(Value::dict(vec![]).as_dict().unwrap().is_empty());
    /// ```
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(entries) => Some(entries),
            _ => None,
        }
    }

    /// The object, if this is one.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert!(Value::None.as_object().is_none());
    /// ```
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The value for `key` in a dict (the first entry equal to it).
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let d = Value::dict(vec![(Value::str("a"), Value::Int(1))]);
    /// assert_eq!(d.get(&Value::str("a")), Some(&Value::Int(1)));
    /// ```
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Moves the value out, leaving `None`: how to take a value apart, since `Value`
    /// has a `Drop` of its own and cannot be destructured by move.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let mut v = Value::Int(3);
    /// assert_eq!(v.take(), Value::Int(3));
    /// assert_eq!(v, Value::None);
    /// ```
    pub fn take(&mut self) -> Value {
        mem::replace(self, Value::None)
    }

    /// Moves this value's children into `out` when this is the last reference to its
    /// container, leaving the container empty; the core of the iterative `Drop`.
    fn drain_children(&mut self, out: &mut Vec<Value>) {
        fn items(arc: &mut Arc<Vec<Value>>, out: &mut Vec<Value>) {
            if let Some(items) = Arc::get_mut(arc) {
                out.extend(items.drain(..).filter(Value::has_children));
            }
        }
        match self {
            Value::Tuple(a) | Value::List(a) | Value::Set(a) | Value::FrozenSet(a) => items(a, out),
            Value::Dict(a) => {
                if let Some(entries) = Arc::get_mut(a) {
                    for (k, v) in entries.drain(..) {
                        out.extend([k, v].into_iter().filter(Value::has_children));
                    }
                }
            }
            Value::Object(a) => {
                if let Some(o) = Arc::get_mut(a) {
                    out.push(o.callable.take());
                    out.push(o.args.take());
                    out.extend(o.kwargs.take());
                    out.extend(o.state.take());
                    out.extend(o.items.drain(..).filter(Value::has_children));
                    for (k, v) in o.entries.drain(..) {
                        out.extend([k, v].into_iter().filter(Value::has_children));
                    }
                }
            }
            Value::Recursive(a) => {
                if let Some(r) = Arc::get_mut(a) {
                    out.push(r.value.take());
                }
            }
            _ => {}
        }
    }

    /// Whether dropping this may drop further values: a container this is the last
    /// reference to.
    fn has_children(&self) -> bool {
        match self {
            Value::Tuple(a) | Value::List(a) | Value::Set(a) | Value::FrozenSet(a) => {
                !a.is_empty() && Arc::strong_count(a) == 1
            }
            Value::Dict(a) => !a.is_empty() && Arc::strong_count(a) == 1,
            Value::Object(a) => Arc::strong_count(a) == 1,
            Value::Recursive(a) => Arc::strong_count(a) == 1,
            _ => false,
        }
    }
}

impl Drop for Value {
    /// Iterative: the children of a value being dropped are moved onto a heap stack
    /// before they are dropped, so depth costs heap, not call stack.
    fn drop(&mut self) {
        if !self.has_children() {
            return;
        }
        let mut stack = Vec::new();
        self.drain_children(&mut stack);
        while let Some(mut value) = stack.pop() {
            value.drain_children(&mut stack);
        }
    }
}

fn same_float(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// What [`Value::identity`] returns: an allocation's address and the kind of value on it.
pub(crate) type Identity = (usize, u8);

impl PartialEq for Value {
    /// Iterative structural equality (see the type's documentation).
    fn eq(&self, other: &Value) -> bool {
        let mut stack: Vec<(&Value, &Value)> = alloc::vec![(self, other)];
        // Pairs of containers already compared (or being compared): a value that
        // shares a subtree many times is compared once per pair, not once per path.
        let mut seen: BTreeSet<(Identity, Identity)> = BTreeSet::new();
        while let Some((a, b)) = stack.pop() {
            if let (Some(pa), Some(pb)) = (a.identity(), b.identity()) {
                if pa == pb || !seen.insert((pa, pb)) {
                    continue;
                }
            }
            match (a, b) {
                (Value::None, Value::None) => {}
                (Value::Bool(x), Value::Bool(y)) if x == y => {}
                (Value::Int(x), Value::Int(y)) if x == y => {}
                (Value::BigInt(x), Value::BigInt(y)) if x == y => {}
                (Value::Float(x), Value::Float(y)) if same_float(*x, *y) => {}
                (Value::Complex(xr, xi), Value::Complex(yr, yi))
                    if same_float(*xr, *yr) && same_float(*xi, *yi) => {}
                (Value::Str(x), Value::Str(y)) if x == y => {}
                (Value::Bytes(x), Value::Bytes(y)) | (Value::ByteArray(x), Value::ByteArray(y))
                    if x == y => {}
                (Value::Tuple(x), Value::Tuple(y))
                | (Value::List(x), Value::List(y))
                | (Value::Set(x), Value::Set(y))
                | (Value::FrozenSet(x), Value::FrozenSet(y))
                    if x.len() == y.len() =>
                {
                    stack.extend(x.iter().zip(y.iter()));
                }
                (Value::Dict(x), Value::Dict(y)) if x.len() == y.len() => {
                    for ((xk, xv), (yk, yv)) in x.iter().zip(y.iter()) {
                        stack.push((xk, yk));
                        stack.push((xv, yv));
                    }
                }
                (Value::Global(x), Value::Global(y)) if x == y => {}
                (Value::Object(x), Value::Object(y)) => {
                    if x.call != y.call
                        || x.kwargs.is_some() != y.kwargs.is_some()
                        || x.state.is_some() != y.state.is_some()
                        || x.items.len() != y.items.len()
                        || x.entries.len() != y.entries.len()
                    {
                        return false;
                    }
                    stack.push((&x.callable, &y.callable));
                    stack.push((&x.args, &y.args));
                    stack.extend(x.kwargs.iter().zip(y.kwargs.iter()));
                    stack.extend(x.state.iter().zip(y.state.iter()));
                    stack.extend(x.items.iter().zip(y.items.iter()));
                    for ((xk, xv), (yk, yv)) in x.entries.iter().zip(y.entries.iter()) {
                        stack.push((xk, yk));
                        stack.push((xv, yv));
                    }
                }
                (Value::Recursive(x), Value::Recursive(y)) if x.label == y.label => {
                    stack.push((&x.value, &y.value));
                }
                (Value::BackRef(x), Value::BackRef(y)) if x == y => {}
                _ => return false,
            }
        }
        true
    }
}

impl Value {
    /// The address of the shared allocation behind a container, string or object,
    /// with the kind of value built on it: what the pickler memoizes by and equality
    /// short-cuts on. The kind is part of it because two kinds may share one
    /// allocation (a `bytearray` read from a `bytes`, a `set` from a list), and
    /// they are still two objects.
    pub(crate) fn identity(&self) -> Option<Identity> {
        Some(match self {
            Value::Str(a) => (Arc::as_ptr(a) as *const u8 as usize, 0),
            Value::Bytes(a) => (Arc::as_ptr(a) as *const u8 as usize, 1),
            Value::ByteArray(a) => (Arc::as_ptr(a) as *const u8 as usize, 2),
            Value::Tuple(a) => (Arc::as_ptr(a) as usize, 3),
            Value::List(a) => (Arc::as_ptr(a) as usize, 4),
            Value::Set(a) => (Arc::as_ptr(a) as usize, 5),
            Value::FrozenSet(a) => (Arc::as_ptr(a) as usize, 6),
            Value::Dict(a) => (Arc::as_ptr(a) as usize, 7),
            Value::Global(a) => (Arc::as_ptr(a) as usize, 8),
            Value::Object(a) => (Arc::as_ptr(a) as usize, 9),
            Value::BigInt(a) => (Arc::as_ptr(a) as usize, 10),
            Value::Recursive(a) => return a.value.identity(),
            _ => return None,
        })
    }

    /// Whether another reference to the same allocation exists.
    pub(crate) fn is_shared(&self) -> bool {
        match self {
            Value::Str(a) => Arc::strong_count(a) > 1,
            Value::Bytes(a) | Value::ByteArray(a) => Arc::strong_count(a) > 1,
            Value::Tuple(a) | Value::List(a) | Value::Set(a) | Value::FrozenSet(a) => {
                Arc::strong_count(a) > 1
            }
            Value::Dict(a) => Arc::strong_count(a) > 1,
            Value::Global(a) => Arc::strong_count(a) > 1,
            Value::Object(a) => Arc::strong_count(a) > 1,
            Value::BigInt(a) => Arc::strong_count(a) > 1,
            _ => false,
        }
    }
}

impl core::fmt::Debug for Value {
    /// The same as [`Display`](core::fmt::Display): Python's `repr`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Debug for Object {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&Value::Object(Arc::new(self.clone())), f)
    }
}

impl core::fmt::Debug for Recursive {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Recursive")
            .field("label", &self.label)
            .field("value", &self.value)
            .finish()
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::int(n)
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize);

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Arc::from(s))
    }
}

impl From<BigInt> for Value {
    fn from(n: BigInt) -> Value {
        Value::int(n)
    }
}

impl From<Vec<Value>> for Value {
    /// A list.
    fn from(items: Vec<Value>) -> Value {
        Value::list(items)
    }
}
