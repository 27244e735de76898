"""The objects of the pickle corpus (tests/data/pickles), shared by the script that
captures it (capture_pickles.py) and the one that checks our re-pickles of it
(check_pickles.py): both import the classes from here, so that a pickle names
`pickle_cases.Plain` and every interpreter can rebuild it.

Runs under 2.7 and 3.6+: no f-strings, features guarded by version.
"""
import collections
import datetime
import decimal
import sys
import uuid

PY2 = sys.version_info[0] == 2


class Plain(object):
    """An instance with a __dict__: NEWOBJ (or copy_reg._reconstructor) + BUILD."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


class Slotted(object):
    """State as (None, slots)."""
    __slots__ = ('x', 'y')

    def __init__(self, x, y):
        self.x = x
        self.y = y


class Old:
    """An old-style class under Python 2: INST / OBJ."""

    def __init__(self):
        self.a = 1


class MyError(Exception):
    """An exception class of our own, with an attribute."""


class MyList(list):
    """A list subclass: APPENDS onto the object, and BUILD for its __dict__."""


class MyDict(dict):
    """A dict subclass: SETITEMS onto the object."""


Point = collections.namedtuple('Point', 'x y')

if sys.version_info >= (3, 4):
    import enum

    class Color(enum.Enum):
        RED = 1
        GREEN = 'green'

    class Level(enum.IntEnum):
        LOW = 1
else:
    Color = Level = None

if sys.version_info >= (3, 7):
    import dataclasses

    # make_dataclass, since annotations are a syntax error for 2.7.
    Data = dataclasses.make_dataclass(
        'Data', [('x', int), ('y', str, dataclasses.field(default='y'))])
    Data.__module__ = __name__
else:
    Data = None


def cases():
    """(name, object) pairs, the same names under every interpreter."""
    out = []
    add = lambda name, obj: out.append((name, obj))
    add('none_bools', [None, True, False])
    add('ints', [0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31, 2 ** 31,
                 2 ** 63 - 1, -2 ** 63, 2 ** 63, 2 ** 64 - 1, -2 ** 64, 2 ** 100,
                 -(2 ** 1000), 2 ** 2100])
    add('floats', [0.0, -0.0, 1.0, 1.5, 0.1, 1e16, 1e-5, float('inf'), float('-inf'),
                   float('nan'), 5e-324, 1.7976931348623157e308])
    add('complex', [1 + 2j, complex(-0.0, -1.0), complex(float('inf'), 0)])
    add('strings', [u'', u'ascii', u'\xe9t\xe9', u'\u2603 snow', u'\U0001f600',
                    u'back\\slash\nnew\rline\x00nul\x1asub', u"quote ' and \" ",
                    u'x' * 300])
    add('bytes', [b'', b'\x00\xff', bytes(bytearray(range(256))), b'y' * 300,
                  bytearray(b'ab'), bytearray(), bytearray(b'\x00\x80\xff')])
    add('large_bytes', [b'L' * 70000])
    add('containers', {'a': [1, (2, 3.5)], 'b': {'c': set([1, 2]), 'd': frozenset([u'x'])},
                       'e': (), 'f': [], 'g': {}, 'h': set(), 'i': frozenset()})
    add('tuples', [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((((1,),),),)])
    add('batches', [list(range(1100)), dict((i, -i) for i in range(1010)),
                    set(range(1005))])
    add('dict_keys', {1: 'int', (1, 2): 'tuple', u'x': 'str', None: 'none', 2.5: 'float',
                      frozenset([1]): 'frozenset', True: 'bool', b'b': 'bytes'})
    add('dict_order', dict([(u'z', 1), (u'a', 2), (u'm', 3)]))
    shared = [1]
    s = u'shared string'
    add('shared', [shared, shared, (shared, shared), s, s])
    lst = []
    lst.append(lst)
    add('recursive_list', lst)
    d = {}
    d['self'] = d
    add('recursive_dict', d)
    t = ([],)
    t[0].append(t)
    add('recursive_tuple', t)
    me = Plain()
    me.me = me
    add('recursive_object', me)
    add('instance', Plain(a=1, b=[1, 2], c=u'c'))
    add('instance_empty', Plain())
    add('slots', Slotted(1, u'two'))
    add('old_style', Old())
    add('subclasses', [MyList([1, 2]), MyDict(a=1)])
    add('namedtuple', [Point(1, 2), Point(x=u'a', y=[3])])
    add('datetimes', [datetime.datetime(2020, 1, 2, 3, 4, 5, 6), datetime.date(2024, 2, 29),
                      datetime.time(12, 30, 1, 5), datetime.timedelta(days=-1, seconds=5,
                                                                      microseconds=7),
                      datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59,
                                                                    999999)])
    if not PY2:
        add('datetime_tz', [datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc),
                            datetime.datetime(2020, 1, 2, fold=1) if sys.version_info >= (3, 6)
                            else None])
    add('decimals', [decimal.Decimal('1.5'), decimal.Decimal('-0'), decimal.Decimal('NaN'),
                     decimal.Decimal('1E+3'), decimal.Decimal('-Infinity')])
    add('uuid', [uuid.UUID(int=5), uuid.UUID('12345678-1234-5678-1234-567812345678')])
    add('ordered_dict', collections.OrderedDict([(1, 2), (u'b', [3])]))
    add('defaultdict', collections.defaultdict(list, {u'k': [1]}))
    add('deque', collections.deque([1, 2], maxlen=5))
    add('counter', collections.Counter(u'abracadabra'))
    add('exceptions', [ValueError(u'x', 1), KeyError(u'k'), MyError(u'mine')])
    if Color is not None:
        add('enums', [Color.RED, Color.GREEN, Level.LOW])
    if Data is not None:
        add('dataclass', [Data(1), Data(2, u'z')])
    if not PY2:
        add('range', [range(0, 10, 2)])
    if PY2:
        add('py2_str', ['a byte string', 'caf\xc3\xa9', unicode('and unicode')])  # noqa: F821
        add('py2_long', [long(5), 5, 2 ** 40])  # noqa: F821
    return out
