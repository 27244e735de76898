//! Unit tests per opcode family, with pickles CPython 3.13 and 2.7 wrote.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use mpconn_test_support::pickles::{billion_laughs, nested_lists, set_laughs};

const ALL: [Protocol; 6] = [
    Protocol::V0,
    Protocol::V1,
    Protocol::V2,
    Protocol::V3,
    Protocol::V4,
    Protocol::V5,
];

/// Past one batch of `APPENDS`/`SETITEMS` (1,000), with less to spare under Miri.
const BATCHED: i64 = if cfg!(miri) { 1001 } else { 2500 };

fn repr(pickle: &[u8]) -> alloc::string::String {
    loads(pickle).unwrap().to_string()
}

/// Dumps at every protocol and loads back: the same value.
fn round_trips(value: &Value) {
    for protocol in ALL {
        let bytes = dumps_with(value, protocol).unwrap();
        let back = loads(&bytes).unwrap_or_else(|e| panic!("{protocol:?}: {e} in {bytes:?}"));
        assert_eq!(&back, value, "{protocol:?}: {bytes:?}");
    }
}

fn err(pickle: &[u8]) -> Error {
    loads(pickle).unwrap_err()
}

/// Loading `pickle` fails with an error that matches `pattern`.
macro_rules! assert_err {
    ($pickle:expr, $pattern:pat) => {
        let error = err($pickle);
        assert!(matches!(error, $pattern), "{error:?}");
    };
}

