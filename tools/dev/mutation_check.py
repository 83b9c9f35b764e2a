"""Break the code on purpose and check that the tests notice.

Each mutation of ``tools/dev/mutations.toml`` (one or more edits: a file, an
exact ``old`` text that occurs once in it, its ``new`` text) is applied to a
temporary copy of the working tree (the files git tracks or would track;
never the tree itself), and the mutation's tests run there::

    python tools/dev/mutation_check.py                 # all of them
    python tools/dev/mutation_check.py --only allowlist-eval view-major
    python tools/dev/mutation_check.py --list       # ids, what they break

A mutation is *killed* when pytest reports a failing test, *survived* when
its tests pass, and an *error* when pytest cannot run them (collection
error, no such test). First the listed tests run once on the unmutated copy
(``--no-baseline`` skips it): a test that fails there kills nothing. The
exit status is 0 only if every mutation was killed.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from typing import Dict, List, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MUTATIONS = osp.join(ROOT, 'tools', 'dev', 'mutations.toml')


def load_mutations(path: str = MUTATIONS) -> List[dict]:
    """The mutations of ``path``, each checked for its fields.

    Raises:
        ValueError: A mutation without an id, edits or tests, or a
            duplicate id; the message names it.
    """
    with open(path, 'rb') as f:
        mutations = tomllib.load(f).get('mutation', [])
    seen = set()
    for i, m in enumerate(mutations):
        name = m.get('id', f'#{i + 1}')
        for key, kind in (('id', str), ('why', str), ('edit', list),
                          ('tests', list)):
            if not isinstance(m.get(key), kind) or not m[key]:
                raise ValueError(f'{path}: mutation {name}: expected a '
                                 f'non-empty {kind.__name__} {key!r}')
        for edit in m['edit']:
            if not all(isinstance(edit.get(k), str) for k in
                       ('file', 'old', 'new')) or edit['old'] == edit['new']:
                raise ValueError(f'{path}: mutation {name}: every edit '
                                 "needs 'file', 'old' and a different 'new'")
        if name in seen:
            raise ValueError(f'{path}: mutation id {name!r} is used twice')
        seen.add(name)
    return mutations


def apply(tree: str, mutation: dict) -> None:
    """Apply ``mutation``'s edits to the copy in ``tree``.

    Raises:
        ValueError: An ``old`` text that does not occur exactly once.
    """
    for edit in mutation['edit']:
        path = osp.join(tree, edit['file'])
        with open(path, encoding='utf-8') as f:
            text = f.read()
        count = text.count(edit['old'])
        if count != 1:
            raise ValueError(f"{mutation['id']}: {edit['file']}: the old "
                             f'text occurs {count} times, expected once')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text.replace(edit['old'], edit['new']))


def copy_tree(dest: str) -> str:
    """The files git tracks or would track (not ignored), copied."""
    files = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'], cwd=ROOT, check=True,
        capture_output=True).stdout.decode().split('\0')
    for rel in filter(None, files):
        src = osp.join(ROOT, rel)
        if osp.isfile(src):
            os.makedirs(osp.dirname(osp.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, osp.join(dest, rel))
    return dest


def run_tests(tree: str, tests: Sequence[str], timeout: int) -> tuple:
    """pytest on ``tests`` in ``tree``, stopping at the first failure:
    (status, seconds, the failed test or '', last lines)."""
    env = dict(os.environ, PYTHONPATH=tree)
    start = time.time()
    try:
        proc = subprocess.run(
            [sys.executable, '-m', 'pytest', '-x', '-q', '-rf', '-p',
             'no:cacheprovider', *tests], cwd=tree, env=env,
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 'error (timeout)', time.time() - start, '', ''
    status = {0: 'passed', 1: 'failed'}.get(
        proc.returncode, f'error (rc {proc.returncode})')
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    failed = next((line.split()[1] for line in lines
                   if line.startswith('FAILED ')), '')
    return status, time.time() - start, failed, '\n'.join(lines[-15:])


def check(mutation: dict, timeout: int) -> Dict[str, object]:
    """Apply one mutation to a fresh copy and run its tests there."""
    with tempfile.TemporaryDirectory(prefix='mutation-') as tmp:
        tree = copy_tree(osp.join(tmp, 'tree'))
        apply(tree, mutation)
        status, seconds, failed, tail = run_tests(tree, mutation['tests'],
                                                  timeout)
    result = {'passed': 'survived', 'failed': 'killed'}.get(status, status)
    return dict(id=mutation['id'], result=result, seconds=seconds,
                failed=failed, tail=tail)


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='+', metavar='ID',
                        help='run only these mutations')
    parser.add_argument('--list', action='store_true',
                        help='print the mutations and exit')
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the run of the tests on the unmutated copy')
    parser.add_argument('--timeout', type=int, default=900,
                        help='seconds per pytest run (default 900)')
    parser.add_argument('--verbose', action='store_true',
                        help="print pytest's last lines for every mutation")
    args = parser.parse_args(argv)
    mutations = load_mutations()
    if args.only:
        unknown = set(args.only) - {m['id'] for m in mutations}
        if unknown:
            parser.error(f'no such mutation: {", ".join(sorted(unknown))}')
        mutations = [m for m in mutations if m['id'] in args.only]
    if args.list:
        for m in mutations:
            files = ', '.join(sorted({e['file'] for e in m['edit']}))
            print(f"{m['id']}: {m['why']} ({files})")
        return 0
    if not args.no_baseline:
        tests = sorted({t for m in mutations for t in m['tests']})
        with tempfile.TemporaryDirectory(prefix='mutation-') as tmp:
            status, seconds, _, tail = run_tests(
                copy_tree(osp.join(tmp, 'tree')), tests, args.timeout)
        print(f'baseline ({len(tests)} tests, unmutated): {status} '
              f'({seconds:.0f} s)', flush=True)
        if status != 'passed':
            print(tail)
            return 1
    print(f"{'mutation':<30} {'result':<9} {'s':>4}  first failing test",
          flush=True)
    results = []
    for m in mutations:
        r = check(m, args.timeout)
        results.append(r)
        print(f"{r['id']:<30} {r['result']:<9} {r['seconds']:>4.0f}  "
              f"{r['failed']}", flush=True)
        if args.verbose or r['result'] != 'killed':
            print('    ' + r['tail'].replace('\n', '\n    '))
    killed = sum(r['result'] == 'killed' for r in results)
    print(f'{killed} of {len(results)} mutations killed')
    return 0 if killed == len(results) else 1


if __name__ == '__main__':
    sys.exit(main())
