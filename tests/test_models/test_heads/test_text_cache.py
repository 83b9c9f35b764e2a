"""Class-name text features are computed once per class set.

Frozen text encoder: once across training batches, optimizer steps, views
and evaluation. Trainable: every training batch (it needs gradients), once
per evaluation pass (no grad), again after the weights change. A new class
list invalidates the cache.
"""
import copy

import pytest
import torch
from helpers.tiny_model import tiny_xclip_cfg
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from mmxclip.models.heads import tokenize

CLASSES = ['moving left', 'moving right', 'growing', 'shrinking']
FRAMES = 4


def tiny_xclip(freeze_text_encoder: bool):
    torch.manual_seed(0)
    return MODELS.build(tiny_xclip_cfg(
        FRAMES, CLASSES, layers=1, heads=None, normalize=False,
        freeze_text_encoder=freeze_text_encoder))


class TextCalls:
    """Counts the text encoder's forward passes."""

    def __init__(self, model):
        self.count = 0
        model.cls_head.text_encoder.register_forward_hook(self._hook)

    def _hook(self, *_):
        self.count += 1


def clips(batch: int, views: int = 1) -> torch.Tensor:
    return torch.randn(batch, views, 3, FRAMES, 32, 32)


def samples(batch: int):
    return [ActionDataSample().set_gt_label(torch.tensor(i % len(CLASSES)))
            for i in range(batch)]


def train_steps(model, steps: int) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    model.train()
    for _ in range(steps):
        losses = model(clips(2), samples(2), mode='loss')
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()


def eval_pass(model, batches: int, views: int = 3):
    model.eval()
    with torch.no_grad():
        return [model(clips(2, views), samples(2), mode='predict')
                for _ in range(batches)]


def test_frozen_encoder_runs_once_across_training_views_and_eval():
    model = tiny_xclip(freeze_text_encoder=True)
    calls = TextCalls(model)
    train_steps(model, 3)
    assert calls.count == 1
    eval_pass(model, batches=2, views=3)
    eval_pass(model, batches=2, views=1)
    assert calls.count == 1


def test_trainable_encoder_every_train_batch_once_per_eval_pass():
    model = tiny_xclip(freeze_text_encoder=False)
    calls = TextCalls(model)
    train_steps(model, 3)
    assert calls.count == 3  # gradients must flow into the text encoder
    eval_pass(model, batches=3)
    assert calls.count == 4
    eval_pass(model, batches=3)  # same weights: the cache still holds
    assert calls.count == 4
    train_steps(model, 1)  # the step changes the weights ...
    eval_pass(model, batches=2)  # ... so the next pass re-encodes once
    assert calls.count == 6


def test_cached_features_equal_a_fresh_encoding():
    """What the cache serves is what a separate copy of the text encoder
    computes from the class names, also after the weights change in place
    (an optimizer step, ``load_state_dict``): not the stale features."""
    model = tiny_xclip(freeze_text_encoder=True).eval()
    head = model.cls_head

    def fresh():
        return copy.deepcopy(head.text_encoder)(tokenize(CLASSES))

    with torch.no_grad():
        cached = head.class_embeddings()
        assert head.class_embeddings() is cached  # served from the cache
        torch.testing.assert_close(cached, fresh(), rtol=0, atol=0)
        for p in head.text_encoder.parameters():
            p.mul_(1.5)
        updated = head.class_embeddings()
        torch.testing.assert_close(updated, fresh(), rtol=0, atol=0)
    assert (updated - cached).abs().max() > 1e-3


def test_new_class_list_invalidates_the_cache():
    model = tiny_xclip(freeze_text_encoder=True).eval()
    calls = TextCalls(model)
    before = eval_pass(model, batches=1, views=1)[0]
    model.set_class_names(['rotating clockwise', 'moving up', 'moving down'])
    after = eval_pass(model, batches=1, views=1)[0]
    assert calls.count == 2
    assert before[0].pred_score.shape == (len(CLASSES), )
    assert after[0].pred_score.shape == (3, )


@pytest.mark.parametrize('freeze', [True, False])
def test_moving_the_model_invalidates_the_cache(freeze):
    """New storage (``.to``, ``load_state_dict`` of new tensors) re-encodes."""
    model = tiny_xclip(freeze_text_encoder=freeze).eval()
    calls = TextCalls(model)
    eval_pass(model, batches=1)
    model.to(torch.float64).to(torch.float32)
    eval_pass(model, batches=1)
    assert calls.count == 2
