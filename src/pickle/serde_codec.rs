//! serde on top of the codec: `Serialize` types to pickles, pickles to `Deserialize`
//! types, through [`Value`].
//!
//! # Mapping
//!
//! | Rust (serde data model) | Python |
//! | --- | --- |
//! | `bool` | `bool` |
//! | every integer, `i128` and `u128` included | `int` (of any size) |
//! | `f32`, `f64` | `float` (an `int` is read too) |
//! | `char`, `str`, `String` | `str` |
//! | bytes (`serialize_bytes`: `serde_bytes`, `&[u8]` fields with it) | `bytes`; `bytes` and `bytearray` are read into any byte buffer, and into a `Vec<u8>` as a sequence |
//! | `None`, `()`, unit structs | `None` |
//! | `Some(x)`, newtype structs | `x` |
//! | sequences (`Vec`, sets) | `list`; `tuple`, `set` and `frozenset` are read too |
//! | tuples, tuple structs | `tuple`; a `list` is read too |
//! | maps | `dict` in the map's order, keys of any type |
//! | structs | `dict` of field names; read from a `dict`, from an instance's `__dict__` (a dataclass, a plain class), or positionally from a namedtuple |
//! | enums: unit variant | `'Variant'` |
//! | enums: other variants | `{'Variant': content}` (content as a newtype, tuple or struct) |
//!
//! Errors say where in the value they happened, as a path of fields and indices
//! (`.jobs[2].name`), and which Python type was found.
//!
//! Deserializing a value that shares a subtree many times copies it for each
//! occurrence, as serde's data model has no sharing; a cycle is an error.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;

use ::serde::de::{self, DeserializeOwned, Visitor};
use ::serde::ser::{self, Serialize};
use ::serde::Deserialize;
use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::dump::{Pickler, Protocol};
use super::error::{Error, Limit};
use super::load::{loads_with, Limits};
use super::opcode::*;
use super::value::{Call, Value};

/// What can go wrong between serde types and pickles.
///
/// ```
/// use mpconn::pickle::{from_slice, SerdeError};
/// let err = from_slice::<Vec<u8>>(b"}.").unwrap_err(); // {}
/// assert!(matches!(&err, SerdeError::Type { expected: "a sequence", .. }));
/// assert_eq!(err.to_string(), "expected a sequence, found Python dict");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SerdeError {
    /// The bytes are no pickle, or the value cannot be pickled.
    Pickle(Error),
    /// The value has a Python type the Rust type cannot take.
    Type {
        /// Where in the value (`.field[3]`; empty at the top).
        path: String,
        /// What the Rust type takes.
        expected: &'static str,
        /// The Python type found (`str`, `object of class module.Name`).
        found: String,
    },
    /// Any other complaint of a `Serialize` or `Deserialize` implementation (a
    /// missing field, an integer out of range, ...), and where.
    Message {
        /// Where in the value.
        path: String,
        /// serde's message.
        message: String,
    },
    /// The value stands for more than [`Limits::max_expanded`] values once its
    /// sharing is expanded (a "billion laughs" pickle), and where the count ran out.
    ///
    /// ```
    /// use mpconn::pickle::{from_value_with, Limit, Limits, SerdeError, Value};
    /// let v = Value::list(vec![Value::Int(1), Value::Int(2)]);
    /// let limits = Limits { max_expanded: 2, ..Limits::default() };
    /// let err = from_value_with::<Vec<i32>>(&v, &limits).unwrap_err();
    /// assert!(matches!(err, SerdeError::LimitExceeded { limit: Limit::Expanded, max: 2, .. }));
    /// assert_eq!(err.path(), "[1]");
    /// ```
    LimitExceeded {
        /// Where in the value.
        path: String,
        /// Which limit ([`Limit::Expanded`]).
        limit: Limit,
        /// Its value.
        max: usize,
    },
}

impl SerdeError {
    fn type_error(expected: &'static str, found: &Value) -> SerdeError {
        SerdeError::Type {
            path: String::new(),
            expected,
            found: python_type(found),
        }
    }

    /// Prefixes the path with a step taken to reach the failing value.
    fn within(mut self, step: Step<'_>) -> SerdeError {
        if let SerdeError::Type { path, .. }
        | SerdeError::Message { path, .. }
        | SerdeError::LimitExceeded { path, .. } = &mut self
        {
            let prefix = match step {
                Step::Index(i) => format!("[{i}]"),
                Step::Key(Value::Str(k)) => format!(".{k}"),
                Step::Key(k) => format!("[{k}]"),
            };
            path.insert_str(0, &prefix);
        }
        self
    }

    /// Where in the value it happened (empty at the top or for a pickle error).
    ///
    /// ```
    /// use mpconn::pickle::{from_value, Value};
    /// let v = Value::list(vec![Value::Int(1), Value::str("x")]);
    /// assert_eq!(from_value::<Vec<i32>>(&v).unwrap_err().path(), "[1]");
    /// ```
    pub fn path(&self) -> &str {
        match self {
            SerdeError::Type { path, .. }
            | SerdeError::Message { path, .. }
            | SerdeError::LimitExceeded { path, .. } => path,
            SerdeError::Pickle(_) => "",
        }
    }
}

enum Step<'a> {
    Index(usize),
    Key(&'a Value),
}

fn python_type(value: &Value) -> String {
    match value {
        Value::Object(o) => match o.class() {
            Some(g) => format!("object of class {g}"),
            None => "object".to_owned(),
        },
        Value::Global(g) => format!("global {g}"),
        other => other.type_name().to_owned(),
    }
}

impl fmt::Display for SerdeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerdeError::Pickle(e) => e.fmt(f),
            SerdeError::Type {
                path,
                expected,
                found,
            } => {
                if !path.is_empty() {
                    write!(f, "at {path}: ")?;
                }
                write!(f, "expected {expected}, found Python {found}")
            }
            SerdeError::Message { path, message } => {
                if !path.is_empty() {
                    write!(f, "at {path}: ")?;
                }
                f.write_str(message)
            }
            SerdeError::LimitExceeded { path, limit, max } => {
                if !path.is_empty() {
                    write!(f, "at {path}: ")?;
                }
                write!(f, "the {} exceeds the limit of {max}", limit.what())
            }
        }
    }
}

