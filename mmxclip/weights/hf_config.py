"""A HuggingFace X-CLIP ``config.json``, read as transformers reads it.

transformers has written two layouts: ``text_config`` / ``vision_config``
(current releases) and ``text_config_dict`` / ``vision_config_dict`` (older
ones; files on the hub often carry both). ``XCLIPConfig`` builds each tower
from ``*_config_dict`` when the file has it, else from ``*_config``, and a
key the file does not have takes the default of ``XCLIPTextConfig`` /
``XCLIPVisionConfig`` / ``XCLIPConfig`` (the tables below, checked against
transformers in ``tests/test_weights/test_hf_config.py``).
:func:`resolve_hf_config` resolves every key that decides mmxclip's
architecture that way and refuses, naming the key, what mmxclip cannot build
as transformers would. What names code in a ``config.json`` (``auto_map``,
the custom classes transformers runs with ``trust_remote_code``, and
``architectures`` other than X-CLIP's) is refused, naming the key: mmxclip
builds its own X-CLIP and never runs a model's code, so such a file is not
one it can reproduce.
"""
import json
from dataclasses import dataclass
from typing import Any, Dict

# Defaults of transformers' X-CLIP configs for the keys read here.
TEXT_DEFAULTS = dict(
    vocab_size=49408, hidden_size=512, intermediate_size=2048,
    num_hidden_layers=12, num_attention_heads=8, max_position_embeddings=77,
    hidden_act='quick_gelu', layer_norm_eps=1e-5)
VISION_DEFAULTS = dict(
    hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
    num_attention_heads=12, mit_hidden_size=512, mit_intermediate_size=2048,
    mit_num_hidden_layers=1, mit_num_attention_heads=8, image_size=224,
    patch_size=32, num_frames=8, hidden_act='quick_gelu', layer_norm_eps=1e-5)
TOP_DEFAULTS = dict(projection_dim=512, prompt_layers=2,
                    prompt_num_attention_heads=8,
                    prompt_hidden_act='quick_gelu')
# The classes transformers has for X-CLIP (``architectures``).
HF_CLASSES = ('XCLIPModel', 'XCLIPTextModel', 'XCLIPVisionModel')
# (hidden, heads, intermediate) per attention stack.
_STACKS = (('text_config', 'hidden_size', 'num_attention_heads',
            'intermediate_size'),
           ('vision_config', 'hidden_size', 'num_attention_heads',
            'intermediate_size'),
           ('vision_config', 'mit_hidden_size', 'mit_num_attention_heads',
            'mit_intermediate_size'),
           ('', 'projection_dim', 'prompt_num_attention_heads', None))
# Activations mmxclip builds: the vision act also drives HF's MIT, and the
# MIT and the prompt generator are QuickGELU in mmxclip (as in X-CLIP).
_ACTS = {('text_config', 'hidden_act'): ('quick_gelu', 'gelu'),
         ('vision_config', 'hidden_act'): ('quick_gelu', ),
         ('', 'prompt_hidden_act'): ('quick_gelu', )}


@dataclass
class HFConfig:
    """The resolved ``config.json`` of a HuggingFace ``XCLIPModel``.

    Attributes:
        path: The ``config.json``.
        text: ``text_config`` keys of :data:`TEXT_DEFAULTS`, resolved.
        vision: ``vision_config`` keys of :data:`VISION_DEFAULTS`, resolved.
        top: ``XCLIPConfig`` keys of :data:`TOP_DEFAULTS`, resolved.
    """
    path: str
    text: Dict[str, Any]
    vision: Dict[str, Any]
    top: Dict[str, Any]

    def get(self, section: str, key: str) -> Any:
        """A value by its section (``'text_config'``, ``'vision_config'``,
        ``''`` for the top level) and key."""
        return {'text_config': self.text, 'vision_config': self.vision,
                '': self.top}[section][key]

    def where(self, section: str, key: str) -> str:
        """``config.json: vision_config.hidden_size = 768``, for messages."""
        name = f'{section}.{key}' if section else key
        return f'{self.path}: {name} = {self.get(section, key)!r}'


def _tower(cfg: Dict[str, Any], name: str, defaults: Dict[str, Any],
           path: str) -> Dict[str, Any]:
    """One tower's keys as ``XCLIPConfig`` resolves them."""
    given = cfg.get(f'{name}_config_dict')
    if given is None:
        given = cfg.get(f'{name}_config')
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError(f'{path}: {name}_config is a '
                         f'{type(given).__name__}, expected an object')
    return {k: given.get(k, v) for k, v in defaults.items()}


