"""X-CLIP's learning-rate schedule as an MMEngine parameter scheduler.

The official training code (``utils/optimizer.py``, ``main.py``) builds
timm's ``CosineLRScheduler(t_initial=T, lr_min=lr / 100, warmup_t=W,
warmup_lr_init=0, t_in_epochs=False)`` with timm's default
``warmup_prefix=False`` and calls ``step_update(t)`` right *after* the
optimizer step of loader iteration ``t``, so only every ``A``
(accumulation) iterations. MMEngine's ``LinearLR`` is multiplicative (it
cannot start from 0) and its cosine schedulers restart at their ``begin``,
so neither gives these values; :class:`TimmCosineLR` is the closed form.
"""
import math
from typing import Optional, Union

from mmaction.registry import PARAM_SCHEDULERS
from mmengine.optim import OptimWrapper
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from torch.optim import Optimizer


@PARAM_SCHEDULERS.register_module()
class TimmCosineLR(LRSchedulerMixin, _ParamScheduler):
    """timm's one-cycle cosine with linear warm-up, as X-CLIP steps it.

    timm's value at loader iteration ``t`` (``T = end - begin``, ``W =
    warmup``, ``base`` each group's initial lr)::

        lr(t) = t * (base / W)                                  t < W
        lr(t) = eta_min + (base - eta_min) * (1 + cos(pi t / T)) / 2

    The cosine counts from ``t = 0``: the warm-up replaces its first ``W``
    steps (it does not start after them). ``eta_min`` is one value for all
    groups, as timm's ``lr_min``: ``eta_min_ratio`` times the optimizer's
    base lr, so the 10x groups also end at base lr / 100.

    The official code updates the lr after each optimizer step, so the
    update at iteration ``i`` runs at ``lr(i - A)``, the value set after the
    previous update (``A`` = the optimizer wrapper's
    ``accumulative_counts``), and the first update at timm's initial value,
    ``lr(0) = 0``. MMEngine's ``ParamSchedulerHook`` steps after every
    iteration; this scheduler sets ``lr(max(i - A, 0))`` for iteration ``i``,
    which the wrapper uses at its updates. Stateless apart from MMEngine's
    step count, so resuming from ``state_dict`` continues exactly.

    Args:
        optimizer: The optimizer wrapper (or a plain optimizer: ``A = 1``).
        warmup: Warm-up length ``W`` in iterations (in epochs with
            ``convert_to_iter_based=True``).
        eta_min_ratio: Final lr as a fraction of the base lr.
        begin: First iteration of the schedule.
        end: End of the cosine (required).
        last_step: As for MMEngine's schedulers.
        by_epoch: Must be False (epoch-based configs are converted).
        verbose: Print each value.

    Raises:
        ValueError: ``by_epoch``, no ``end``, or ``warmup`` outside
            ``[0, end - begin)``.
    """

    def __init__(self,
                 optimizer: Union[OptimWrapper, Optimizer],
                 warmup: int,
                 eta_min_ratio: float = 0.01,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if by_epoch:
            raise ValueError('TimmCosineLR steps per iteration: give epochs '
                             'with convert_to_iter_based=True, or iterations '
                             'with by_epoch=False')
        if end == INF:
            raise ValueError('TimmCosineLR needs end: the cosine runs over '
                             'end - begin iterations')
        if not 0 <= warmup < end - begin:
            raise ValueError(f'warmup must be in [0, {end - begin}), got '
                             f'{warmup}')
        self.warmup = warmup
        inner = getattr(optimizer, 'optimizer', optimizer)
        self.eta_min = inner.defaults['lr'] * eta_min_ratio
        # Private MMEngine API: OptimWrapper._accumulative_counts (MMEngine
        # has no public getter for the accumulation count); why
        # setup.py pins mmengine<0.11.
        self.lag = getattr(optimizer, '_accumulative_counts', 1)
        super().__init__(optimizer, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls,
                              *args,
                              warmup: float,
                              begin: float = 0,
                              end: float = INF,
                              by_epoch: bool = True,
                              epoch_length: Optional[int] = None,
                              **kwargs) -> 'TimmCosineLR':
        """The iteration-based scheduler of an epoch-based config."""
        if not by_epoch or not epoch_length or epoch_length <= 0:
            raise ValueError('convert_to_iter_based needs by_epoch=True and '
                             f'a positive epoch_length, got {epoch_length}')
        # int(epochs * iterations), as the official build_scheduler.
        return cls(
            *args,
            warmup=int(warmup * epoch_length),
            begin=int(begin * epoch_length),
            end=int(end * epoch_length) if end != INF else INF,
            by_epoch=False,
            **kwargs)

    def _get_value(self) -> list:
        """The lr of every group for the current iteration."""
        t = max(self.last_step - self.lag, 0)
        if t < self.warmup:
            return [t * (base / self.warmup) for base in self.base_values]
        # timm's operation order, so the values agree to the last bit.
        cosine = 1 + math.cos(math.pi * t / (self.end - self.begin))
        return [
            self.eta_min + 0.5 * (base - self.eta_min) * cosine
            for base in self.base_values
        ]
