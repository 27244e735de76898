"""Captures the pickle corpus of tests/pickle_corpus.rs from the real interpreters.

Re-run it from the repository root, with pyenv's CPythons installed, whenever a case
is added to pickle_cases.py; the output is checked in and the Rust test reads it:

    python3 tests/python/capture_pickles.py

Without arguments it runs itself under every CPython pyenv has (2.7 and 3.6 to 3.13,
found under $PYENV_ROOT, ~/.pyenv or `pyenv root`) with --emit DIR, which writes
tests/data/pickles/X.Y/<case>.<protocol>.pickle for each case of pickle_cases.py and
each protocol from 0 to that interpreter's pickle.HIGHEST_PROTOCOL, as
pickle.dumps(obj, protocol) writes it (a case that interpreter cannot pickle at that
protocol, such as __slots__ below protocol 2, is left out). The 70 kB case is kept for 2.7 and 3.13 only,
to keep the corpus small.
"""
import os
import pickle
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(os.path.dirname(HERE), 'data', 'pickles')
VERSIONS = ['2.7', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']
LARGE_ONLY_IN = ('2.7', '3.13')


def pyenv_root():
    for root in (os.environ.get('PYENV_ROOT'), os.path.expanduser('~/.pyenv')):
        if root and os.path.isdir(os.path.join(root, 'versions')):
            return root
    return subprocess.check_output(['pyenv', 'root']).decode().strip()


def interpreter(version):
    versions = os.path.join(pyenv_root(), 'versions')
    found = sorted(v for v in os.listdir(versions)
                   if v.startswith(version + '.') and v[len(version) + 1:].isdigit())
    if not found:
        raise SystemExit('CPython %s not found under %s' % (version, versions))
    return os.path.join(versions, found[-1], 'bin', 'python' + version)


def emit(out):
    sys.path.insert(0, HERE)
    import pickle_cases
    version = '%d.%d' % sys.version_info[:2]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for name, obj in pickle_cases.cases():
        if name == 'large_bytes' and version not in LARGE_ONLY_IN:
            continue
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            try:
                data = pickle.dumps(obj, protocol)
            except (TypeError, pickle.PicklingError):
                continue  # e.g. __slots__ without __getstate__ below protocol 2
            with open(os.path.join(out, '%s.%d.pickle' % (name, protocol)), 'wb') as f:
                f.write(data)


def main():
    if sys.argv[1:2] == ['--emit']:
        emit(sys.argv[2])
        return
    for version in VERSIONS:
        subprocess.check_call([interpreter(version), os.path.abspath(__file__), '--emit',
                               os.path.join(ROOT, version)])
        sys.stderr.write('captured CPython %s\n' % version)


if __name__ == '__main__':
    main()
