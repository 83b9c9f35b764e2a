"""``tools/test.py`` in an inference precision, set by the config::

    test_cfg = dict(type='PrecisionTestLoop', precision='int8')

(or ``tools/test.py CONFIG CKPT --precision int8``). MMEngine's
``TestLoop`` after :func:`~mmxclip.models.precision.apply_precision` on the
model the runner loaded the checkpoint into.
"""
from typing import Dict, List, Union

from mmaction.registry import LOOPS
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop
from torch.utils.data import DataLoader

from ..models.precision import apply_precision, resolve_precision


@LOOPS.register_module()
class PrecisionTestLoop(TestLoop):
    """MMEngine's ``TestLoop`` with the model in ``precision``.

    Args:
        runner: The runner.
        dataloader: As ``TestLoop``'s.
        evaluator: As ``TestLoop``'s.
        precision: ``'fp32'``, ``'bf16'``, ``'int8'`` or ``'auto'``.
        fp16: As ``TestLoop``'s (CUDA autocast; not with a precision).
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Dict, List],
                 precision: str = 'fp32',
                 fp16: bool = False) -> None:
        resolve_precision(precision)  # a bad name fails before the data
        super().__init__(runner, dataloader, evaluator, fp16)
        self.precision = precision

    def run(self) -> dict:
        """Apply the precision (the checkpoint is loaded by now), then
        test."""
        model = self.runner.model
        apply_precision(model.module if is_model_wrapper(model) else model,
                        self.precision)
        return super().run()
