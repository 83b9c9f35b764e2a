"""Check annotation labels against the model's classes before they are used.

A label outside the head's classes fails in training deep inside the loss
(``Class values must be smaller than num_classes``, no file or line named)
and is scored silently as a miss in testing. :class:`CheckLabelsHook` checks
every line of each :class:`~mmxclip.datasets.RobustVideoDataset` against
``model.cls_head.num_classes`` before its loop starts.
"""
from typing import Any, Iterator

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def _robust_datasets(dataset: Any) -> Iterator[Any]:
    """The datasets with ``check_labels`` in ``dataset`` and its wrappers
    (``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``)."""
    if hasattr(dataset, 'check_labels'):
        yield dataset
    for inner in getattr(dataset, 'datasets', None) or []:
        yield from _robust_datasets(inner)
    if getattr(dataset, 'dataset', None) is not None:
        yield from _robust_datasets(dataset.dataset)


@HOOKS.register_module()
class CheckLabelsHook(Hook):
    """Refuse annotation labels outside ``[0, model.cls_head.num_classes)``,
    naming the file and line, before training, validation and testing.

    Each dataset is checked once per run. Models without a ``cls_head``
    with ``num_classes`` are not checked.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._checked = set()

    def before_train(self, runner: Any) -> None:
        self._check(runner, runner.train_dataloader)

    def before_val(self, runner: Any) -> None:
        self._check(runner, runner.val_dataloader)

    def before_test(self, runner: Any) -> None:
        self._check(runner, runner.test_dataloader)

    def _check(self, runner: Any, dataloader: Any) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        num_classes = getattr(getattr(model, 'cls_head', None),
                              'num_classes', None)
        if num_classes is None:
            return
        for dataset in _robust_datasets(dataloader.dataset):
            if id(dataset) not in self._checked:
                dataset.check_labels(num_classes, 'model.cls_head.num_classes')
                self._checked.add(id(dataset))
