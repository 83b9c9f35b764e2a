"""init_xclip / zero_shot, and MMAction2's own inference path, on a tiny
converted checkpoint and generated videos."""
import os.path as osp

import pytest
import torch
from helpers.hf_reference import CLASS_NAMES, random_hf_model
from helpers.tiny_model import one_view_at_a_time
from helpers.weight_files import (assert_same_logits, converted_tiny_xclip,
                                  write_video)
from mmaction.apis import inference_recognizer, init_recognizer
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from mmxclip.apis import init_xclip, zero_shot


@pytest.fixture(scope='module')
def hf_model():
    return random_hf_model(seed=11, patch=16, frames=4, layers=2, image=32)


@pytest.fixture(scope='module')
def converted(hf_model, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('converted'))
    ckpt = converted_tiny_xclip(hf_model, folder, CLASS_NAMES,
                                '--num-clips', '1', '--num-crops', '1')
    video = write_video(osp.join(folder, 'clip.mp4'))
    return ckpt, video


def test_converted_checkpoint_rebuilds_with_its_class_names(
        converted, hf_model):
    ckpt, _ = converted
    model = init_xclip(ckpt)
    assert model.cls_head.class_names == CLASS_NAMES
    assert_same_logits(model, hf_model)


def test_zero_shot_ranks_labels(converted):
    ckpt, video = converted
    model = init_xclip(ckpt)
    labels = ['a dog', 'a square moving right', 'cooking', 'swimming']
    ranking = zero_shot(model, video, labels, topk=3)
    assert len(ranking) == 3
    assert {name for name, _ in ranking} <= set(labels)
    probs = [p for _, p in ranking]
    assert probs == sorted(probs, reverse=True)
    everything = zero_shot(model, video, topk=10)  # labels kept
    assert len(everything) == 4
    assert sum(p for _, p in everything) == pytest.approx(1.0, abs=1e-5)
    # Multi-view: 2 clips x 3 crops, each view run on its own here, fused
    # by averaging their probabilities.
    multi = init_xclip(ckpt, labels, num_clips=2, num_crops=3)
    assert multi.cfg.test_pipeline[1]['num_views'] == 2
    ranked = dict(zero_shot(multi, video, topk=4))
    data = Compose(multi.cfg.test_pipeline)(dict(
        filename=video, label=-1, start_index=0, modality='RGB'))
    inputs = multi.data_preprocessor(pseudo_collate([data]))['inputs']
    assert inputs.shape[:2] == (1, 6)
    probs = one_view_at_a_time(multi, inputs)[0].softmax(-1).mean(0)
    assert probs.std() > 1e-3
    torch.testing.assert_close(torch.tensor([ranked[n] for n in labels]),
                               probs)


def test_mmaction_init_recognizer_with_class_names_in_config(converted):
    """MMAction2's init_recognizer / inference_recognizer on the written
    config, class names overridden there, equal init_xclip + zero_shot."""
    ckpt, video = converted
    labels = ['juggling', 'a square moving right', 'reading']
    cfg = Config.fromfile(osp.splitext(ckpt)[0] + '.py')
    cfg.model.cls_head.class_names = labels
    model = init_recognizer(cfg, ckpt, device='cpu')
    scores = inference_recognizer(model, video).pred_score
    ours = dict(zero_shot(init_xclip(ckpt), video, labels, topk=3))
    assert torch.allclose(scores, torch.tensor([ours[n] for n in labels]),
                          atol=1e-6)
