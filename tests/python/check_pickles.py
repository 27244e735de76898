"""Checks mpconn's re-pickles of the corpus under one CPython (tests/pickle_corpus.rs).

    python check_pickles.py ORIGINALS OURS

For every file in OURS (our re-pickle of the file of the same name in ORIGINALS, made
by that interpreter), both are loaded with pickle.loads and must be the same object:
equal, of the same type at every level, with the same sharing and cycles (a
sub-object reached twice in one is reached twice in the other). Floats compare by
value with NaN equal to NaN and -0.0 distinct from 0.0; exceptions and instances by
type, args and __dict__ / __slots__. Under 2.7, int and long count as one type: a
pickle does not always say which of the two a small integer was.

Prints one line per failure and a closing 'N passed, N failed'; exits 1 on a failure.
Runs under 2.7 and 3.6+.
"""
import decimal
import math
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pickle_cases  # noqa: E402,F401  (the classes the pickles name)

PY2 = sys.version_info[0] == 2
INTS = (int, long) if PY2 else (int,)  # noqa: F821
ATOMS = (type(None), bool, float, complex, str, bytes, decimal.Decimal) + INTS
if PY2:
    ATOMS += (unicode,)  # noqa: F821


def type_of(x):
    if PY2 and isinstance(x, INTS) and not isinstance(x, bool):
        return 'int'
    return type(x)


def same_float(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def state_of(x):
    state = {}
    if hasattr(x, '__dict__'):
        state.update(x.__dict__)
    for cls in type(x).__mro__:
        for slot in getattr(cls, '__slots__', ()):
            if hasattr(x, slot):
                state[slot] = getattr(x, slot)
    return state


def same(a, b):
    """Iterative deep comparison; returns None or a description of the difference."""
    pairs = {}  # id(a sub-object) -> id(its counterpart): sharing and cycles
    back = {}  # and the other way
    alive = []  # keeps the state dicts made here alive, so that no id is reused
    todo = [(a, b, 'obj')]
    while todo:
        x, y, path = todo.pop()
        alive.append((x, y))
        if type_of(x) != type_of(y):
            return '%s: type %r vs %r' % (path, type(x), type(y))
        if isinstance(x, float):
            if not same_float(x, y):
                return '%s: %r vs %r' % (path, x, y)
            continue
        if isinstance(x, complex):
            if not (same_float(x.real, y.real) and same_float(x.imag, y.imag)):
                return '%s: %r vs %r' % (path, x, y)
            continue
        if isinstance(x, decimal.Decimal):
            if str(x) != str(y):
                return '%s: %r vs %r' % (path, x, y)
            continue
        if isinstance(x, ATOMS) or x is None:
            if x != y:
                return '%s: %r vs %r' % (path, x, y)
            continue
        if id(x) in pairs or id(y) in back:
            if pairs.get(id(x)) != id(y) or back.get(id(y)) != id(x):
                return '%s: shared or recursive in one, not in the other' % path
            continue
        pairs[id(x)] = id(y)
        back[id(y)] = id(x)
        if isinstance(x, BaseException):
            todo.append((x.args, y.args, path + '.args'))
            todo.append((state_of(x), state_of(y), path + '.__dict__'))
        elif isinstance(x, (set, frozenset)):
            if x != y:
                return '%s: %r vs %r' % (path, x, y)
        elif isinstance(x, dict):
            if list(x.keys()) != list(y.keys()):
                return '%s: keys %r vs %r' % (path, list(x.keys()), list(y.keys()))
            for k in x:
                todo.append((x[k], y[k], '%s[%r]' % (path, k)))
            if type(x) is not dict:
                todo.append((state_of(x), state_of(y), path + '.__dict__'))
            if hasattr(x, 'default_factory'):
                todo.append((x.default_factory, y.default_factory, path + '.default_factory'))
        elif isinstance(x, (list, tuple)):
            if len(x) != len(y):
                return '%s: length %d vs %d' % (path, len(x), len(y))
            for i, (xi, yi) in enumerate(zip(x, y)):
                todo.append((xi, yi, '%s[%d]' % (path, i)))
            if type(x) not in (list, tuple):
                todo.append((state_of(x), state_of(y), path + '.__dict__'))
        elif isinstance(x, type) or callable(x):
            if x is not y:
                return '%s: %r vs %r' % (path, x, y)
        elif hasattr(x, '__dict__') or hasattr(type(x), '__slots__'):
            todo.append((state_of(x), state_of(y), path + '.__dict__'))
            classes = getattr(x.__class__, '__mro__', (x.__class__,))  # 2.7 old-style: none
            own_eq = any('__eq__' in vars(c) for c in classes if c is not object)
            if own_eq and x != y:
                return '%s: %r != %r' % (path, x, y)
        elif x != y:
            return '%s: %r != %r' % (path, x, y)
    return None


def main():
    originals, ours = sys.argv[1], sys.argv[2]
    passed = failed = 0
    for name in sorted(os.listdir(ours)):
        with open(os.path.join(originals, name), 'rb') as f:
            original = pickle.loads(f.read())
        with open(os.path.join(ours, name), 'rb') as f:
            data = f.read()
        try:
            ours_obj = pickle.loads(data)
        except Exception as e:
            print('FAIL %s: pickle.loads of ours raised %r' % (name, e))
            failed += 1
            continue
        difference = same(original, ours_obj)
        if difference:
            print('FAIL %s: %s' % (name, difference))
            failed += 1
        else:
            passed += 1
    print('%d passed, %d failed' % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
