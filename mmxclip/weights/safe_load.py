"""Reading pickled checkpoints without running anything from them.

Two policies, one reader (``torch.load(weights_only=True)``, whose
unpickler creates only what an allowlist names):

* **strict** (:func:`safe_torch_load`; behind MMEngine's ``load_from``,
  ``--resume``, ``tools/test.py``, ``http(s)://``, ``torchvision://`` and
  ``open-mmlab://`` through :mod:`mmxclip.weights.mmengine_schemes`):
  tensors, containers and exactly the types MMEngine writes into its
  checkpoints (:func:`mmxclip.weights.allowlist.mmengine_safe_globals`). A
  file that names anything else is refused with the file and the object named.
* **inert** (:mod:`mmxclip.weights.inert`, for reading weights): the same,
  plus every other object the file names is built as inert data instead.

Plain pickles (results dumped by ``tools/test.py --dump``) are read with the
strict policy too (:func:`load_pickle`).

Both name the file in every error: refused objects (one formatter,
:func:`refusal_message`), empty, truncated or damaged files
(:func:`unreadable_message`). The environment variable
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot switch this off: every call
passes ``weights_only=True`` explicitly.
"""
import contextlib
import io
import os.path as osp
import pickle
import struct
from typing import Any, Iterator, Optional

import torch

from .allowlist import mmengine_safe_globals

# What torch's message says when it refuses an object, as opposed to a file
# that is not a pickle at all ("Unsupported operand").
_REFUSALS = ('GLOBAL', 'reduce for', 'Can only', 'persistent_load',
             'getattr(')
EXPECTED = ('expected an MMEngine checkpoint or weights holding only '
            "tensors, containers, numpy arrays and MMEngine's HistoryBuffer"
            '; mmxclip never runs code from checkpoint files. For the '
            'weights of other files (official X-CLIP training checkpoints'
            '...) use clip://FILE, init_xclip or tools/convert_weights.py, '
            'which read other objects as inert data')


def refusal_reason(error: BaseException) -> Optional[str]:
    """What torch's weights-only unpickler refused, or None if ``error`` is
    not a refusal (a damaged file, or not a pickle).

    Its message wraps one sentence that names the object in boilerplate and
    in advice to allowlist it (wrong for a file from a stranger).
    """
    text = ' '.join(str(error).split())
    text = text.split('WeightsUnpickler error:', 1)[-1]
    for sentence in text.split('. '):
        if any(marker in sentence for marker in _REFUSALS):
            return sentence.strip().rstrip('.')
    return None


def refusal_message(source: str, reason: str, expected: str) -> str:
    """The one message for a refused object."""
    return f'{source}: refused to unpickle: {reason}; {expected}'


def unreadable_message(source: str, error: BaseException,
                       kinds: str = 'a torch.save checkpoint') -> str:
    """The one message for a file that cannot be read at all."""
    if osp.isfile(source) and osp.getsize(source) == 0:
        what = 'the file is empty (0 bytes)'
    else:
        # torch's first sentence says what failed; the rest is advice.
        reason = ' '.join(str(error).split()).split('. ')[0] or (
            'the data ends early' if isinstance(error, EOFError) else
            'no details')
        kind = ('struct.error' if isinstance(error, struct.error) else
                type(error).__name__)
        what = (f'not a complete PyTorch file ({kind}: {reason[:200]}); it '
                'may be truncated or damaged')
    return f'{source}: {what}; expected {kinds}'


@contextlib.contextmanager
def named_errors(source: str,
                 expected: str = EXPECTED,
                 kinds: str = 'a torch.save checkpoint') -> Iterator[None]:
    """Re-raise torch's errors while reading ``source`` with its name.

    Args:
        source: The file or URL, named in the messages.
        expected: What the policy accepts, said after a refusal.
        kinds: The file types the caller reads, said for a damaged file.

    Raises:
        pickle.UnpicklingError: An object the policy does not create.
        ValueError: An empty, truncated or damaged file.
    """
    try:
        yield
    except OSError:
        raise
    # A damaged pickle fails wherever the bytes run out or stop making
    # sense: EOFError, struct.error, KeyError (memo), IndexError (stack)...
    except Exception as err:
        reason = refusal_reason(err)
        if reason is not None:
            raise pickle.UnpicklingError(
                refusal_message(source, reason, expected)) from err
        if 'TorchScript' in str(err):
            raise ValueError(
                f'{source} is a TorchScript archive (OpenAI CLIP); '
                "MMEngine's loaders read torch.save checkpoints: use "
                f'clip://{source} or tools/convert_weights.py') from err
        raise ValueError(unreadable_message(source, err, kinds)) from err


def safe_torch_load(filename: Any,
                    map_location: Any = None,
                    extra_globals: Optional[list] = None) -> Any:
    """``torch.load(weights_only=True)`` with the strict allowlist.

    Args:
        filename: Path or file object.
        map_location: As for :func:`torch.load`.
        extra_globals: Allowed besides
            :func:`mmxclip.weights.allowlist.mmengine_safe_globals`.

    Returns:
        The unpickled object.
    """
    allowed = mmengine_safe_globals() + list(extra_globals or [])
    with torch.serialization.safe_globals(allowed):
        return torch.load(filename, map_location=map_location,
                          weights_only=True)


def _storage_from_bytes(data: bytes) -> Any:
    """What plain pickle writes for a tensor's storage
    (``torch.storage._load_from_bytes``, which would ``torch.load`` the
    bytes with ``weights_only=False``), read weights-only."""
    return torch.load(io.BytesIO(data), weights_only=True)


def load_pickle(path: str) -> Any:
    """A plain pickle file, such as the results ``tools/test.py --dump``
    writes (MMEngine's ``DumpResults``), with the strict policy.

    Raises:
        pickle.UnpicklingError: An object the strict policy refuses.
        ValueError: An empty or damaged file.
    """
    from torch import _weights_only_unpickler as unpickler
    allowed = mmengine_safe_globals() + [
        (_storage_from_bytes, 'torch.storage._load_from_bytes')]
    with named_errors(path, EXPECTED, 'a pickle (tools/test.py --dump)'), \
            torch.serialization.safe_globals(allowed), open(path, 'rb') as f:
        return unpickler.load(f, encoding='ASCII')
