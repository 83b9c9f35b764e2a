"""The front door renders: README.md and docs/ link only to what exists,
every command block is run by a test or says what it needs, metafile.yml
is MMAction2's schema and names only existing configs, and the README
stays a front page."""
import os.path as osp
import re
from glob import glob

import pytest
import yaml
from helpers import ROOT

PAGES = [osp.join(ROOT, 'README.md')] + sorted(
    glob(osp.join(ROOT, 'docs', '*.md')))
# Blocks marked by name, and the test that runs each as written.
NAMED = {
    'test-command': '.ci/run',
    'main-command': 'tests/test_datasets/test_toy_dataset.py',
    'cct-snippet': 'tests/test_configs/test_every_config.py'
                   '::test_cct_snippet_in_a_stock_timesformer_config',
    'onnx-snippet': 'tests/test_deploy/test_onnx_export.py'
                    '::test_readme_snippet_runs_without_pytorch',
}
COMMAND_LANGS = {'bash', 'sh', 'shell', 'console', 'python'}
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^```(\S*)\s*$')


def read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def outside_code(text: str) -> str:
    """The text with fenced blocks and inline code blanked out."""
    text = re.sub(r'^```.*?^```', '', text, flags=re.S | re.M)
    return re.sub(r'`[^`\n]*`', '', text)


def anchors(text: str) -> set:
    """GitHub's heading anchors of a page."""
    slugs = set()
    for heading in re.findall(r'^#{1,6} (.+)$', outside_code(text), re.M):
        slug = re.sub(r'[^\w\- ]', '', heading.strip().lower())
        slugs.add(slug.replace(' ', '-'))
    return slugs


def broken_links(page: str) -> list:
    broken = []
    for target in LINK.findall(outside_code(read(page))):
        if re.match(r'^[a-z]+:', target):
            continue  # http(s), mailto: not this repository's
        path, _, anchor = target.partition('#')
        full = osp.normpath(osp.join(osp.dirname(page), path)) if path \
            else page
        if not osp.exists(full):
            broken.append(target)
            continue
        if anchor and full.endswith('.md') and anchor not in anchors(
                read(full)):
            broken.append(target)
    return broken


@pytest.mark.parametrize('page', PAGES, ids=lambda p: osp.relpath(p, ROOT))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / 'a.md').write_text('# Top\n## Two words\n')
    page = tmp_path / 'b.md'
    page.write_text('[ok](a.md#two-words) [bad](a.md#three) [gone](c.md) '
                    '`[code](x.md)` [web](https://example.org/x.md)\n')
    assert broken_links(str(page)) == ['a.md#three', 'c.md']


def command_blocks(page: str):
    """``(line, language, marker)`` of every fenced block; marker is the
    HTML comment on the line just before the fence, or None."""
    lines, inside = read(page).split('\n'), False
    for i, line in enumerate(lines):
        match = FENCE.match(line)
        if not match:
            continue
        if not inside and match.group(1):
            prev = lines[i - 1].strip() if i else ''
            marker = re.fullmatch(r'<!-- (.+?) -->', prev)
            yield i + 1, match.group(1), marker and marker.group(1)
        inside = not inside


def unrun_blocks(page: str) -> list:
    bad = []
    for line, lang, marker in command_blocks(page):
        if lang not in COMMAND_LANGS:
            continue
        where = f'{osp.relpath(page, ROOT)}:{line}'
        if marker is None:
            bad.append(f'{where}: no marker')
        elif marker.startswith('needs:'):
            if not marker[len('needs:'):].strip():
                bad.append(f'{where}: needs what?')
        elif marker.startswith('run-by: ') or marker in NAMED:
            test = NAMED.get(marker) or marker[len('run-by: '):]
            path, _, name = test.partition('::')
            if not osp.isfile(osp.join(ROOT, path)) or (
                    name and f'def {name}(' not in read(osp.join(ROOT, path))):
                bad.append(f'{where}: {test} does not exist')
        else:
            bad.append(f'{where}: unknown marker {marker!r}')
    return bad


@pytest.mark.parametrize('page', PAGES, ids=lambda p: osp.relpath(p, ROOT))
def test_every_command_block_is_run_or_says_what_it_needs(page):
    assert unrun_blocks(page) == []