def _check_code(cfg: Dict[str, Any], path: str) -> None:
    """Refuse what names code: ``auto_map``, or ``architectures`` other
    than :data:`HF_CLASSES`, at the top or in a tower."""
    for section in ('', 'text_config', 'vision_config', 'text_config_dict',
                    'vision_config_dict'):
        part = cfg.get(section) if section else cfg
        if not isinstance(part, dict):
            continue
        where = f'{path}: {section + "." if section else ""}'
        if part.get('auto_map') is not None:
            raise ValueError(
                f'{where}auto_map = {part["auto_map"]!r}: names custom model '
                "code; mmxclip builds X-CLIP's own classes and never runs "
                "a model's code")
        names = part.get('architectures')
        if names is not None and not (isinstance(names, list) and all(
                name in HF_CLASSES for name in names)):
            raise ValueError(f'{where}architectures = {names!r}: expected '
                             f'null or some of {list(HF_CLASSES)}')


def _square(hf: HFConfig, key: str) -> None:
    """``image_size`` / ``patch_size`` may be ``[n, n]``; make them ``n``."""
    value = hf.vision[key]
    if isinstance(value, (list, tuple)) and len(value) == 2 \
            and value[0] == value[1]:
        hf.vision[key] = value = value[0]
    if type(value) is not int:
        raise ValueError(f'{hf.where("vision_config", key)}: expected one '
                         'int (square images and patches)')


def _check(hf: HFConfig) -> None:
    """Refuse what mmxclip cannot build as transformers would."""
    for section, key in [('text_config', k) for k in TEXT_DEFAULTS] + [
            ('vision_config', k) for k in VISION_DEFAULTS
            if k not in ('image_size', 'patch_size')] + [
                ('', k) for k in TOP_DEFAULTS]:
        value = hf.get(section, key)
        kind = str if key.endswith('act') else (
            float if key.endswith('eps') else int)
        if not (isinstance(value, kind) and type(value) is not bool) \
                or (kind is int and value < 1):
            raise ValueError(f'{hf.where(section, key)}: expected a '
                             f'{"positive " if kind is int else ""}'
                             f'{kind.__name__}')
    for (section, key), supported in _ACTS.items():
        if hf.get(section, key) not in supported:
            raise ValueError(f'{hf.where(section, key)}: mmxclip builds '
                             f'{" or ".join(supported)} here')
    for section in ('text_config', 'vision_config'):
        if hf.get(section, 'layer_norm_eps') != 1e-5:
            raise ValueError(f'{hf.where(section, "layer_norm_eps")}: '
                             "mmxclip's layer norms use CLIP's 1e-5")
    for section, hidden, heads, inner in _STACKS:
        width = hf.get(section, hidden)
        if width % hf.get(section, heads):
            raise ValueError(f'{hf.where(section, heads)}: does not divide '
                             f'{hidden} = {width}')
        if inner and hf.get(section, inner) != 4 * width:
            raise ValueError(f'{hf.where(section, inner)}: mmxclip builds '
                             f'4 x {hidden} = {4 * width}')


def resolve_hf_config(cfg: Dict[str, Any], path: str) -> HFConfig:
    """Resolve ``config.json`` contents as ``XCLIPConfig`` does.

    Args:
        cfg: The parsed JSON (or ``XCLIPConfig.to_dict()``).
        path: Where it comes from, for messages.

    Returns:
        HFConfig: Every architecture key, from ``cfg`` or HF's default.

    Raises:
        ValueError: Not X-CLIP's config, custom code named, a value of the
            wrong type, or one mmxclip cannot build (activation, layer-norm
            eps, MLP width, heads that do not divide the width); names file
            and key.
    """
    if not isinstance(cfg, dict) or cfg.get('model_type') != 'xclip':
        found = cfg.get('model_type') if isinstance(cfg, dict) else cfg
        raise ValueError(f"{path}: model_type is {found!r}, expected 'xclip'")
    _check_code(cfg, path)
    hf = HFConfig(
        path=path, text=_tower(cfg, 'text', TEXT_DEFAULTS, path),
        vision=_tower(cfg, 'vision', VISION_DEFAULTS, path),
        top={k: cfg.get(k, v) for k, v in TOP_DEFAULTS.items()})
    _square(hf, 'image_size')
    _square(hf, 'patch_size')
    _check(hf)
    return hf


def read_hf_config(path: str) -> HFConfig:
    """Read a HuggingFace X-CLIP ``config.json`` (:func:`resolve_hf_config`).

    Raises:
        ValueError: Not valid JSON, or what :func:`resolve_hf_config`
            refuses.
    """
    with open(path, encoding='utf-8') as f:
        try:
            cfg = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: not valid JSON ({err})') from err
    return resolve_hf_config(cfg, path)
