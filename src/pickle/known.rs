//! Accessors and constructors for the objects CPython pickles often: the `datetime`
//! family, `Decimal`, `UUID`, `OrderedDict`, namedtuples, `Enum` members and
//! exceptions.
//!
//! Each reads the [`Object`] in the shapes CPython 2.7 and 3.x write it in, at every
//! protocol (`datetime.datetime(b'...')` with its packed state, `copy_reg.
//! _reconstructor(uuid.UUID, object, None)` then a `BUILD` under protocols 0-1, and so
//! on), and each constructor makes the shape CPython 3 writes, which every CPython
//! reads back as that type.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::value::{Call, Global, Object, Value};

/// A `datetime.datetime`: a date and a time of day, as Python's
/// `datetime.combine(date, time)` makes one (the time's `tzinfo` is the datetime's).
///
/// ```
/// use mpconn::pickle::{known::DateTime, loads};
/// // pickle.dumps(datetime.datetime(2020, 1, 2, 3, 4, 5, 6), 3)
/// let v = loads(b"\x80\x03cdatetime\ndatetime\nq\x00C\n\x07\xe4\x01\x02\x03\x04\x05\x00\x00\x06q\x01\x85q\x02Rq\x03.").unwrap();
/// let dt = v.as_datetime().unwrap();
/// assert_eq!((dt.date.year, dt.date.month, dt.date.day, dt.time.microsecond), (2020, 1, 2, 6));
/// assert_eq!(v.to_string(), "datetime.datetime(2020, 1, 2, 3, 4, 5, 6)");
/// assert_eq!(dt.to_value(), v);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DateTime {
    /// The day.
    pub date: Date,
    /// The time of day, with the `tzinfo` object if aware (`datetime.timezone.utc`
    /// is an object too).
    pub time: Time,
}

/// A `datetime.date`.
///
/// ```
/// use mpconn::pickle::known::Date;
/// let d = Date { year: 2024, month: 2, day: 29 };
/// assert_eq!(d.to_value().as_date(), Some(d));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// 1 to 9999.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

/// A `datetime.time`.
///
/// ```
/// use mpconn::pickle::known::Time;
/// let t = Time { hour: 12, minute: 30, second: 0, microsecond: 5, fold: 0, tzinfo: None };
/// assert_eq!(t.to_value().as_time(), Some(t.clone()));
/// assert_eq!(t.to_value().to_string(), "datetime.time(12, 30, 0, 5)");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Time {
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
    /// 0 to 999,999.
    pub microsecond: u32,
    /// 0 or 1 (PEP 495).
    pub fold: u8,
    /// The `tzinfo` object, if aware.
    pub tzinfo: Option<Value>,
}

/// A `datetime.timedelta`, normalized as Python keeps it.
///
/// ```
/// use mpconn::pickle::known::TimeDelta;
/// let d = TimeDelta { days: -1, seconds: 86399, microseconds: 0 };
/// assert_eq!(d.to_value().to_string(), "datetime.timedelta(days=-1, seconds=86399)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeDelta {
    /// -999,999,999 to 999,999,999.
    pub days: i32,
    /// 0 to 86,399.
    pub seconds: i32,
    /// 0 to 999,999.
    pub microseconds: i32,
}

/// The class an object is an instance of: its callable, or for
/// `copyreg._reconstructor(cls, base, state)` (protocols 0-1) and
/// `copyreg.__newobj__`-style calls, `cls`.
fn class_of(o: &Object) -> Option<&Global> {
    let g = o.class()?;
    if g.is("copyreg", "_reconstructor") {
        return match o.args().first() {
            Some(Value::Global(cls)) => Some(cls),
            _ => None,
        };
    }
    Some(g)
}

fn object_of<'v>(v: &'v Value, module: &str, name: &str) -> Option<&'v Object> {
    let o = v.as_object()?;
    class_of(o).filter(|g| g.is(module, name)).map(|_| o)
}

fn state_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn tz(o: &Object) -> Option<Value> {
    match o.args().get(1) {
        Some(Value::None) | None => None,
        Some(tz) => Some(tz.clone()),
    }
}