def test_an_unmarked_or_falsely_marked_block_is_found(tmp_path):
    page = tmp_path / 'p.md'
    page.write_text(
        '```bash\nrm -rf /\n```\n'
        '<!-- needs: -->\n```python\nx\n```\n'
        '<!-- run-by: tests/test_docs.py::test_nothing_like_it -->\n'
        '```bash\nx\n```\n'
        '<!-- needs: GPUs -->\n```bash\nok\n```\n'
        '```text\nnot a command\n```\n'
        '<!-- run-by: tests/test_docs.py::test_docs_readme_is_a_front_page -->'
        '\n```bash\nok\n```\n')
    assert [b.split(': ', 1)[1] for b in unrun_blocks(str(page))] == [
        'no marker', 'needs what?',
        'tests/test_docs.py::test_nothing_like_it does not exist']


def test_ci_runs_the_readme_test_command():
    """.ci/run reads the line two lines after the marker: the command."""
    lines = read(osp.join(ROOT, 'README.md')).split('\n')
    at = lines.index('<!-- test-command -->')
    assert lines[at + 1] == '```bash'
    assert 'pytest tests' in lines[at + 2]
    assert "'/<!-- test-command -->/{getline; getline; print; exit}'" in \
        read(osp.join(ROOT, '.ci', 'run'))


def test_docs_readme_is_a_front_page():
    text = read(osp.join(ROOT, 'README.md'))
    assert text.count('\n') <= 250
    for section in ('## What X-CLIP is', '## Quick start',
                    '## Model zoo and results', '## Documentation',
                    '## Licence', '## Citation'):
        assert section in text


def test_metafile_is_mmaction2_schema_and_names_existing_configs():
    meta = yaml.safe_load(read(osp.join(ROOT, 'metafile.yml')))
    collections = {c['Name']: c for c in meta['Collections']}
    assert all(c['Paper']['URL'] and c['Paper']['Title']
               for c in collections.values())
    names = [m['Name'] for m in meta['Models']]
    assert len(names) == len(set(names))
    for model in meta['Models']:
        assert {'Name', 'Config', 'In Collection', 'Metadata', 'Results',
                'Converted From', 'Weights'} <= set(model), model['Name']
        assert model['In Collection'] in collections
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
        for result in model['Results']:
            assert result['Dataset'] and result['Task'] and result['Metrics']
            metrics = result['Metrics'].values()
            assert all(isinstance(v, float) for v in metrics)


def test_metafile_holds_every_config_of_the_readme_results():
    """The README's results tables and the metafile name the same
    configs (the zero-shot rows through the model that is tested on
    the splits)."""
    meta = yaml.safe_load(read(osp.join(ROOT, 'metafile.yml')))
    in_meta = {m['Config'] for m in meta['Models']}
    readme = read(osp.join(ROOT, 'README.md'))
    zoo = readme.split('## Model zoo and results', 1)[1].split('\n## ', 1)[0]
    linked = set(re.findall(r'\]\((configs/[\w/]+\.py)\)', zoo))
    shots = re.findall(r'few_shot_\{(\w+),(\w+)\}_k\{([\d,]+)\}', zoo)
    for datasets in shots:
        for dataset in datasets[:2]:
            for k in datasets[2].split(','):
                linked.add(f'configs/few_shot/xclip_b16_32f_few_shot_'
                           f'{dataset}_k{k}.py')
    assert len(linked) == len(in_meta) and linked == in_meta


TEST_REF = re.compile(r'`(tests/[\w/]+\.py)?::(\w+)(?:\[[^\]]*\])?`')


def missing_tests(text: str) -> list:
    """``path::name`` references (``::name`` continues the last path) whose
    test function does not exist."""
    missing, path = [], None
    for ref_path, name in TEST_REF.findall(text):
        path = ref_path or path
        full = osp.join(ROOT, path) if path else ''
        if not osp.isfile(full) or f'def {name}(' not in read(full):
            missing.append(f'{path}::{name}')
    return missing


@pytest.mark.parametrize('page', PAGES, ids=lambda p: osp.relpath(p, ROOT))
def test_every_named_test_exists(page):
    """The threat model, reliability and testing pages name the test behind
    each promise; each must exist."""
    assert missing_tests(read(page)) == []


def test_a_named_test_that_does_not_exist_is_found():
    text = ('`tests/test_docs.py::test_every_named_test_exists`, '
            '`::no_such_test`, `tests/nowhere.py::x`')
    assert missing_tests(text) == ['tests/test_docs.py::no_such_test',
                                   'tests/nowhere.py::x']