impl core::error::Error for SerdeError {}

impl From<Error> for SerdeError {
    fn from(e: Error) -> SerdeError {
        SerdeError::Pickle(e)
    }
}

impl de::Error for SerdeError {
    fn custom<T: fmt::Display>(msg: T) -> SerdeError {
        SerdeError::Message {
            path: String::new(),
            message: msg.to_string(),
        }
    }
}

impl ser::Error for SerdeError {
    fn custom<T: fmt::Display>(msg: T) -> SerdeError {
        de::Error::custom(msg)
    }
}

/// Pickles a `Serialize` value with the default protocol (3).
///
/// ```
/// use mpconn::pickle::{loads, to_vec};
/// let bytes = to_vec(&(1u8, "two", vec![3.5f64])).unwrap();
/// assert_eq!(loads(&bytes).unwrap().to_string(), "(1, 'two', [3.5])");
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, SerdeError> {
    to_vec_with(value, Protocol::default())
}

/// Pickles a `Serialize` value with `protocol`.
///
/// ```
/// use mpconn::pickle::{to_vec_with, Protocol};
/// assert_eq!(to_vec_with(&true, Protocol::V2).unwrap(), b"\x80\x02\x88.");
/// ```
pub fn to_vec_with<T: Serialize + ?Sized>(
    value: &T,
    protocol: Protocol,
) -> Result<Vec<u8>, SerdeError> {
    // Straight to opcodes, no Value in between: serde's data model has no sharing
    // to memoize.
    let mut out = Vec::new();
    let mut pickler = Pickler::new(&mut out, protocol);
    value.serialize(&mut Stream { p: &mut pickler })?;
    pickler.out.push(STOP);
    Ok(out)
}

/// A `Serialize` value as a [`Value`].
///
/// ```
/// use mpconn::pickle::{to_value, Value};
/// assert_eq!(to_value(&u128::MAX).unwrap().to_string(), "340282366920938463463374607431768211455");
/// assert_eq!(to_value(&Some(())).unwrap(), Value::None);
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerdeError> {
    value.serialize(ValueSerializer)
}

/// Reads a `Deserialize` type from a pickle, within the default [`Limits`].
///
/// ```
/// use mpconn::pickle::from_slice;
/// // pickle.dumps({"a": [1, 2]}, 2)
/// let m: std::collections::BTreeMap<String, Vec<u64>> =
///     from_slice(b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02es.").unwrap();
/// assert_eq!(m["a"], [1, 2]);
/// ```
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SerdeError> {
    from_slice_with(bytes, &Limits::default())
}

/// Reads a `Deserialize` type from a pickle, within `limits`.
///
/// ```
/// use mpconn::pickle::{from_slice_with, Limits};
/// assert_eq!(from_slice_with::<Option<u8>>(b"N.", &Limits::default()).unwrap(), None);
/// ```
pub fn from_slice_with<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &Limits,
) -> Result<T, SerdeError> {
    let value = loads_with(bytes, limits)?;
    // Every value of a pickle without shared containers costs at least one byte
    // of it: only sharing can exceed this.
    let expanded = limits.max_expanded.max(bytes.len().saturating_mul(2));
    let budget = Budget::new(expanded);
    T::deserialize(De::root(&value, &budget)?)
}

/// Reads a `Deserialize` type from a [`Value`]; strings and bytes may borrow from it.
///
/// ```
/// use mpconn::pickle::{from_value, Value};
/// let v = Value::tuple(vec![Value::str("a"), Value::bytes(b"\x00")]);
/// let (s, b): (&str, &[u8]) = from_value(&v).unwrap();
/// assert_eq!((s, b), ("a", &b"\x00"[..]));
/// ```
///
/// It visits at most the default [`Limits::max_expanded`] values, a shared one each
/// time it is reached: past that, [`SerdeError::LimitExceeded`].
pub fn from_value<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T, SerdeError> {
    from_value_with(value, &Limits::default())
}

/// Reads a `Deserialize` type from a [`Value`], visiting at most
/// [`Limits::max_expanded`] values (the other limits are the decoder's).
///
/// ```
/// use mpconn::pickle::{from_value_with, Limits, Value};
/// let v = Value::list(vec![Value::Int(1)]);
/// assert_eq!(from_value_with::<Vec<u8>>(&v, &Limits::default()).unwrap(), [1]);
/// ```
pub fn from_value_with<'de, T: Deserialize<'de>>(
    value: &'de Value,
    limits: &Limits,
) -> Result<T, SerdeError> {
    let budget = Budget::new(limits.max_expanded);
    T::deserialize(De::root(value, &budget)?)
}

// ---- Serialize: Rust to Value ----------------------------------------------------

/// serde's seven compound serializer traits differ only in their methods' names: each
/// builder has one inherent `element`, `key`, `value`, `field` and `done`, and these
/// impls route every trait's methods to them. `seq` for the four sequence shapes (seq,
/// tuple, tuple struct, tuple variant), `map` for the three mapping ones (map, struct,
/// struct variant).
macro_rules! compound_impls {
    (seq $ty:ty => $ok:ty) => {
        compound_impls!(@elements $ty, $ok, SerializeSeq, serialize_element);
        compound_impls!(@elements $ty, $ok, SerializeTuple, serialize_element);
        compound_impls!(@elements $ty, $ok, SerializeTupleStruct, serialize_field);
        compound_impls!(@elements $ty, $ok, SerializeTupleVariant, serialize_field);
    };
    (map $ty:ty => $ok:ty) => {
        impl ser::SerializeMap for $ty {
            type Ok = $ok;
            type Error = SerdeError;
            fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerdeError> {
                self.key(key)
            }
            fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
                self.value(value)
            }
            fn end(self) -> Result<$ok, SerdeError> {
                self.done()
            }
        }
        compound_impls!(@fields $ty, $ok, SerializeStruct);
        compound_impls!(@fields $ty, $ok, SerializeStructVariant);
    };
    (@elements $ty:ty, $ok:ty, $trait:ident, $method:ident) => {
        impl ser::$trait for $ty {
            type Ok = $ok;
            type Error = SerdeError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
                self.element(value)
            }
            fn end(self) -> Result<$ok, SerdeError> {
                self.done()
            }
        }
    };
    (@fields $ty:ty, $ok:ty, $trait:ident) => {
        impl ser::$trait for $ty {
            type Ok = $ok;
            type Error = SerdeError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), SerdeError> {
                self.field(key, value)
            }
            fn end(self) -> Result<$ok, SerdeError> {
                self.done()
            }
        }
    };
}