fn call(module: &str, name: &str, args: Vec<Value>) -> Value {
    Value::object(Object::new(Value::global(module, name), Call::Reduce, args))
}

impl DateTime {
    /// As CPython 3 pickles it: `datetime.datetime(state[, tzinfo])`.
    ///
    /// ```
    /// # use mpconn::pickle::known::DateTime;
    /// # use mpconn::pickle::known::{Date, Time};
    /// let date = Date { year: 1999, month: 12, day: 31 };
    /// let time = Time { hour: 23, minute: 59, second: 0, microsecond: 0, fold: 1, tzinfo: None };
    /// let dt = DateTime { date, time };
    /// assert_eq!(dt.to_value().as_datetime(), Some(dt));
    /// ```
    pub fn to_value(&self) -> Value {
        // The date's four bytes then the time's six, with the fold in the month's
        // byte instead of the hour's.
        let (date, clock) = (self.date.state(), self.time.clock());
        let mut state = [0; 10];
        state[..4].copy_from_slice(&date);
        state[4..].copy_from_slice(&clock);
        state[2] |= self.time.fold << 7;
        let mut args = alloc::vec![Value::bytes(&state)];
        args.extend(self.time.tzinfo.clone());
        call("datetime", "datetime", args)
    }
}

impl Date {
    /// As CPython 3 pickles it: `datetime.date(state)`.
    ///
    /// ```
    /// # use mpconn::pickle::known::Date;
    /// assert_eq!(Date { year: 1, month: 1, day: 1 }.to_value().to_string(), "datetime.date(1, 1, 1)");
    /// ```
    pub fn to_value(&self) -> Value {
        call("datetime", "date", alloc::vec![Value::bytes(&self.state())])
    }

    /// The four bytes of CPython's state: year (big-endian), month, day.
    fn state(&self) -> [u8; 4] {
        let [hi, lo] = self.year.to_be_bytes();
        [hi, lo, self.month, self.day]
    }

    fn from_state(s: &[u8; 4]) -> Date {
        Date {
            year: u16::from_be_bytes([s[0], s[1]]),
            month: s[2],
            day: s[3],
        }
    }
}

impl Time {
    /// As CPython 3 pickles it: `datetime.time(state[, tzinfo])`.
    ///
    /// ```
    /// # use mpconn::pickle::known::Time;
    /// let t = Time { hour: 1, minute: 2, second: 3, microsecond: 0, fold: 0, tzinfo: None };
    /// assert_eq!(t.to_value().to_string(), "datetime.time(1, 2, 3)");
    /// ```
    pub fn to_value(&self) -> Value {
        let mut state = self.clock();
        state[0] |= self.fold << 7;
        let mut args = alloc::vec![Value::bytes(&state)];
        args.extend(self.tzinfo.clone());
        call("datetime", "time", args)
    }

    /// The six bytes of CPython's state without the fold: hour, minute, second,
    /// microsecond (three bytes, big-endian).
    fn clock(&self) -> [u8; 6] {
        let [_, us @ ..] = self.microsecond.to_be_bytes();
        [self.hour, self.minute, self.second, us[0], us[1], us[2]]
    }

    /// From [`clock`](Self::clock)'s bytes, with the fold and the `tzinfo` kept
    /// elsewhere.
    fn from_clock(s: &[u8; 6], fold: u8, tzinfo: Option<Value>) -> Time {
        Time {
            hour: s[0],
            minute: s[1],
            second: s[2],
            microsecond: u32::from_be_bytes([0, s[3], s[4], s[5]]),
            fold,
            tzinfo,
        }
    }

    /// `hour, minute[, second[, microsecond]][, fold=1])`: the end of its `repr`, and
    /// of a datetime's.
    fn repr_tail(&self, s: &mut String) {
        s.push_str(&format!("{}, {}", self.hour, self.minute));
        if self.microsecond != 0 {
            s.push_str(&format!(", {}, {}", self.second, self.microsecond));
        } else if self.second != 0 {
            s.push_str(&format!(", {}", self.second));
        }
        if self.fold != 0 {
            s.push_str(", fold=1");
        }
        s.push(')');
    }
}