#[test]
fn nested_containers_decode_at_every_protocol_cpython_writes() {
    let expected = "{'a': [1, (2, 3.5)], 'b': None}";
    assert_eq!(
        repr(b"(dp0\nVa\np1\n(lp2\nI1\na(I2\nF3.5\ntp3\nasVb\np4\nNs."),
        expected
    );
    assert_eq!(
        repr(b"}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01(K\x02G@\x0c\x00\x00\x00\x00\x00\x00tq\x03eX\x01\x00\x00\x00bq\x04Nu."),
        expected
    );
    assert_eq!(
        repr(b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02G@\x0c\x00\x00\x00\x00\x00\x00\x86q\x03eX\x01\x00\x00\x00bq\x04Nu."),
        expected
    );
    assert_eq!(
        repr(b"\x80\x05\x95!\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01K\x02G@\x0c\x00\x00\x00\x00\x00\x00\x86\x94e\x8c\x01b\x94Nu."),
        expected
    );
}

#[test]
fn ints_of_every_size_decode_from_text_and_binary_opcodes() {
    let text = b"(lp0\nI0\naI-1\naI2147483647\naL2147483648L\naL-9223372036854775809L\naL18446744073709551615L\na.";
    let binary = b"\x80\x02]q\x00(K\x00J\xff\xff\xff\xffJ\xff\xff\xff\x7f\x8a\x05\x00\x00\x00\x80\x00\x8a\t\xff\xff\xff\xff\xff\xff\xff\x7f\xff\x8a\t\xff\xff\xff\xff\xff\xff\xff\xff\x00e.";
    let expected = "[0, -1, 2147483647, 2147483648, -9223372036854775809, 18446744073709551615]";
    assert_eq!(repr(text), expected);
    assert_eq!(repr(binary), expected);
    assert_eq!(loads(b"M\xff\xff.").unwrap(), Value::Int(65535));
    assert_eq!(loads(b"\x80\x02\x8a\x00.").unwrap(), Value::Int(0));
    assert_eq!(
        loads(b"\x8b\x01\x00\x00\x00\x80.").unwrap(),
        Value::Int(-128)
    );
    // Python 2's protocol 0 booleans.
    assert_eq!(loads(b"I01\n.").unwrap(), Value::Bool(true));
    assert_eq!(loads(b"I00\n.").unwrap(), Value::Bool(false));
    assert_eq!(loads(b"I1\n.").unwrap(), Value::Int(1));
}

#[test]
fn ints_round_trip_at_every_protocol() {
    let big = |s: &str| Value::int(num_bigint::BigInt::parse_bytes(s.as_bytes(), 10).unwrap());
    round_trips(&Value::list(vec![
        Value::Int(0),
        Value::Int(255),
        Value::Int(256),
        Value::Int(65536),
        Value::Int(-1),
        Value::Int(i32::MIN.into()),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::int(u64::MAX),
        Value::int(i128::MIN),
        big("-10715086071862673209484250490600018105614048117055336074437503883703510511249361224931983788156958581275946729175531468251871452856923140435984577574698574803934567774824230985421074605062371141877954182153046474983581941267398767559165543946077062914571196477686542167660429831652624386837205668069376"),
    ]));
}

#[test]
fn long4_carries_ints_of_more_than_255_bytes() {
    let v = Value::int(num_bigint::BigInt::from(1) << 4000u32);
    let bytes = dumps_with(&v, Protocol::V2).unwrap();
    assert_eq!(bytes[2], opcode::LONG4);
    assert_eq!(loads(&bytes).unwrap(), v);
}

#[test]
fn an_int_line_of_more_than_4300_digits_is_refused_as_cpython_does() {
    let mut bytes = b"I".to_vec();
    bytes.extend(core::iter::repeat_n(b'9', 4301));
    bytes.extend_from_slice(b"\n.");
    assert!(matches!(
        err(&bytes),
        Error::BadArgument {
            at: At {
                offset: 0,
                opcode: b'I'
            },
            ..
        }
    ));
}

#[test]
fn floats_keep_nan_negative_zero_and_infinities() {
    round_trips(&Value::list(vec![
        Value::Float(f64::NAN),
        Value::Float(-0.0),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(1e16),
        Value::Float(5e-324),
        Value::Float(0.1),
    ]));
    assert_eq!(loads(b"Fnan\n.").unwrap().to_string(), "nan");
    assert_eq!(loads(b"F-inf\n.").unwrap(), Value::Float(f64::NEG_INFINITY));
    assert_ne!(Value::Float(0.0), Value::Float(-0.0));
}

#[test]
fn complex_decodes_from_its_reduce_and_round_trips() {
    let p0 = b"c__builtin__\ncomplex\np0\n(F1.0\nF2.0\ntp1\nRp2\n.";
    assert_eq!(loads(p0).unwrap(), Value::Complex(1.0, 2.0));
    round_trips(&Value::Complex(-0.0, f64::NAN));
}

#[test]
fn strings_decode_from_every_string_opcode() {
    // UNICODE is raw-unicode-escape: \u escapes, other bytes Latin-1.
    assert_eq!(
        loads(b"V\\u0041\\u00e9\xe9\\U0001f600\\x\n.").unwrap(),
        Value::str("Aéé😀\\x")
    );
    assert_eq!(loads(b"\x8c\x02\xc3\xa9.").unwrap(), Value::str("é"));
    assert_eq!(loads(b"X\x01\x00\x00\x00a.").unwrap(), Value::str("a"));
    assert_eq!(
        loads(b"\x8d\x01\x00\x00\x00\x00\x00\x00\x00a.").unwrap(),
        Value::str("a")
    );
    // Python 2's str is bytes; STRING has Python's escapes.
    assert_eq!(
        loads(b"S'a\\'\\n\\x00\\101\\q'\n.").unwrap(),
        Value::bytes(b"a'\n\x00A\\q")
    );
    assert_eq!(loads(b"U\x02ab.").unwrap(), Value::bytes(b"ab"));
    assert_eq!(loads(b"T\x01\x00\x00\x00a.").unwrap(), Value::bytes(b"a"));
    assert_err!(b"S'abc\n.", Error::BadArgument { .. });
    assert_err!(b"X\x01\x00\x00\x00\xff.", Error::BadArgument { .. });
}

#[test]
fn strings_round_trip_with_every_character_protocol_0_must_escape() {
    round_trips(&Value::str(
        "back\\slash\0nul\nline\rcr\x1asub é ☃ 😀 \u{ffff}",
    ));
    round_trips(&Value::str(&"x".repeat(300)));
}

#[test]
fn bytes_and_bytearray_decode_from_the_calls_of_protocols_0_to_2_and_opcodes_after() {
    let expected = "[b'', b'\\x00\\xff', bytearray(b'ab')]";
    let p0 = b"(lp0\nc__builtin__\nbytes\np1\n(tRp2\nac_codecs\nencode\np3\n(V\\u0000\xff\np4\nVlatin1\np5\ntp6\nRp7\nac__builtin__\nbytearray\np8\n(g3\n(Vab\np9\ng5\ntp10\nRp11\ntp12\nRp13\na.";
    let p2 = b"\x80\x02]q\x00(c__builtin__\nbytes\nq\x01)Rq\x02c_codecs\nencode\nq\x03X\x03\x00\x00\x00\x00\xc3\xbfq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07c__builtin__\nbytearray\nq\x08h\x03X\x02\x00\x00\x00abq\th\x05\x86q\nRq\x0b\x85q\x0cRq\re.";
    let p5 = b"\x80\x05\x95\x19\x00\x00\x00\x00\x00\x00\x00]\x94(C\x00\x94C\x02\x00\xff\x94\x96\x02\x00\x00\x00\x00\x00\x00\x00ab\x94e.";
    for p in [&p0[..], &p2[..], &p5[..]] {
        assert_eq!(repr(p), expected);
    }
    round_trips(&Value::list(vec![
        Value::bytes(b""),
        Value::bytes(&(0..=255).collect::<Vec<u8>>()),
        Value::ByteArray(Arc::from(&b""[..])),
        Value::ByteArray(Arc::from(&b"\x00\x80\xff"[..])),
        Value::bytes(&[7; 300]),
    ]));
}

#[test]
fn sets_decode_from_the_calls_of_protocols_0_to_3_and_opcodes_after() {
    let expected = "[{1, 2}, frozenset({'a'})]";
    let p0 = b"(lp0\nc__builtin__\nset\np1\n((lp2\nI1\naI2\natp3\nRp4\nac__builtin__\nfrozenset\np5\n((lp6\nVa\np7\natp8\nRp9\na.";
    let p2 = b"\x80\x02]q\x00(c__builtin__\nset\nq\x01]q\x02(K\x01K\x02e\x85q\x03Rq\x04c__builtin__\nfrozenset\nq\x05]q\x06X\x01\x00\x00\x00aq\x07a\x85q\x08Rq\te.";
    let p4 = b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00]\x94(\x8f\x94(K\x01K\x02\x90(\x8c\x01a\x94\x91\x94e.";
    for p in [&p0[..], &p2[..], &p4[..]] {
        assert_eq!(repr(p), expected);
    }
    let many: Vec<Value> = (0..BATCHED).map(Value::from).collect();
    round_trips(&Value::list(vec![
        Value::Set(Arc::new(vec![])),
        Value::FrozenSet(Arc::new(vec![])),
        Value::Set(Arc::new(many.clone())),
        Value::FrozenSet(Arc::new(vec![Value::str("x"), Value::Int(1)])),
    ]));
}

#[test]
fn containers_round_trip_including_batches_past_1000_items() {
    let items: Vec<Value> = (0..BATCHED).map(Value::from).collect();
    let entries: Vec<(Value, Value)> = (0..1001).map(|i| (Value::from(i), Value::None)).collect();
    round_trips(&Value::list(vec![
        Value::tuple(vec![]),
        Value::tuple(vec![Value::Int(1)]),
        Value::tuple(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
        Value::tuple(items.clone()),
        Value::list(items),
        Value::dict(entries),
        Value::dict(vec![(
            Value::tuple(vec![Value::Int(1)]),
            Value::str("tuple key"),
        )]),
    ]));
}

#[test]
fn dict_keeps_insertion_order() {
    let v = loads(b"\x80\x02}q\x00(K\x03K\x01K\x01K\x02u.").unwrap();
    assert_eq!(v.to_string(), "{3: 1, 1: 2}");
}

#[test]
fn memo_shares_what_the_pickle_shares() {
    // s = 'shared'; [s, s, (s,)] at protocol 2
    let v = loads(b"\x80\x02]q\x00(X\x06\x00\x00\x00sharedq\x01h\x01h\x01\x85q\x02e.").unwrap();
    let items = v.as_items().unwrap();
    let (Value::Str(a), Value::Str(b)) = (&items[0], &items[1]) else {
        panic!()
    };
    assert!(Arc::ptr_eq(a, b));
    // And the pickler memoizes it again: one copy of the string.
    for protocol in ALL {
        let bytes = dumps_with(&v, protocol).unwrap();
        assert_eq!(
            bytes.windows(6).filter(|w| w == b"shared").count(),
            1,
            "{protocol:?}"
        );
        assert_eq!(loads(&bytes).unwrap(), v);
    }
}

#[test]
fn memo_indices_may_be_sparse_and_text() {
    assert_eq!(
        loads(b"K\x07r\xff\xff\xff\xff0j\xff\xff\xff\xff.").unwrap(),
        Value::Int(7)
    );
    assert_eq!(loads(b"K\x07p12\n0g12\n.").unwrap(), Value::Int(7));
    assert_eq!(loads(b"K\x07\x94K\x08\x94h\x01.").unwrap(), Value::Int(8));
    assert!(matches!(
        err(b"h\x05."),
        Error::MemoMissing {
            index: 5,
            at: At { offset: 0, .. }
        }
    ));
}

#[test]
fn a_list_that_contains_itself_decodes_to_a_back_reference_and_round_trips() {
    let v = loads(b"\x80\x02]q\x00h\x00a.").unwrap();
    assert_eq!(v.to_string(), "[[...]]");
    let Value::Recursive(r) = &v else {
        panic!("{v}")
    };
    assert_eq!(r.value, Value::list(vec![Value::BackRef(r.label)]));
    round_trips(&v);
}

#[test]
fn a_cycle_through_a_tuple_decodes_as_cpython_writes_it_at_every_protocol() {
    // t = ([],); t[0].append(t)
    for p in [
        &b"((lp0\n(g0\ntp1\na00g1\n."[..],
        b"(]q\x00(h\x00tq\x01a1h\x01.",
        b"\x80\x02]q\x00h\x00\x85q\x01a0h\x01.",
    ] {
        let v = loads(p).unwrap();
        assert_eq!(v.to_string(), "([(...)],)");
        round_trips(&v);
    }
}

#[test]
fn a_dict_and_an_object_referring_to_themselves_round_trip() {
    let d = loads(b"\x80\x02}q\x00X\x04\x00\x00\x00selfq\x01h\x00s.").unwrap();
    assert_eq!(d.to_string(), "{'self': {...}}");
    round_trips(&d);
    // class C: pass; c = C(); c.me = c  (protocol 2)
    let o = loads(b"\x80\x02c__main__\nC\nq\x00)\x81q\x01}q\x02X\x02\x00\x00\x00meq\x03h\x01sb.")
        .unwrap();
    let Value::Recursive(r) = &o else {
        panic!("{o}")
    };
    let state = r.value.as_object().unwrap().state.as_ref().unwrap();
    assert_eq!(state.get(&Value::str("me")), Some(&Value::BackRef(r.label)));
    round_trips(&o);
}

#[test]
fn a_back_reference_without_its_recursive_value_is_refused_when_pickling() {
    let v = Value::list(vec![Value::BackRef(3)]);
    assert_eq!(dumps(&v), Err(Error::DanglingBackRef { label: 3 }));
    let impossible = Value::Recursive(Arc::new(Recursive {
        label: 0,
        value: Value::tuple(vec![Value::BackRef(0)]),
    }));
    assert!(matches!(dumps(&impossible), Err(Error::Unpicklable { .. })));
}

#[test]
fn marks_pop_and_dup_follow_cpython() {
    assert_eq!(loads(b"K\x01K\x020.").unwrap(), Value::Int(1));
    assert_eq!(loads(b"K\x01(K\x02K\x031.").unwrap(), Value::Int(1));
    // POP with nothing above the mark pops the mark.
    assert_eq!(loads(b"K\x01(0.").unwrap(), Value::Int(1));
    assert_eq!(loads(b"K\x012\x86.").unwrap().to_string(), "(1, 1)");
    // Nothing reaches below a mark.
    assert!(matches!(
        err(b"K\x01(2."),
        Error::StackUnderflow {
            at: At {
                offset: 3,
                opcode: b'2'
            }
        }
    ));
    assert_err!(b"K\x01(.", Error::StackUnderflow { .. });
    assert_err!(b"K\x01t.", Error::NoMark { .. });
    assert_err!(b".", Error::StackUnderflow { .. });
}

#[test]
fn frames_are_read_through() {
    assert_eq!(
        loads(b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00K\x01.").unwrap(),
        Value::Int(1)
    );
    assert_err!(
        b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00K\x01.",
        Error::Truncated { .. }
    );
}

#[test]
fn refused_features_say_what_and_where() {
    assert!(matches!(
        err(b"\x80\x06N."),
        Error::UnsupportedProtocol { version: 6, .. }
    ));
    assert!(matches!(
        err(b"Pid\n."),
        Error::PersistentId {
            at: At {
                offset: 0,
                opcode: b'P'
            }
        }
    ));
    assert!(matches!(
        err(b"K\x01Q."),
        Error::PersistentId {
            at: At { offset: 2, .. }
        }
    ));
    assert!(matches!(
        err(b"\x80\x05\x97."),
        Error::OutOfBandBuffer {
            at: At { offset: 2, .. }
        }
    ));
    assert_err!(b"\x80\x05\x98.", Error::OutOfBandBuffer { .. });
    assert!(matches!(
        err(b"\x82\x07."),
        Error::Extension { code: 7, .. }
    ));
    assert!(matches!(
        err(b"\x84\x01\x00\x00\x01."),
        Error::Extension {
            code: 0x0100_0001,
            ..
        }
    ));
    assert!(matches!(
        err(b"\xff"),
        Error::UnknownOpcode {
            at: At {
                offset: 0,
                opcode: 0xff
            }
        }
    ));
    assert_eq!(
        err(b"N").to_string(),
        "at byte 0, opcode NONE: the pickle ends too early"
    );
}

#[test]
fn inst_and_obj_are_kept_as_data_never_run() {
    let v = loads(b"(S'touch x'\nios\nsystem\n.").unwrap();
    let o = v.as_object().unwrap();
    assert_eq!(o.call, Call::Inst);
    assert_eq!(o.class().unwrap(), &Global::new("os", "system"));
    assert_eq!(o.args(), &[Value::bytes(b"touch x")]);
    let obj = loads(b"(cos\nsystem\nS'ls'\no.").unwrap();
    assert_eq!(obj.as_object().unwrap().call, Call::Inst);
    round_trips(&v);
    round_trips(&obj);
}

#[test]
fn reduce_newobj_and_build_are_kept_as_data() {
    // collections.namedtuple('P', 'x y')(1, 2), protocol 2
    let p = loads(b"\x80\x02c__main__\nP\nq\x00K\x01K\x02\x86q\x01\x81q\x02.").unwrap();
    let (class, fields) = p.as_namedtuple().unwrap();
    assert_eq!(
        (class.to_string(), fields),
        (
            "__main__.P".to_string(),
            &[Value::Int(1), Value::Int(2)][..]
        )
    );
    round_trips(&p);
    let ex = loads(
        b"\x80\x02cexceptions\nValueError\nq\x00X\x01\x00\x00\x00xq\x01K\x01\x86q\x02Rq\x03.",
    )
    .unwrap();
    assert_eq!(
        ex.as_exception(),
        Some(("ValueError", &[Value::str("x"), Value::Int(1)][..]))
    );
    round_trips(&ex);
    // NEWOBJ_EX, and its fallback below protocol 4.
    let mut o = Object::new(Value::global("m", "K"), Call::NewObjEx, vec![Value::Int(1)]);
    o.kwargs = Some(Value::dict(vec![(Value::str("k"), Value::Int(2))]));
    round_trips(&Value::object(o));
    assert!(matches!(
        err(b"K\x01N\x81."),
        Error::WrongType {
            expected: "a tuple of arguments",
            found: "NoneType",
            ..
        }
    ));
}

#[test]
fn wrong_types_name_the_global_involved() {
    let e = err(b"cm\nC\n)R(K\x01\x90.");
    assert_eq!(
        e,
        Error::WrongType {
            at: At {
                offset: 10,
                opcode: opcode::ADDITEMS
            },
            expected: "a set to add to",
            found: "object",
            global: Some("m.C".to_string()),
        }
    );
    assert_eq!(
        e.to_string(),
        "at byte 10, opcode ADDITEMS: expected a set to add to, found object (m.C)"
    );
}

#[test]
fn objects_with_items_entries_and_state_round_trip() {
    let mut o = Object::new(
        Value::global("collections", "OrderedDict"),
        Call::Reduce,
        vec![],
    );
    o.entries = vec![(Value::Int(1), Value::Int(2))];
    round_trips(&Value::object(o));
    let mut l = Object::new(Value::global("m", "MyList"), Call::NewObj, vec![]);
    l.items = (0..BATCHED).map(Value::from).collect();
    l.state = Some(Value::dict(vec![(Value::str("a"), Value::None)]));
    round_trips(&Value::object(l));
    round_trips(&Value::global("builtins", "len"));
}

#[test]
fn well_known_objects_decode_from_cpython_2_and_3() {
    let dt3 = b"\x80\x02cdatetime\ndatetime\nq\x00c_codecs\nencode\nq\x01X\x0b\x00\x00\x00\x07\xc3\xa4\x01\x02\x03\x04\x05\x00\x00\x06q\x02X\x06\x00\x00\x00latin1q\x03\x86q\x04Rq\x05\x85q\x06Rq\x07.";
    let dt2 = b"\x80\x02cdatetime\ndatetime\nq\x00U\n\x07\xe4\x01\x02\x03\x04\x05\x00\x00\x06q\x01\x85q\x02Rq\x03.";
    for p in [&dt3[..], &dt2[..]] {
        assert_eq!(repr(p), "datetime.datetime(2020, 1, 2, 3, 4, 5, 6)");
    }
    let uuid0 = b"ccopy_reg\n_reconstructor\np0\n(cuuid\nUUID\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n(dp5\nVint\np6\nI5\nsb.";
    let uuid2 = b"\x80\x02cuuid\nUUID\nq\x00)\x81q\x01}q\x02X\x03\x00\x00\x00intq\x03K\x05sb.";
    for p in [&uuid0[..], &uuid2[..]] {
        assert_eq!(loads(p).unwrap().as_uuid(), Some(5));
    }
    let od3 = b"ccollections\nOrderedDict\np0\n(tRp1\nI1\nI2\ns.";
    let od2 = b"ccollections\nOrderedDict\np0\n((lp1\n(lp2\nI1\naI2\naatp3\nRp4\n.";
    for p in [&od3[..], &od2[..]] {
        assert_eq!(
            loads(p).unwrap().as_ordered_dict(),
            Some(vec![(&Value::Int(1), &Value::Int(2))])
        );
    }
    assert_eq!(
        repr(b"cdecimal\nDecimal\np0\n(S'1.5'\np1\ntp2\nRp3\n."),
        "Decimal('1.5')"
    );
}

#[test]
fn globals_use_each_python_s_module_names() {
    let v = Value::list(vec![
        Value::global("builtins", "range"),
        Value::global("copyreg", "_reconstructor"),
    ]);
    let p2 = dumps_with(&v, Protocol::V2).unwrap();
    assert!(p2.windows(12).any(|w| w == b"__builtin__\n"));
    assert!(p2.windows(9).any(|w| w == b"copy_reg\n"));
    let back = loads(&p2).unwrap();
    let p3 = dumps_with(&back, Protocol::V3).unwrap();
    assert!(p3.windows(9).any(|w| w == b"builtins\n"));
    assert!(p3.windows(8).any(|w| w == b"copyreg\n"));
}

#[test]
fn every_prefix_of_a_pickle_is_an_error_never_a_panic() {
    let v = Value::list(vec![
        Value::str("s"),
        Value::int(u64::MAX),
        Value::Float(1.5),
        Value::tuple(vec![Value::bytes(b"b"), Value::Complex(1.0, 2.0)]),
        Value::namedtuple("m", "P", vec![Value::Int(1)]),
    ]);
    for protocol in ALL {
        let bytes = dumps_with(&v, protocol).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                matches!(loads(&bytes[..cut]), Err(Error::Truncated { .. })),
                "{protocol:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn lengths_past_the_input_are_refused_before_allocating() {
    assert_err!(
        b"\x8e\xff\xff\xff\xff\xff\xff\xff\xff",
        Error::Truncated { .. }
    );
    assert_err!(
        b"\x96\x00\x00\x00\x00\x00\x00\x00\x40",
        Error::Truncated { .. }
    );
    assert_err!(b"X\xff\xff\xff\xff", Error::Truncated { .. });
    assert_err!(b"T\xff\xff\xff\xff", Error::BadArgument { .. });
}

#[test]
fn limits_on_items_and_memo_are_kept() {
    let limits = Limits {
        max_items: 3,
        ..Limits::default()
    };
    assert!(loads_with(b"]K\x01a.", &limits).is_ok());
    assert!(matches!(
        loads_with(b"]K\x01aK\x02a.", &limits),
        Err(Error::LimitExceeded {
            limit: Limit::Items,
            max: 3,
            ..
        })
    ));
    let limits = Limits {
        max_memo: 1,
        ..Limits::default()
    };
    assert!(matches!(
        loads_with(b"N\x94N\x94.", &limits),
        Err(Error::LimitExceeded {
            limit: Limit::Memo,
            ..
        })
    ));
}

#[test]
fn copies_made_by_set_calls_are_capped_by_the_input_length() {
    // One 100-item list, then set(list) made 40 times from the memo: 4,000 copies
    // from a pickle of about 400 bytes.
    let bytes = set_laughs(100, 40);
    assert!(matches!(
        err(&bytes),
        Error::LimitExceeded {
            limit: Limit::Copies,
            ..
        }
    ));
}

#[cfg(not(miri))]
const DEEP: usize = 100_000;
#[cfg(miri)]
const DEEP: usize = 2_000;

#[test]
fn a_deep_list_is_a_clear_error_by_default() {
    let bytes = nested_lists(DEEP);
    let e = err(&bytes);
    assert_eq!(
        e,
        Error::LimitExceeded {
            at: At {
                offset: bytes.len() - 1,
                opcode: b'.'
            },
            limit: Limit::Depth,
            max: 1000
        }
    );
}

#[test]
fn a_deep_list_decodes_compares_prints_and_drops_without_recursion_when_allowed() {
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let bytes = nested_lists(DEEP);
    // On a thread with a small stack: nothing here may recurse.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let v = loads_with(&bytes, &limits).unwrap();
            let w = loads_with(&bytes, &limits).unwrap();
            assert_eq!(v, w);
            let text = v.to_string();
            assert_eq!(text.len(), 2 * DEEP);
            let again = dumps_with(&v, Protocol::V2).unwrap();
            assert_eq!(loads_with(&again, &limits).unwrap(), v);
            drop(v);
            drop(w);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_shared_subtree_doubling_each_level_stays_linear() {
    // a = []; for _ in range(60): a = [a, a]  -- 2^60 paths, 60 lists.
    let mut bytes = b"\x80\x02]".to_vec();
    for i in 0..60u8 {
        bytes.extend_from_slice(&[b'q', i, b'h', i, b'\x86']);
    }
    bytes.push(b'.');
    let limits = Limits {
        max_depth: 100,
        ..Limits::default()
    };
    let v = loads_with(&bytes, &limits).unwrap();
    assert_eq!(v, v.clone());
    let again = dumps_with(&v, Protocol::V2).unwrap();
    assert!(again.len() < 2 * bytes.len());
}

#[test]
fn protocol_numbers_and_headers() {
    assert_eq!(Protocol::new(5).map(Protocol::version), Some(5));
    assert_eq!(dumps_with(&Value::None, Protocol::V0).unwrap(), b"N.");
    assert_eq!(
        dumps_with(&Value::None, Protocol::V4).unwrap(),
        b"\x80\x04N."
    );
    assert_eq!(dumps(&Value::Bool(true)).unwrap(), b"\x80\x03\x88.");
    assert_eq!(
        dumps_with(&Value::Bool(false), Protocol::V1).unwrap(),
        b"I00\n."
    );
}

#[test]
fn a_cycle_through_an_object_s_arguments_closes_as_cpython_closes_it() {
    // o = A.__new__(A, [o]): NEWOBJ with a list in its args, then APPEND o to it.
    let v = loads(b"\x80\x02cm\nA\n]q\x00\x85\x81q\x01h\x00h\x01a0h\x01.").unwrap();
    let Value::Recursive(r) = &v else {
        panic!("{v}")
    };
    assert_eq!(
        r.value.as_object().unwrap().args()[0],
        Value::list(vec![Value::BackRef(r.label)])
    );
    round_trips(&v);
}

#[test]
fn an_int_of_more_than_4300_digits_needs_protocol_2() {
    let v = Value::int(num_bigint::BigInt::from(10).pow(4300));
    assert!(matches!(
        dumps_with(&v, Protocol::V0),
        Err(Error::Unpicklable { .. })
    ));
    assert!(matches!(
        dumps_with(&v, Protocol::V1),
        Err(Error::Unpicklable { .. })
    ));
    assert_eq!(loads(&dumps_with(&v, Protocol::V2).unwrap()).unwrap(), v);
    let fits = Value::int(num_bigint::BigInt::from(10).pow(4299));
    assert_eq!(
        loads(&dumps_with(&fits, Protocol::V0).unwrap()).unwrap(),
        fits
    );
}

/// A list of lists, as deep as the data.
#[derive(Debug, serde::Deserialize)]
struct Tree(#[allow(dead_code)] alloc::vec::Vec<Tree>);

#[test]
fn a_billion_laughs_decodes_small_and_deserializes_to_a_limit_error() {
    use super::{from_slice, from_slice_with, from_value, from_value_with, Limit, SerdeError};
    let pickle = billion_laughs();
    assert!(pickle.len() < 600, "{}", pickle.len());
    let value = loads(&pickle).unwrap();
    assert!(matches!(&value, Value::List(items) if items.len() == 2));

    let expanded = |r: Result<_, SerdeError>, max: usize| match r {
        Err(SerdeError::LimitExceeded {
            limit: Limit::Expanded,
            max: m,
            ..
        }) => assert_eq!(m, max),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("no error"),
    };
    let small = Limits {
        max_expanded: 10_000,
        ..Limits::default()
    };
    let default = Limits::default().max_expanded;
    expanded(
        from_value_with::<Vec<Tree>>(&value, &small).map(drop),
        10_000,
    );
    expanded(from_value_with::<Value>(&value, &small).map(drop), 10_000);
    expanded(
        from_slice_with::<Vec<Tree>>(&pickle, &small).map(drop),
        10_000,
    );
    expanded(from_slice::<Vec<Tree>>(&pickle).map(drop), default);
    expanded(from_value::<Vec<Tree>>(&value).map(drop), default);
    let err = from_value_with::<Vec<Tree>>(&value, &small).unwrap_err();
    assert!(err.path().starts_with("[0][0][0]"), "{}", err.path());
    assert!(
        err.to_string().ends_with(
            "the number of values visited (shared ones each time) exceeds the limit of 10000"
        ),
        "{err}"
    );
}

#[test]
fn the_expansion_limit_counts_shared_values_each_time() {
    use super::{from_value_with, Limit, SerdeError};
    // [s, s, s] of one shared str: 4 visits.
    let value = loads(b"\x80\x02]q\x00(X\x01\x00\x00\x00aq\x01h\x01h\x01e.").unwrap();
    let limits = |max_expanded| Limits {
        max_expanded,
        ..Limits::default()
    };
    assert_eq!(
        from_value_with::<Vec<alloc::string::String>>(&value, &limits(4)).unwrap(),
        ["a", "a", "a"]
    );
    assert!(matches!(
        from_value_with::<Vec<alloc::string::String>>(&value, &limits(3)),
        Err(SerdeError::LimitExceeded {
            limit: Limit::Expanded,
            max: 3,
            ..
        })
    ));
    // from_slice_with allows twice the input's length whatever the limit.
    assert!(super::from_slice_with::<Vec<alloc::string::String>>(
        b"\x80\x02]q\x00(X\x01\x00\x00\x00aq\x01h\x01h\x01e.",
        &limits(0)
    )
    .is_ok());
}

#[test]
fn a_billion_laughs_prints_cut() {
    let value = loads(&billion_laughs()).unwrap();
    let (text, cut) = value.repr_bounded(1 << 16);
    assert!(cut);
    assert_eq!(text.len(), (1 << 16) + 3);
    assert!(text.starts_with("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]"));
    assert!(text.ends_with("..."));
}
