"""Config text from a checkpoint, read as data and never executed.

MMEngine stores the training config in every checkpoint as Python text
(``meta['cfg']``, mmcv 1.x: ``meta['config']``), and ``Config.fromstring``
would execute it. What ``Config.pretty_text`` / ``Config.dump`` write is
assignments of literals, so :func:`parse_config_text` reads exactly that with
:mod:`ast`: module-level ``name = value`` where a value is a constant, a
negated number, a list, tuple, set or dict of values, or ``dict(key=value,
...)``. Anything else (calls, names, imports, attribute access, comprehension,
``**`` unpacking, statements other than those assignments) is refused,
naming the line and the construct.
"""
import ast
from typing import Any, Dict


class ConfigTextError(ValueError):
    """Config text that is not literal assignments; names what was refused."""


def _refuse(node: ast.AST, source: str, why: str) -> ConfigTextError:
    """The error for ``node``: where it is, what it is, why it is refused."""
    code = ast.unparse(node)
    code = code if len(code) <= 60 else code[:57] + '...'
    return ConfigTextError(
        f'{source}: line {getattr(node, "lineno", "?")}: refused {why}: '
        f'{code!r}; config text is read as literal assignments '
        '(as MMEngine dumps configs), never executed')


def _value(node: ast.AST, source: str) -> Any:
    """The literal ``node`` stands for."""
    if isinstance(node, ast.Constant):
        return node.value
    if (isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float, complex)):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_value(elt, source) for elt in node.elts]
        return {ast.List: list, ast.Tuple: tuple,
                ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise _refuse(node, source, '** unpacking')
        return {_value(k, source): _value(v, source)
                for k, v in zip(node.keys, node.values)}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and not node.args):
        if any(kw.arg is None for kw in node.keywords):
            raise _refuse(node, source, '** unpacking')
        return {kw.arg: _value(kw.value, source) for kw in node.keywords}
    kind = {ast.Call: 'a call', ast.Name: 'a name',
            ast.Attribute: 'attribute access'}.get(
                type(node), f'an expression ({type(node).__name__})')
    raise _refuse(node, source, kind)


def parse_config_text(text: str, source: str) -> Dict[str, Any]:
    """The config dict that literal config text describes.

    Args:
        text: Python config text, as ``Config.pretty_text`` writes it.
        source: Where the text comes from (file and key), for messages.

    Returns:
        dict: Name -> value of every assignment, in order.

    Raises:
        ConfigTextError: Text that is not Python, or any construct beyond
            literal assignments; names the line and the construct.
    """
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as err:
        raise ConfigTextError(f'{source}: line {err.lineno}: not Python '
                              f'config text ({err.msg})') from err
    cfg: Dict[str, Any] = {}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            raise _refuse(stmt, source,
                          f'a statement ({type(stmt).__name__})')
        cfg[stmt.targets[0].id] = _value(stmt.value, source)
    return cfg


def without_config_text(checkpoint: Any, source: str) -> Any:
    """Keep MMEngine's ``Runner.resume`` from executing ``meta['config']``.

    MMEngine 0.10.7 resumes by running ``Config.fromstring(meta['config'])``
    (the key mmcv 1.x wrote) to read ``gpu_ids``; Python config text runs
    when parsed, and even literal text may name ``_base_`` files and
    ``custom_imports`` that run. The text is read as literals
    (:func:`parse_config_text`, which refuses code) and replaced by the one
    line resume reads.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get('config'), str):
        return checkpoint
    cfg = parse_config_text(meta['config'], f"{source}: meta['config']")
    gpu_ids = cfg.get('gpu_ids')
    if isinstance(gpu_ids, (list, tuple)) and all(
            type(i) is int for i in gpu_ids):
        meta['config'] = f'gpu_ids = {list(gpu_ids)!r}\n'
    else:
        del meta['config']
    return checkpoint
