"""Per-class accuracy and a confusion-matrix picture after testing.

MMAction2's ``ConfusionMatrix`` metric computes the matrix but only logs it
as a tensor, and its ``tools/analysis_tools/confusion_matrix.py`` is a
separate run (its own test pass, or a ``--dump`` pickle) that does not
print per-class accuracy. :class:`ClassAccuracyHook` reads the metric's
result where ``tools/test.py`` produces it and writes, in the run's log
folder, ``class_accuracy.csv`` and ``confusion_matrix.png`` (drawn by
``ConfusionMatrix.plot``, the tool's drawing), and logs the per-class table.
"""
import csv
import os.path as osp
from typing import Dict, List, Optional

from mmaction.registry import HOOKS
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

KEY = 'confusion_matrix/result'


def class_accuracy_rows(matrix, class_names: List[str]) -> List[Dict]:
    """Per class (true label rows of ``matrix``): videos, correct, accuracy
    (None for a class without videos)."""
    rows = []
    for i, name in enumerate(class_names):
        videos = int(matrix[i].sum())
        correct = int(matrix[i, i])
        rows.append(dict(label=i, name=name, videos=videos, correct=correct,
                         accuracy=correct / videos if videos else None))
    return rows


def format_rows(rows: List[Dict]) -> str:
    """The per-class table as text."""
    width = max(len(r['name']) for r in rows + [dict(name='class')])
    lines = [f'{"label":>5}  {"class":<{width}}  {"videos":>6}  '
             f'{"correct":>7}  {"accuracy":>8}']
    for r in rows:
        acc = '-' if r['accuracy'] is None else f'{100 * r["accuracy"]:.1f} %'
        lines.append(f'{r["label"]:>5}  {r["name"]:<{width}}  '
                     f'{r["videos"]:>6}  {r["correct"]:>7}  {acc:>8}')
    return '\n'.join(lines)


@HOOKS.register_module()
class ClassAccuracyHook(Hook):
    """Log per-class accuracy and draw the confusion matrix after testing.

    Needs ``dict(type='ConfusionMatrix')`` in ``test_evaluator``; without it
    a warning says so. Class names come from the test dataset's metainfo,
    else from ``model.cls_head.class_names``.

    Args:
        include_values: Print the counts in the picture's cells (default:
            for up to 30 classes).
    """

    priority = 'LOW'

    def __init__(self, include_values: Optional[bool] = None) -> None:
        self.include_values = include_values

    @master_only
    def after_test_epoch(self, runner, metrics: Optional[Dict] = None
                         ) -> None:
        if not metrics or KEY not in metrics:
            runner.logger.warning(
                "ClassAccuracyHook: no confusion matrix in the test metrics; "
                "add dict(type='ConfusionMatrix') to test_evaluator")
            return
        matrix = metrics[KEY]
        names = self._class_names(runner, len(matrix))
        rows = class_accuracy_rows(matrix, names)
        table = osp.join(runner.log_dir, 'class_accuracy.csv')
        with open(table, 'w', newline='', encoding='utf-8') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        picture = osp.join(runner.log_dir, 'confusion_matrix.png')
        self._draw(matrix, names, picture)
        runner.logger.info('Per-class accuracy (rows of the confusion '
                           f'matrix):\n{format_rows(rows)}\n'
                           f'written: {table}, {picture}')

    @staticmethod
    def _class_names(runner, num_classes: int) -> List[str]:
        """The test set's class names, else the head's, else numbers."""
        dataset = runner.test_dataloader.dataset
        names = dataset.metainfo.get('classes')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'cls_head', None)
        if not names and hasattr(head, 'class_names'):
            names = head.class_names
        if not names or len(names) != num_classes:
            names = [str(i) for i in range(num_classes)]
        return list(names)

    def _draw(self, matrix, names: List[str], path: str) -> None:
        """``ConfusionMatrix.plot`` saved to ``path``."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        from mmaction.evaluation import ConfusionMatrix
        values = (len(names) <= 30 if self.include_values is None else
                  self.include_values)
        fig = ConfusionMatrix.plot(matrix, include_values=values,
                                   classes=names, show=False)
        fig.savefig(path, bbox_inches='tight', dpi=100)
        plt.close(fig)
