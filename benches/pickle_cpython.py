"""CPython's own pickle, timed on the workload of benches/pickle.rs, so the figures
sit in one table with mpconn's and serde-pickle's.

    python3.13 benches/pickle_cpython.py FILE [--secs 0.5]

FILE holds the pickle the Rust bench made (a list of small dicts). Prints two lines,
`unpickle SECONDS` (pickle.loads of FILE) and `pickle SECONDS` (pickle.dumps of what
it loads, protocol 3, the one the Rust rows write), each the best per-call time over
repeats of about --secs seconds in all. The C accelerator (_pickle) is what
pickle.loads/dumps use, as in any CPython.
"""
import pickle
import sys
import time


def best(fn, secs):
    fn()
    times = []
    deadline = time.perf_counter() + secs
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    path = sys.argv[1]
    secs = float(sys.argv[sys.argv.index('--secs') + 1]) if '--secs' in sys.argv else 0.5
    with open(path, 'rb') as f:
        data = f.read()
    obj = pickle.loads(data)
    print('unpickle %.9f' % best(lambda: pickle.loads(data), secs))
    print('pickle %.9f' % best(lambda: pickle.dumps(obj, 3), secs))


if __name__ == '__main__':
    main()
