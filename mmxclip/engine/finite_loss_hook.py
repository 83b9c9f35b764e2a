"""Stop at the first non-finite loss, before a checkpoint of the broken
weights is written."""
from typing import Any, Dict, Optional

import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training when a loss becomes NaN or infinite.

    Checks every ``log_vars`` entry whose key contains ``'loss'`` (the keys
    MMEngine sums into the total loss) after every ``interval`` iterations.
    In distributed runs the ranks agree through one ``all_reduce``, so all of
    them stop together. The hook runs before :class:`CheckpointHook` (which
    has priority ``VERY_LOW``), so the weights updated from a non-finite loss
    are never saved.

    Args:
        interval: Check every ``interval`` iterations.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def after_train_iter(self,
                         runner: Any,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[Dict[str, torch.Tensor]] = None
                         ) -> None:
        """Raise if a loss in ``outputs`` is not finite (on any rank).

        Raises:
            FloatingPointError: Naming the iteration, epoch and loss keys.
        """
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        values = {k: torch.as_tensor(v).detach().float().cpu()
                  for k, v in outputs.items() if 'loss' in k}
        bad = [k for k, v in values.items() if not torch.isfinite(v).all()]
        flag = torch.tensor(float(bool(bad)))
        dist.all_reduce(flag, op='max')
        if flag.item() == 0:
            return
        found = ', '.join(f'{k}={values[k].tolist()}' for k in bad)
        where = f' on this rank: {found}' if bad else ' on another rank'
        raise FloatingPointError(
            f'non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}){where}; expected finite values for every '
            f'loss key ({", ".join(values)}). Training stopped before '
            'this iteration was checkpointed; lower the learning rate, '
            'check the inputs, or resume from the last checkpoint')