impl TimeDelta {
    /// As CPython pickles it: `datetime.timedelta(days, seconds, microseconds)`.
    ///
    /// ```
    /// # use mpconn::pickle::known::TimeDelta;
    /// let d = TimeDelta { days: 0, seconds: 0, microseconds: 0 };
    /// assert_eq!(d.to_value().to_string(), "datetime.timedelta(0)");
    /// ```
    pub fn to_value(&self) -> Value {
        call(
            "datetime",
            "timedelta",
            alloc::vec![
                Value::Int(self.days.into()),
                Value::Int(self.seconds.into()),
                Value::Int(self.microseconds.into())
            ],
        )
    }
}

fn small(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

impl Value {
    /// The `datetime.datetime` this object is.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::None.as_datetime(), None);
    /// ```
    pub fn as_datetime(&self) -> Option<DateTime> {
        let o = object_of(self, "datetime", "datetime")?;
        let s: &[u8; 10] = state_bytes(o.args().first()?)?.try_into().ok()?;
        let (date, clock) = s.split_at(4);
        let mut date = Date::from_state(date.try_into().ok()?);
        date.month &= 0x7f;
        let time = Time::from_clock(clock.try_into().ok()?, s[2] >> 7, tz(o));
        Some(DateTime { date, time })
    }

    /// The `datetime.date` this object is.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::Int(1).as_date(), None);
    /// ```
    pub fn as_date(&self) -> Option<Date> {
        let o = object_of(self, "datetime", "date")?;
        Some(Date::from_state(
            state_bytes(o.args().first()?)?.try_into().ok()?,
        ))
    }

    /// The `datetime.time` this object is.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::Int(1).as_time(), None);
    /// ```
    pub fn as_time(&self) -> Option<Time> {
        let o = object_of(self, "datetime", "time")?;
        let s: &[u8; 6] = state_bytes(o.args().first()?)?.try_into().ok()?;
        let mut time = Time::from_clock(s, s[0] >> 7, tz(o));
        time.hour &= 0x7f;
        Some(time)
    }

    /// The `datetime.timedelta` this object is.
    ///
    /// ```
    /// # use mpconn::pickle::{known::TimeDelta, Value};
    /// let d = TimeDelta { days: 1, seconds: 2, microseconds: 3 };
    /// assert_eq!(d.to_value().as_timedelta(), Some(d));
    /// ```
    pub fn as_timedelta(&self) -> Option<TimeDelta> {
        let o = object_of(self, "datetime", "timedelta")?;
        match o.args() {
            [d, s, us] => Some(TimeDelta {
                days: small(d)?.try_into().ok()?,
                seconds: small(s)?.try_into().ok()?,
                microseconds: small(us)?.try_into().ok()?,
            }),
            _ => None,
        }
    }

    /// The text of the `decimal.Decimal` this object is (`'1.5'`, `'NaN'`,
    /// `'-Infinity'`, `'1E+3'`).
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::decimal("2.50").as_decimal(), Some("2.50"));
    /// ```
    pub fn as_decimal(&self) -> Option<&str> {
        let o = object_of(self, "decimal", "Decimal")?;
        match o.args() {
            [Value::Str(s)] => Some(s),
            [Value::Bytes(b)] => core::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// A `decimal.Decimal` of this text, as CPython pickles it.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::decimal("1.5").to_string(), "Decimal('1.5')");
    /// ```
    pub fn decimal(text: &str) -> Value {
        call("decimal", "Decimal", alloc::vec![Value::str(text)])
    }

    /// The 128-bit value of the `uuid.UUID` this object is.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::uuid(5).as_uuid(), Some(5));
    /// ```
    pub fn as_uuid(&self) -> Option<u128> {
        let o = object_of(self, "uuid", "UUID")?;
        let state = o.state.as_ref()?;
        // {'int': n} (with 'is_safe' since 3.7), or (None, {'int': n}) from __slots__.
        let dict = match state {
            Value::Tuple(t) if t.len() == 2 => &t[1],
            other => other,
        };
        match dict.get(&Value::str("int"))? {
            Value::Int(n) => u128::try_from(*n).ok(),
            Value::BigInt(n) => n.to_u128(),
            _ => None,
        }
    }

    /// A `uuid.UUID` of this value, as CPython 3 pickles it
    /// (`copyreg.__newobj__(UUID)` then `__setstate__({'int': n})`).
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::uuid(1).to_string(), "UUID('00000000-0000-0000-0000-000000000001')");
    /// ```
    pub fn uuid(n: u128) -> Value {
        let mut o = Object::new(Value::global("uuid", "UUID"), Call::NewObj, Vec::new());
        o.state = Some(Value::dict(alloc::vec![(
            Value::str("int"),
            Value::int(BigInt::from(n))
        )]));
        Value::object(o)
    }

    /// The entries of the `collections.OrderedDict` this object is, in order.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let od = Value::ordered_dict(vec![(Value::Int(1), Value::Int(2))]);
    /// assert_eq!(od.as_ordered_dict(), Some(vec![(&Value::Int(1), &Value::Int(2))]));
    /// ```
    pub fn as_ordered_dict(&self) -> Option<Vec<(&Value, &Value)>> {
        let o = object_of(self, "collections", "OrderedDict")?;
        let mut entries: Vec<(&Value, &Value)> = o.entries.iter().map(|(k, v)| (k, v)).collect();
        // Python 2.7: OrderedDict([[k, v], ...]).
        if let Some(pairs) = o.args().first().and_then(Value::as_items) {
            for pair in pairs {
                match pair.as_items()? {
                    [k, v] => entries.push((k, v)),
                    _ => return None,
                }
            }
        }
        Some(entries)
    }

    /// A `collections.OrderedDict` of these entries, as CPython 3 pickles it.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let od = Value::ordered_dict(vec![(Value::str("a"), Value::Int(1))]);
    /// assert_eq!(od.to_string(), "OrderedDict({'a': 1})");
    /// ```
    pub fn ordered_dict(entries: Vec<(Value, Value)>) -> Value {
        let mut o = Object::new(
            Value::global("collections", "OrderedDict"),
            Call::Reduce,
            Vec::new(),
        );
        o.entries = entries;
        Value::object(o)
    }

    /// The class and fields of an object in the shape a `collections.namedtuple`
    /// (or any tuple subclass without attributes) pickles as: `cls.__new__(cls,
    /// *fields)`, or `copyreg._reconstructor(cls, tuple, fields)` under protocols 0-1.
    /// The field names are not in the pickle.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let p = Value::namedtuple("__main__", "Point", vec![Value::Int(1), Value::Int(2)]);
    /// let (class, fields) = p.as_namedtuple().unwrap();
    /// assert_eq!((class.name.as_str(), fields.len()), ("Point", 2));
    /// ```
    pub fn as_namedtuple(&self) -> Option<(&Global, &[Value])> {
        let o = self.as_object()?;
        if o.state.is_some() || !o.items.is_empty() || !o.entries.is_empty() {
            return None;
        }
        let g = o.class()?;
        match o.call {
            Call::NewObj => Some((g, o.args())),
            Call::Reduce if g.is("copyreg", "_reconstructor") => match o.args() {
                [Value::Global(cls), Value::Global(base), Value::Tuple(fields)]
                    if base.is("builtins", "tuple") =>
                {
                    Some((cls, fields))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// An instance of the namedtuple `module.name` with these fields, as CPython 3
    /// pickles it.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let p = Value::namedtuple("__main__", "Point", vec![Value::Int(1)]);
    /// assert_eq!(p.to_string(), "__main__.Point(1)");
    /// ```
    pub fn namedtuple(module: &str, name: &str, fields: Vec<Value>) -> Value {
        Value::object(Object::new(
            Value::global(module, name),
            Call::NewObj,
            fields,
        ))
    }

    /// The class and value of an object in the shape an `enum.Enum` member pickles
    /// as: `Class(value)`, a call with one argument and nothing applied (so a
    /// `Decimal` is one too; check the class).
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let red = Value::enum_member("__main__", "Color", Value::Int(1));
    /// assert_eq!(red.as_enum().map(|(c, v)| (c.name.as_str(), v)), Some(("Color", &Value::Int(1))));
    /// ```
    pub fn as_enum(&self) -> Option<(&Global, &Value)> {
        let o = self.as_object()?;
        if o.call != Call::Reduce
            || o.state.is_some()
            || !o.items.is_empty()
            || !o.entries.is_empty()
        {
            return None;
        }
        match o.args() {
            [value] => Some((o.class()?, value)),
            _ => None,
        }
    }

    /// The member of enum `module.name` with this value, as CPython pickles it.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::enum_member("m", "E", Value::Int(2)).to_string(), "m.E(2)");
    /// ```
    pub fn enum_member(module: &str, name: &str, value: Value) -> Value {
        call(module, name, alloc::vec![value])
    }

    /// The name and args of a built-in exception (`ValueError('x', 1)` gives
    /// `("ValueError", ['x', 1])`), from CPython 2 or 3.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// let e = Value::exception("KeyError", vec![Value::str("k")]);
    /// assert_eq!(e.as_exception(), Some(("KeyError", &[Value::str("k")][..])));
    /// ```
    pub fn as_exception(&self) -> Option<(&str, &[Value])> {
        let o = self.as_object()?;
        if o.call != Call::Reduce {
            return None;
        }
        let g = o.class()?;
        let builtin = matches!(g.module.as_str(), "builtins" | "exceptions" | "__builtin__");
        let name = g.name.as_str();
        let exceptional = name.ends_with("Error")
            || name.ends_with("Exception")
            || name.ends_with("Warning")
            || matches!(
                name,
                "KeyboardInterrupt"
                    | "SystemExit"
                    | "GeneratorExit"
                    | "StopIteration"
                    | "StopAsyncIteration"
            );
        (builtin && exceptional).then(|| (name, o.args()))
    }

    /// The built-in exception `name(*args)`, as CPython 3 pickles it.
    ///
    /// ```
    /// # use mpconn::pickle::Value;
    /// assert_eq!(Value::exception("ValueError", vec![Value::str("x")]).to_string(), "builtins.ValueError('x')");
    /// ```
    pub fn exception(name: &str, args: Vec<Value>) -> Value {
        call("builtins", name, args)
    }

    /// How the well-known objects without nested values print: as their `repr`.
    pub(crate) fn known_repr(&self) -> Option<String> {
        if let Some(DateTime { date: d, time: t }) = self.as_datetime() {
            if t.tzinfo.is_some() {
                return None;
            }
            let mut s = format!("datetime.datetime({}, {}, {}, ", d.year, d.month, d.day);
            t.repr_tail(&mut s);
            return Some(s);
        }
        if let Some(d) = self.as_date() {
            return Some(format!("datetime.date({}, {}, {})", d.year, d.month, d.day));
        }
        if let Some(t) = self.as_time() {
            if t.tzinfo.is_some() {
                return None;
            }
            let mut s = String::from("datetime.time(");
            t.repr_tail(&mut s);
            return Some(s);
        }
        if let Some(d) = self.as_timedelta() {
            let mut parts = Vec::new();
            if d.days != 0 {
                parts.push(format!("days={}", d.days));
            }
            if d.seconds != 0 {
                parts.push(format!("seconds={}", d.seconds));
            }
            if d.microseconds != 0 {
                parts.push(format!("microseconds={}", d.microseconds));
            }
            if parts.is_empty() {
                parts.push(String::from("0"));
            }
            return Some(format!("datetime.timedelta({})", parts.join(", ")));
        }
        if let Some(text) = self.as_decimal() {
            let mut s = String::from("Decimal(");
            let _ = super::repr::str_repr(text, &mut s);
            s.push(')');
            return Some(s);
        }
        if let Some(n) = self.as_uuid() {
            let h = format!("{n:032x}");
            return Some(format!(
                "UUID('{}-{}-{}-{}-{}')",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ));
        }
        None
    }
}