/// The serializer methods for what serde tells apart and Python does not, the same in
/// both serializers: every integer is an `int` (through the serializer's `i64` method,
/// or its `big` one past `i64`), `f32` a `float`, `char` a `str`, `()` and unit structs
/// `None`, `Some(x)` and newtype structs `x`, a unit variant its name, tuple structs
/// tuples, and structs dicts; the other variants go to the serializer's own
/// `newtype_variant`, `tuple_variant` and `struct_variant`, without serde's names and
/// indexes.
macro_rules! python_shapes {
    () => {
        python_shapes!(@widen serialize_i64: serialize_i8(i8), serialize_i16(i16),
            serialize_i32(i32), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32));
        python_shapes!(@widen big: serialize_i128(i128), serialize_u128(u128));
        python_shapes!(@widen serialize_f64: serialize_f32(f32));
        fn serialize_u64(self, v: u64) -> Result<Self::Ok, SerdeError> {
            match i64::try_from(v) {
                Ok(v) => self.serialize_i64(v),
                Err(_) => self.big(v.into()),
            }
        }
        fn serialize_char(self, v: char) -> Result<Self::Ok, SerdeError> {
            self.serialize_str(v.encode_utf8(&mut [0; 4]))
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, SerdeError> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<Self::Ok, SerdeError> {
            self.serialize_none()
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<Self::Ok, SerdeError> {
            self.serialize_none()
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<Self::Ok, SerdeError> {
            self.serialize_str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<Self::Ok, SerdeError> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<Self::Ok, SerdeError> {
            self.newtype_variant(variant, value)
        }
        python_shapes!(@named serialize_tuple_struct => serialize_tuple(): SerializeTupleStruct,
            serialize_struct => serialize_map(Some): SerializeStruct);
        python_shapes!(@variants serialize_tuple_variant => tuple_variant: SerializeTupleVariant,
            serialize_struct_variant => struct_variant: SerializeStructVariant);
    };
    (@named $($method:ident => $to:ident($($wrap:ident)?): $ret:ident),*) => {
        $(fn $method(self, _: &'static str, len: usize) -> Result<Self::$ret, SerdeError> {
            self.$to($($wrap)?(len))
        })*
    };
    (@variants $($method:ident => $to:ident: $ret:ident),*) => {
        $(fn $method(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            len: usize,
        ) -> Result<Self::$ret, SerdeError> {
            self.$to(variant, len)
        })*
    };
    (@widen $to:ident: $($method:ident($t:ty)),*) => {
        $(fn $method(self, v: $t) -> Result<Self::Ok, SerdeError> {
            self.$to(v.into())
        })*
    };
}

struct ValueSerializer;

impl ValueSerializer {
    fn big(self, n: BigInt) -> Result<Value, SerdeError> {
        Ok(Value::int(n))
    }

    fn newtype_variant<T: Serialize + ?Sized>(
        self,
        variant: &str,
        value: &T,
    ) -> Result<Value, SerdeError> {
        Ok(variant_of(variant, value.serialize(self)?))
    }

    fn tuple_variant(self, variant: &'static str, len: usize) -> Result<SeqBuilder, SerdeError> {
        Ok(SeqBuilder::new(Some(len), Shape::Tuple, Some(variant)))
    }

    fn struct_variant(self, variant: &'static str, len: usize) -> Result<MapBuilder, SerdeError> {
        Ok(MapBuilder::new(Some(len), Some(variant)))
    }
}

fn variant_of(variant: &str, content: Value) -> Value {
    Value::dict(alloc::vec![(Value::str(variant), content)])
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerdeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    python_shapes!();

    fn serialize_bool(self, v: bool) -> Result<Value, SerdeError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerdeError> {
        Ok(Value::Int(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerdeError> {
        Ok(Value::Float(v))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerdeError> {
        Ok(Value::str(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerdeError> {
        Ok(Value::bytes(v))
    }
    fn serialize_none(self) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, SerdeError> {
        Ok(SeqBuilder::new(len, Shape::List, None))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, SerdeError> {
        Ok(SeqBuilder::new(Some(len), Shape::Tuple, None))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, SerdeError> {
        Ok(MapBuilder::new(len, None))
    }
}

#[derive(Clone, Copy)]
enum Shape {
    List,
    Tuple,
}

struct SeqBuilder {
    items: Vec<Value>,
    shape: Shape,
    variant: Option<&'static str>,
}

impl SeqBuilder {
    fn new(len: Option<usize>, shape: Shape, variant: Option<&'static str>) -> SeqBuilder {
        // The hint comes from the Rust value, not from a peer; still capped.
        let items = Vec::with_capacity(len.unwrap_or(0).min(4096));
        SeqBuilder {
            items,
            shape,
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        let index = self.items.len();
        self.items.push(
            value
                .serialize(ValueSerializer)
                .map_err(|e| e.within(Step::Index(index)))?,
        );
        Ok(())
    }

    fn done(self) -> Result<Value, SerdeError> {
        let seq = match self.shape {
            Shape::List => Value::List(Arc::new(self.items)),
            Shape::Tuple => Value::Tuple(Arc::new(self.items)),
        };
        Ok(match self.variant {
            Some(variant) => variant_of(variant, seq),
            None => seq,
        })
    }
}

compound_impls!(seq SeqBuilder => Value);

struct MapBuilder {
    entries: Vec<(Value, Value)>,
    key: Option<Value>,
    variant: Option<&'static str>,
}

impl MapBuilder {
    fn new(len: Option<usize>, variant: Option<&'static str>) -> MapBuilder {
        MapBuilder {
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
            variant,
        }
    }

    fn done(self) -> Result<Value, SerdeError> {
        let dict = Value::dict(self.entries);
        Ok(match self.variant {
            Some(variant) => variant_of(variant, dict),
            None => dict,
        })
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerdeError> {
        self.key = Some(key.serialize(ValueSerializer)?);
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        let key = self.key.take().unwrap_or(Value::None);
        self.entry(key, value)
    }

    #[inline]
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerdeError> {
        self.entry(Value::str(key), value)
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Value, value: &T) -> Result<(), SerdeError> {
        let value = value
            .serialize(ValueSerializer)
            .map_err(|e| e.within(Step::Key(&key)))?;
        self.entries.push((key, value));
        Ok(())
    }
}

compound_impls!(map MapBuilder => Value);

// ---- Serialize: Rust straight to a pickle ------------------------------------------

/// The serializer of [`to_vec_with`]: each serde call writes its opcodes.
struct Stream<'a, 'o> {
    p: &'a mut Pickler<'o, 'static>,
}

impl<'a, 'o> Stream<'a, 'o> {
    fn big(&mut self, n: BigInt) -> Result<(), SerdeError> {
        match n.to_i64() {
            Some(small) => self.p.int(small),
            None => self.p.big_int(&n)?,
        }
        Ok(())
    }

    #[inline]
    fn dict_start(&mut self) {
        self.p.empty_container(EMPTY_DICT, DICT);
    }

    /// `{variant: ...}`: the dict and its key; the caller writes the content and
    /// then `SETITEM`.
    fn variant(&mut self, variant: &str) {
        self.dict_start();
        self.p.str(variant);
    }

    fn newtype_variant<T: Serialize + ?Sized>(
        &mut self,
        variant: &str,
        value: &T,
    ) -> Result<(), SerdeError> {
        self.variant(variant);
        value
            .serialize(&mut *self)
            .map_err(|e| e.within(Step::Key(&Value::str(variant))))?;
        self.p.out.push(SETITEM);
        Ok(())
    }

    fn tuple_variant(
        &mut self,
        variant: &str,
        len: usize,
    ) -> Result<Batch<'_, 'a, 'o>, SerdeError> {
        self.variant(variant);
        Ok(Batch::tuple(self, len, &[SETITEM]))
    }

    fn struct_variant(
        &mut self,
        variant: &str,
        _len: usize,
    ) -> Result<Batch<'_, 'a, 'o>, SerdeError> {
        self.variant(variant);
        Ok(Batch::dict(self, &[SETITEM]))
    }
}

/// A list, or a dict's entries, being written: `MARK` at each batch's start, the
/// batch's `APPENDS`/`SETITEMS` after 1,000 items or at the end (protocol 0: one
/// `APPEND`/`SETITEM` an item).
struct Batch<'s, 'a, 'o> {
    s: &'s mut Stream<'a, 'o>,
    in_batch: usize,
    index: usize,
    /// Opcodes that close the whole: `SETITEM` of an enum variant's dict.
    close: &'static [u8],
    kind: BatchKind,
}

#[derive(Clone, Copy, PartialEq)]
enum BatchKind {
    List,
    Dict,
    Tuple(usize),
}

impl<'s, 'a, 'o> Batch<'s, 'a, 'o> {
    #[inline]
    fn list(s: &'s mut Stream<'a, 'o>, close: &'static [u8]) -> Self {
        s.p.empty_container(EMPTY_LIST, LIST);
        Batch {
            s,
            in_batch: 0,
            index: 0,
            close,
            kind: BatchKind::List,
        }
    }

    #[inline]
    fn dict(s: &'s mut Stream<'a, 'o>, close: &'static [u8]) -> Self {
        s.dict_start();
        Batch {
            s,
            in_batch: 0,
            index: 0,
            close,
            kind: BatchKind::Dict,
        }
    }

    fn tuple(s: &'s mut Stream<'a, 'o>, len: usize, close: &'static [u8]) -> Self {
        if len == 0 || s.p.proto < 2 || len > 3 {
            s.p.out.push(MARK);
        }
        Batch {
            s,
            in_batch: 0,
            index: 0,
            close,
            kind: BatchKind::Tuple(len),
        }
    }

    #[inline]
    fn before_item(&mut self) {
        if self.kind != BatchKind::List && self.kind != BatchKind::Dict {
            return;
        }
        if self.s.p.proto >= 1 && self.in_batch == 0 {
            self.s.p.out.push(MARK);
        }
    }

    #[inline]
    fn after_item(&mut self) {
        let (one, many) = match self.kind {
            BatchKind::List => (APPEND, APPENDS),
            BatchKind::Dict => (SETITEM, SETITEMS),
            BatchKind::Tuple(_) => return,
        };
        if self.s.p.proto == 0 {
            self.s.p.out.push(one);
            return;
        }
        self.in_batch += 1;
        if self.in_batch == 1000 {
            self.s.p.out.push(many);
            self.in_batch = 0;
        }
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        self.before_item();
        self.value(value)
    }

    #[inline]
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerdeError> {
        self.before_item();
        key.serialize(&mut *self.s)
    }

    #[inline]
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerdeError> {
        let index = self.index;
        self.index += 1;
        value
            .serialize(&mut *self.s)
            .map_err(|e| e.within(Step::Index(index)))?;
        self.after_item();
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerdeError> {
        self.before_item();
        self.s.p.str(key);
        value
            .serialize(&mut *self.s)
            .map_err(|e| e.within(Step::Key(&Value::str(key))))?;
        self.after_item();
        Ok(())
    }

    fn done(self) -> Result<(), SerdeError> {
        let out = &mut *self.s.p.out;
        match self.kind {
            BatchKind::List if self.in_batch > 0 => out.push(APPENDS),
            BatchKind::Dict if self.in_batch > 0 => out.push(SETITEMS),
            BatchKind::Tuple(0) if self.s.p.proto >= 1 => {
                // MARK TUPLE of nothing is (); EMPTY_TUPLE is shorter.
                out.pop();
                out.push(EMPTY_TUPLE);
            }
            BatchKind::Tuple(n @ 1..=3) if self.s.p.proto >= 2 => out.push(TUPLE1 + n as u8 - 1),
            BatchKind::Tuple(_) => out.push(TUPLE),
            _ => {}
        }
        out.extend_from_slice(self.close);
        Ok(())
    }
}

impl<'s, 'a, 'o> ser::Serializer for &'s mut Stream<'a, 'o> {
    type Ok = ();
    type Error = SerdeError;
    type SerializeSeq = Batch<'s, 'a, 'o>;
    type SerializeTuple = Batch<'s, 'a, 'o>;
    type SerializeTupleStruct = Batch<'s, 'a, 'o>;
    type SerializeTupleVariant = Batch<'s, 'a, 'o>;
    type SerializeMap = Batch<'s, 'a, 'o>;
    type SerializeStruct = Batch<'s, 'a, 'o>;
    type SerializeStructVariant = Batch<'s, 'a, 'o>;

    python_shapes!();

    fn serialize_bool(self, v: bool) -> Result<(), SerdeError> {
        if self.p.proto >= 2 {
            self.p.out.push(if v { NEWTRUE } else { NEWFALSE });
        } else {
            self.p
                .out
                .extend_from_slice(if v { b"I01\n" } else { b"I00\n" });
        }
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), SerdeError> {
        self.p.int(v);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), SerdeError> {
        self.p.float(v);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), SerdeError> {
        self.p.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerdeError> {
        Ok(self.p.bytes_object(v)?)
    }
    fn serialize_none(self) -> Result<(), SerdeError> {
        self.p.out.push(NONE);
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Batch<'s, 'a, 'o>, SerdeError> {
        Ok(Batch::list(self, &[]))
    }
    fn serialize_tuple(self, len: usize) -> Result<Batch<'s, 'a, 'o>, SerdeError> {
        Ok(Batch::tuple(self, len, &[]))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Batch<'s, 'a, 'o>, SerdeError> {
        Ok(Batch::dict(self, &[]))
    }
}

compound_impls!(seq Batch<'_, '_, '_> => ());
compound_impls!(map Batch<'_, '_, '_> => ());

impl Serialize for Value {
    /// A value as the serde data model has it: Python's types as in the module's
    /// mapping, an object as a map of its `BUILD` state (or a sequence of its
    /// arguments), a global as the string `module.name`. Recursive, as serde is.
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq, SerializeTuple};
        match self {
            Value::None => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::BigInt(n) => match (n.to_i128(), n.to_u128()) {
                (Some(n), _) => s.serialize_i128(n),
                (_, Some(n)) => s.serialize_u128(n),
                _ => s.serialize_str(&n.to_string()),
            },
            Value::Float(x) => s.serialize_f64(*x),
            Value::Complex(re, im) => {
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(re)?;
                t.serialize_element(im)?;
                t.end()
            }
            Value::Str(v) => s.serialize_str(v),
            Value::Bytes(b) | Value::ByteArray(b) => s.serialize_bytes(b),
            Value::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for item in items.iter() {
                    t.serialize_element(item)?;
                }
                t.end()
            }
            Value::List(items) | Value::Set(items) | Value::FrozenSet(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Dict(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries.iter() {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Global(g) => s.serialize_str(&g.to_string()),
            Value::Object(o) => match (&o.state, o.entries.is_empty()) {
                (Some(state), _) => state.serialize(s),
                (None, false) => {
                    let mut map = s.serialize_map(Some(o.entries.len()))?;
                    for (k, v) in &o.entries {
                        map.serialize_entry(k, v)?;
                    }
                    map.end()
                }
                (None, true) => o.args.serialize(s),
            },
            Value::Recursive(r) => r.value.serialize(s),
            Value::BackRef(_) => Err(ser::Error::custom(
                "a recursive reference has no serde form",
            )),
        }
    }
}

/// Visitor methods that wrap what they are given in a [`Value`].
macro_rules! visit_as {
    ($($method:ident($t:ty) => $make:expr),* $(,)?) => {$(
        fn $method<E>(self, v: $t) -> Result<Value, E> {
            Ok($make(v))
        }
    )*};
}

impl<'de> Deserialize<'de> for Value {
    /// Any self-describing format's value as a [`Value`]: maps become dicts,
    /// sequences lists, bytes bytes.
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            visit_as!(
                visit_bool(bool) => Value::Bool,
                visit_i64(i64) => Value::Int,
                visit_i128(i128) => Value::int,
                visit_u64(u64) => Value::int,
                visit_u128(u128) => Value::int,
                visit_f64(f64) => Value::Float,
                visit_str(&str) => Value::str,
                visit_bytes(&[u8]) => Value::bytes,
            );
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::None)
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::None)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::list(items))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Value::dict(entries))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- Deserialize: Value to Rust --------------------------------------------------

/// What a missing variant content or map value reads as.
static NONE_VALUE: Value = Value::None;

/// The arguments of a namedtuple-shaped object, or an object's state dict, for a
/// struct or a map.
fn object_fields(value: &Value) -> Option<&Value> {
    let o = value.as_object()?;
    match (&o.state, o.call) {
        (Some(state @ Value::Dict(_)), _) => Some(state),
        // A __slots__ class: (None, {slot: value}) or (dict, slots).
        (Some(Value::Tuple(t)), _) if t.len() == 2 => match (&t[0], &t[1]) {
            (Value::Dict(d), Value::None) if !d.is_empty() => Some(&t[0]),
            (_, slots @ Value::Dict(_)) => Some(slots),
            _ => None,
        },
        _ => None,
    }
}

fn unrecursive(value: &Value) -> &Value {
    match value {
        Value::Recursive(r) => &r.value,
        other => other,
    }
}

/// What is left of [`Limits::max_expanded`] in one deserialization.
struct Budget {
    left: Cell<usize>,
    max: usize,
}

impl Budget {
    fn new(max: usize) -> Budget {
        Budget {
            left: Cell::new(max),
            max,
        }
    }

    /// Counts a visit of `value`: one, and one more per 64 bytes of a str or bytes.
    fn charge(&self, value: &Value) -> Result<(), SerdeError> {
        let cost = 1 + match value {
            Value::Str(s) => s.len() / 64,
            Value::Bytes(b) | Value::ByteArray(b) => b.len() / 64,
            _ => 0,
        };
        match self.left.get().checked_sub(cost) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.left.set(0);
                Err(SerdeError::LimitExceeded {
                    path: String::new(),
                    limit: Limit::Expanded,
                    max: self.max,
                })
            }
        }
    }
}

/// The deserializer: a value and the budget of the whole walk, which every value
/// reached (a shared one each time) is counted against, so that a value whose
/// sharing expands exponentially fails instead of allocating without bound.
#[derive(Clone, Copy)]
struct De<'de, 'b> {
    value: &'de Value,
    budget: &'b Budget,
}

impl<'de, 'b> De<'de, 'b> {
    /// The value at the top, counted.
    fn root(value: &'de Value, budget: &'b Budget) -> Result<De<'de, 'b>, SerdeError> {
        budget.charge(value)?;
        Ok(De { value, budget })
    }

    /// Another view of the same value (the one a `Recursive` wraps), not counted.
    fn same(self, value: &'de Value) -> De<'de, 'b> {
        De {
            value,
            budget: self.budget,
        }
    }

    fn seq(self, items: &'de [Value]) -> Seq<'b, core::slice::Iter<'de, Value>> {
        self.elements(items.iter())
    }

    fn elements<I>(self, items: I) -> Seq<'b, I> {
        Seq {
            items,
            index: 0,
            budget: self.budget,
        }
    }

    fn map(self, entries: impl Iterator<Item = (&'de Value, &'de Value)> + 'de) -> Map<'de, 'b> {
        Map {
            entries: Box::new(entries),
            value: None,
            key: None,
            budget: self.budget,
        }
    }
}

/// A sequence's elements, numbered for the error path: values (each counted against
/// the budget), the bytes of a `bytes` as ints, or a complex's two floats.
struct Seq<'b, I> {
    items: I,
    index: usize,
    budget: &'b Budget,
}

/// What a [`Seq`] can hold.
trait Element<'de> {
    fn deserialize<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
        budget: &Budget,
    ) -> Result<T::Value, SerdeError>;
}

impl<'de> Element<'de> for &'de Value {
    fn deserialize<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
        budget: &Budget,
    ) -> Result<T::Value, SerdeError> {
        seed.deserialize(De::root(self, budget)?)
    }
}

/// Plain Rust elements, through serde's own deserializers of them.
macro_rules! plain_elements {
    ($($t:ty => $de:ident),*) => {$(
        impl<'de> Element<'de> for $t {
            fn deserialize<T: de::DeserializeSeed<'de>>(
                self,
                seed: T,
                _: &Budget,
            ) -> Result<T::Value, SerdeError> {
                seed.deserialize(de::value::$de::new(self))
            }
        }
    )*};
}

plain_elements!(u8 => U8Deserializer, f64 => F64Deserializer);

impl<'de, I> de::SeqAccess<'de> for Seq<'_, I>
where
    I: ExactSizeIterator,
    I::Item: Element<'de>,
{
    type Error = SerdeError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SerdeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        item.deserialize(seed, self.budget)
            .map(Some)
            .map_err(|e| e.within(Step::Index(index)))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'de, 'b> {
    entries: Box<dyn Iterator<Item = (&'de Value, &'de Value)> + 'de>,
    value: Option<&'de Value>,
    key: Option<&'de Value>,
    budget: &'b Budget,
}

impl<'de> de::MapAccess<'de> for Map<'de, '_> {
    type Error = SerdeError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SerdeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.key = Some(k);
        self.value = Some(v);
        De::root(k, self.budget)
            .and_then(|d| seed.deserialize(d))
            .map(Some)
            .map_err(|e| e.within(Step::Key(k)))
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, SerdeError> {
        let value = self.value.take().unwrap_or(&NONE_VALUE);
        let key = self.key.take();
        let de = De::root(value, self.budget);
        de.and_then(|d| seed.deserialize(d)).map_err(|e| match key {
            Some(k) => e.within(Step::Key(k)),
            None => e,
        })
    }
}

struct Enum<'de, 'b> {
    variant: &'de Value,
    content: Option<&'de Value>,
    budget: &'b Budget,
}

impl<'de> de::EnumAccess<'de> for Enum<'de, '_> {
    type Error = SerdeError;
    type Variant = Self;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), SerdeError> {
        let v = seed.deserialize(De::root(self.variant, self.budget)?)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'de, '_> {
    type Error = SerdeError;
    fn unit_variant(self) -> Result<(), SerdeError> {
        match self.content {
            None | Some(Value::None) => Ok(()),
            Some(other) => Err(SerdeError::type_error("None for a unit variant", other)
                .within(Step::Key(self.variant))),
        }
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, SerdeError> {
        self.content(|d| seed.deserialize(d))
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        self.content(|d| de::Deserializer::deserialize_seq(d, visitor))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        self.content(|d| de::Deserializer::deserialize_map(d, visitor))
    }
}

impl<'de, 'b> Enum<'de, 'b> {
    /// The variant's content (`None` after a bare name), read by `read`; an error's
    /// path names the variant.
    fn content<T>(
        self,
        read: impl FnOnce(De<'de, 'b>) -> Result<T, SerdeError>,
    ) -> Result<T, SerdeError> {
        De::root(self.content.unwrap_or(&NONE_VALUE), self.budget)
            .and_then(read)
            .map_err(|e| e.within(Step::Key(self.variant)))
    }
}

macro_rules! int_method {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
            match unrecursive(self.value) {
                Value::Int(n) => visitor.visit_i64(*n),
                // u64 first: serde's u64 visitor takes no i128.
                Value::BigInt(n) => match (n.to_u64(), n.to_i128(), n.to_u128()) {
                    (Some(n), _, _) => visitor.visit_u64(n),
                    (_, Some(n), _) => visitor.visit_i128(n),
                    (_, _, Some(n)) => visitor.visit_u128(n),
                    _ => Err(de::Error::custom(format_args!("int {} is out of range of any Rust integer", n))),
                },
                other => Err(SerdeError::type_error("an int", other)),
            }
        }
    )*};
}

/// The deserializer methods that are one expression each.
macro_rules! one_liners {
    ($this:ident, $visitor:ident; $(
        $method:ident($($arg:ident: $ty:ty),*) => $body:expr;
    )*) => {$(
        fn $method<V: Visitor<'de>>(
            $this,
            $($arg: $ty,)*
            $visitor: V,
        ) -> Result<V::Value, SerdeError> {
            $body
        }
    )*};
}

/// The deserializer methods that take the shapes of value they list, after any
/// `Recursive` wrapper, and refuse the rest with a type error naming what they wanted.
macro_rules! shapes {
    ($this:ident, $visitor:ident; $(
        $method:ident($($arg:ident: $ty:ty),*) $expected:literal {
            $($pat:pat $(if $guard:expr)? => $take:expr),* $(,)?
        }
    )*) => {
        one_liners!($this, $visitor; $(
            $method($($arg: $ty),*) => match unrecursive($this.value) {
                $($pat $(if $guard)? => $take,)*
                other => Err(SerdeError::type_error($expected, other)),
            };
        )*);
    };
}

impl<'de> de::Deserializer<'de> for De<'de, '_> {
    type Error = SerdeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        match self.value {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(n) => visitor.visit_i64(*n),
            Value::BigInt(_) => self.deserialize_i128(visitor),
            Value::Float(x) => visitor.visit_f64(*x),
            v @ Value::Complex(..) => {
                Err(SerdeError::type_error("a value serde has a type for", v))
            }
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_borrowed_bytes(b),
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => visitor.visit_seq(self.seq(items)),
            Value::Dict(_) | Value::Object(_) => self.deserialize_map(visitor),
            Value::Global(g) => visitor.visit_str(&g.to_string()),
            Value::Recursive(r) => self.same(&r.value).deserialize_any(visitor),
            v @ Value::BackRef(_) => Err(SerdeError::type_error("a value without cycles", v)),
        }
    }

    int_method!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    shapes!(self, visitor;
        deserialize_bool() "a bool" {
            Value::Bool(b) => visitor.visit_bool(*b),
        }
        deserialize_f64() "a float" {
            Value::Float(x) => visitor.visit_f64(*x),
            Value::Int(n) => visitor.visit_i64(*n),
            Value::BigInt(n) => visitor.visit_f64(n.to_f64().unwrap_or(f64::NAN)),
        }
        deserialize_char() "a str of one character" {
            Value::Str(s) => visitor.visit_borrowed_str(s),
        }
        // Python 2's str is bytes: text when it is UTF-8.
        deserialize_str() "a str" {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
        }
        deserialize_bytes() "bytes" {
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_borrowed_bytes(b),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            v @ (Value::List(_) | Value::Tuple(_)) => self.same(v).deserialize_seq(visitor),
        }
        deserialize_seq() "a sequence" {
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => visitor.visit_seq(self.seq(items)),
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_seq(self.elements(b.iter().copied())),
            v @ Value::Object(_) => match v.as_namedtuple() {
                Some((_, fields)) => visitor.visit_seq(self.seq(fields)),
                None => Err(SerdeError::type_error("a sequence", v)),
            },
        }
        deserialize_enum(_name: &'static str, _variants: &'static [&'static str])
            "a str or a dict of one entry for an enum" {
            v @ Value::Str(_) => visitor.visit_enum(Enum {
                variant: v,
                content: None,
                budget: self.budget,
            }),
            Value::Dict(entries) if entries.len() == 1 => visitor.visit_enum(Enum {
                variant: &entries[0].0,
                content: Some(&entries[0].1),
                budget: self.budget,
            }),
        }
    );

    one_liners!(self, visitor;
        deserialize_f32() => self.deserialize_f64(visitor);
        deserialize_string() => self.deserialize_str(visitor);
        deserialize_byte_buf() => self.deserialize_bytes(visitor);
        deserialize_option() => match self.value {
            Value::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        };
        deserialize_unit() => match self.value {
            Value::None => visitor.visit_unit(),
            other => Err(SerdeError::type_error("None", other)),
        };
        deserialize_unit_struct(_name: &'static str) => self.deserialize_unit(visitor);
        deserialize_newtype_struct(_name: &'static str) => visitor.visit_newtype_struct(self);
        deserialize_tuple(_len: usize) => match unrecursive(self.value) {
            Value::Complex(re, im) => visitor.visit_seq(self.elements([*re, *im].into_iter())),
            other => self.same(other).deserialize_seq(visitor),
        };
        deserialize_tuple_struct(_name: &'static str, len: usize) =>
            self.deserialize_tuple(len, visitor);
        deserialize_identifier() => match self.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Int(n) => visitor.visit_i64(*n),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            other => Err(SerdeError::type_error("a str naming a field or variant", other)),
        };
        deserialize_ignored_any() => visitor.visit_unit();
    );

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        let value = unrecursive(self.value);
        match value {
            Value::Dict(entries) => {
                visitor.visit_map(self.map(entries.iter().map(|(k, v)| (k, v))))
            }
            Value::Object(o) => {
                if let Some(entries) = value.as_ordered_dict() {
                    return visitor.visit_map(self.map(entries.into_iter()));
                }
                if let Some(Value::Dict(entries)) = object_fields(value) {
                    return visitor.visit_map(self.map(entries.iter().map(|(k, v)| (k, v))));
                }
                if !o.entries.is_empty() && o.call != Call::Inst {
                    return visitor.visit_map(self.map(o.entries.iter().map(|(k, v)| (k, v))));
                }
                Err(SerdeError::type_error("a dict", value))
            }
            other => Err(SerdeError::type_error("a dict", other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        let value = unrecursive(self.value);
        if let Some((_, fields)) = value.as_namedtuple() {
            return visitor.visit_seq(self.seq(fields));
        }
        match value {
            Value::Dict(_) | Value::Object(_) => self.same(value).deserialize_map(visitor),
            Value::Tuple(items) | Value::List(items) => visitor.visit_seq(self.seq(items)),
            other => Err(SerdeError::type_error("a dict", other)),
        }
    }
}

/// A `&Value` deserializes within the default [`Limits::max_expanded`], as
/// [`from_value`] does.
macro_rules! forward_to_de {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, SerdeError> {
            let budget = Budget::new(Limits::default().max_expanded);
            De::root(self, &budget)?.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &'de Value {
    type Error = SerdeError;

    forward_to_de!(
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_str(),
        deserialize_string(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(),
        deserialize_ignored_any(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;

    #[derive(::serde::Serialize, ::serde::Deserialize, Debug, PartialEq)]
    struct Job {
        id: u64,
        name: String,
        #[serde(with = "bytes_field")]
        payload: Vec<u8>,
        tags: Vec<(i32, char)>,
        big: i128,
        huge: u128,
        kind: Kind,
        other: Kind,
        maybe: Option<f32>,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, Debug, PartialEq)]
    enum Kind {
        Plain,
        Sized(u32),
        Pair(u8, u8),
        Named { a: bool },
    }

    mod bytes_field {
        pub fn serialize<S: ::serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
        pub fn deserialize<'de, D: ::serde::Deserializer<'de>>(
            d: D,
        ) -> Result<alloc::vec::Vec<u8>, D::Error> {
            struct V;
            impl ::serde::de::Visitor<'_> for V {
                type Value = alloc::vec::Vec<u8>;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_bytes(V)
        }
    }

    fn job() -> Job {
        Job {
            id: u64::MAX,
            name: "n".into(),
            payload: vec![0, 255],
            tags: vec![(-1, 'x')],
            big: i128::MIN,
            huge: u128::MAX,
            kind: Kind::Plain,
            other: Kind::Named { a: true },
            maybe: Some(1.5),
        }
    }

    #[test]
    fn a_struct_round_trips_through_every_protocol() {
        for p in 0..=5 {
            let bytes = to_vec_with(&job(), Protocol::new(p).unwrap()).unwrap();
            assert_eq!(from_slice::<Job>(&bytes).unwrap(), job());
        }
    }

    #[test]
    fn writing_straight_to_opcodes_gives_the_value_that_to_value_gives() {
        // Past one batch of 1,000, with less to spare under Miri.
        let n = if cfg!(miri) { 1001 } else { 2500 };
        let many: Vec<u32> = (0..n).collect();
        let map: BTreeMap<u32, ()> = (0..n).map(|i| (i, ())).collect();
        for p in 0..=5 {
            let p = Protocol::new(p).unwrap();
            let direct = super::super::loads(&to_vec_with(&job(), p).unwrap()).unwrap();
            assert_eq!(direct, to_value(&job()).unwrap(), "{p:?}");
            let direct = super::super::loads(
                &to_vec_with(&(many.clone(), &map, (), (1,), (1, 2, 3, 4)), p).unwrap(),
            )
            .unwrap();
            assert_eq!(
                direct,
                to_value(&(many.clone(), &map, (), (1,), (1, 2, 3, 4))).unwrap(),
                "{p:?}"
            );
            let kinds = [
                Kind::Sized(1),
                Kind::Pair(1, 2),
                Kind::Plain,
                Kind::Named { a: false },
            ];
            let direct = super::super::loads(&to_vec_with(&kinds, p).unwrap()).unwrap();
            assert_eq!(direct, to_value(&kinds).unwrap(), "{p:?}");
        }
    }

    #[test]
    fn serde_types_map_to_the_python_types_of_the_table() {
        let v = to_value(&job()).unwrap();
        assert_eq!(
            v.to_string(),
            "{'id': 18446744073709551615, 'name': 'n', 'payload': b'\\x00\\xff', 'tags': [(-1, 'x')], \
             'big': -170141183460469231731687303715884105728, 'huge': 340282366920938463463374607431768211455, \
             'kind': 'Plain', 'other': {'Named': {'a': True}}, 'maybe': 1.5}"
        );
        assert_eq!(
            to_value(&Kind::Sized(3)).unwrap().to_string(),
            "{'Sized': 3}"
        );
        assert_eq!(
            to_value(&Kind::Pair(1, 2)).unwrap().to_string(),
            "{'Pair': (1, 2)}"
        );
        let mut m = BTreeMap::new();
        m.insert((1, 2), "t");
        assert_eq!(to_value(&m).unwrap().to_string(), "{(1, 2): 't'}");
    }

    #[test]
    fn python_bytes_read_into_a_vec_of_u8_and_lists_of_ints_into_bytes() {
        assert_eq!(from_value::<Vec<u8>>(&Value::bytes(b"ab")).unwrap(), b"ab");
        let v = Value::ByteArray(Arc::from(&b"\x01"[..]));
        assert_eq!(from_value::<Vec<u8>>(&v).unwrap(), [1]);
    }

    #[test]
    fn errors_name_the_path_and_the_python_type() {
        let mut v = to_value(&job()).unwrap();
        let Value::Dict(entries) = &mut v else {
            panic!()
        };
        Arc::make_mut(entries)[3].1 =
            Value::list(vec![Value::tuple(vec![Value::Int(1), Value::Float(2.0)])]);
        let e = from_value::<Job>(&v).unwrap_err();
        assert_eq!(e.path(), ".tags[0][1]");
        assert_eq!(
            e.to_string(),
            "at .tags[0][1]: expected a str of one character, found Python float"
        );
        let e = from_value::<Vec<u8>>(&Value::list(vec![Value::Int(300)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at [0]: invalid value: integer `300`, expected u8"
        );
        let obj = Value::namedtuple("m", "P", vec![]);
        let e = from_value::<String>(&obj).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a str, found Python object of class m.P"
        );
    }

    #[test]
    fn structs_read_from_instances_and_namedtuples() {
        #[derive(::serde::Deserialize, Debug, PartialEq)]
        struct P {
            x: i32,
            y: String,
        }
        let nt = Value::namedtuple("m", "P", vec![Value::Int(1), Value::str("a")]);
        assert_eq!(
            from_value::<P>(&nt).unwrap(),
            P {
                x: 1,
                y: "a".into()
            }
        );
        let mut o = Object::new(Value::global("m", "C"), Call::NewObj, vec![]);
        o.state = Some(Value::dict(vec![
            (Value::str("x"), Value::Int(2)),
            (Value::str("y"), Value::str("b")),
        ]));
        assert_eq!(
            from_value::<P>(&Value::object(o)).unwrap(),
            P {
                x: 2,
                y: "b".into()
            }
        );
        let od = Value::ordered_dict(vec![(Value::str("k"), Value::Int(1))]);
        assert_eq!(from_value::<BTreeMap<String, i32>>(&od).unwrap()["k"], 1);
    }

    #[test]
    fn value_itself_is_serialize_and_deserialize() {
        let v = Value::dict(vec![(
            Value::str("a"),
            Value::list(vec![Value::Int(1), Value::None]),
        )]);
        let back: Value = from_value(&v).unwrap();
        assert_eq!(back, v);
        assert_eq!(to_value(&v).unwrap(), v);
    }

    use super::super::value::Object;
}
