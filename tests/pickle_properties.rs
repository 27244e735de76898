//! Properties of the pickle codec: any value (acyclic, or with a cycle) dumped at any
//! protocol loads back as the same value; any bytes load to a value or an error,
//! never a panic, and what loads re-pickles to the same value.

use std::sync::Arc;

use proptest::prelude::*;

use mpconn::pickle::{self, Call, Object, Protocol, Recursive, Value};

fn protocol() -> impl Strategy<Value = Protocol> {
    (0u8..=5).prop_map(|p| Protocol::new(p).unwrap())
}

/// Globals that no pickle reader rewrites (not builtins, copyreg, _codecs).
fn global() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::global("m", "A")),
        Just(Value::global("pkg.mod", "Outer.Inner")),
        Just(Value::global("__main__", "Point")),
        Just(Value::global("é", "ü")),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(Value::int),
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| Value::int(num_bigint::BigInt::from_signed_bytes_le(&b))),
        any::<f64>().prop_map(Value::Float),
        (any::<f64>(), any::<f64>()).prop_map(|(re, im)| Value::Complex(re, im)),
        any::<String>().prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::bytes(&b)),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| Value::ByteArray(b.into())),
        global(),
    ]
}

fn object(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> {
    let call = prop_oneof![
        Just(Call::Reduce),
        Just(Call::NewObj),
        Just(Call::NewObjEx),
        Just(Call::Inst)
    ];
    let items = proptest::collection::vec(inner.clone(), 0..3);
    let entries = proptest::collection::vec((inner.clone(), inner.clone()), 0..3);
    let state = proptest::option::of(inner.clone());
    (
        global(),
        call,
        items.clone(),
        items,
        entries.clone(),
        entries,
        state,
    )
        .prop_map(
            |(callable, call, args, list_items, kwargs, dict_entries, state)| {
                let mut o = Object::new(callable, call, args);
                if call == Call::NewObjEx {
                    o.kwargs = Some(Value::dict(kwargs));
                }
                o.items = list_items;
                o.entries = dict_entries;
                o.state = state;
                Value::object(o)
            },
        )
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::tuple),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::list),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Value::dict),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| Value::Set(Arc::new(v))),
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| Value::FrozenSet(Arc::new(v))),
            // Shared: the same allocation twice.
            inner.clone().prop_map(|v| Value::list(vec![v.clone(), v])),
            object(inner),
        ]
    })
}

/// A value with a cycle at its top, in the shapes CPython makes: a list or dict
/// holding itself, an object whose state refers to it, a tuple reached back through
/// a list.
fn cyclic() -> impl Strategy<Value = Value> {
    (value(), 0..4u8).prop_map(|(v, shape)| {
        let inner = match shape {
            0 => Value::list(vec![v, Value::BackRef(0)]),
            1 => Value::dict(vec![
                (Value::str("self"), Value::BackRef(0)),
                (Value::str("v"), v),
            ]),
            2 => {
                let mut o = Object::new(Value::global("m", "A"), Call::NewObj, vec![]);
                o.state = Some(Value::dict(vec![
                    (Value::str("me"), Value::BackRef(0)),
                    (Value::str("v"), v),
                ]));
                Value::object(o)
            }
            _ => Value::tuple(vec![Value::list(vec![Value::BackRef(0), v])]),
        };
        Value::Recursive(Arc::new(Recursive {
            label: 0,
            value: inner,
        }))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_value_dumped_at_any_protocol_loads_back_the_same(v in value(), p in protocol()) {
        let bytes = pickle::dumps_with(&v, p).unwrap();
        prop_assert_eq!(pickle::loads(&bytes).unwrap(), v);
    }

    #[test]
    fn a_cyclic_value_dumped_at_any_protocol_loads_back_the_same(v in cyclic(), p in protocol()) {
        let bytes = pickle::dumps_with(&v, p).unwrap();
        prop_assert_eq!(pickle::loads(&bytes).unwrap(), v);
    }

    #[test]
    fn any_bytes_load_to_a_value_or_an_error_and_values_re_pickle(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = pickle::loads(&bytes) {
            for p in [Protocol::V0, Protocol::V2, Protocol::V5] {
                if let Ok(again) = pickle::dumps_with(&v, p) {
                    prop_assert_eq!(pickle::loads(&again).unwrap(), v.clone());
                }
            }
        }
    }

    #[test]
    fn what_display_prints_of_built_in_values_parses_back(v in builtin_value()) {
        prop_assert_eq!(pickle::parse_literal(&v.to_string()).unwrap(), v);
    }
}

/// Values of built-in types only, hashable keys for dicts and sets: what the literal
/// syntax covers.
fn builtin_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(Value::int),
        any::<f64>().prop_map(Value::Float),
        (any::<f64>(), any::<f64>()).prop_map(|(re, im)| Value::Complex(re, im)),
        any::<String>().prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| Value::bytes(&b)),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| Value::ByteArray(b.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::tuple),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Value::dict),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|v| Value::Set(Arc::new(v))),
            proptest::collection::vec(inner, 0..3).prop_map(|v| Value::FrozenSet(Arc::new(v))),
        ]
    })
}
