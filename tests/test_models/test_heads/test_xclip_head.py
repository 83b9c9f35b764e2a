"""XCLIPTextHead's text side: the encoder's exact cut after the last
end-of-text token, the tokenizer's and class names' checks, new class names."""

import pytest
import torch
from helpers.tiny_model import NAMES, UNIT, samples, tiny_xclip_cfg
from mmaction.registry import MODELS

from mmxclip.models.heads import CLIPTextEncoder, load_class_names, tokenize


def test_text_encoder_cut_after_eot_is_exact():
    """Cutting the batch after the last end-of-text token gives the same
    features as running the full 77-token context."""
    torch.manual_seed(0)
    enc = CLIPTextEncoder(embed_dim=16, width=32, layers=2).eval()
    tokens = tokenize(NAMES)
    eot = tokens.argmax(-1)
    with torch.no_grad():
        x = enc.token_embedding(tokens) + enc.positional_embedding
        full = enc.ln_final(enc.transformer(x))[torch.arange(3), eot]
        full = full @ enc.text_projection
        cut = enc(tokens)
    assert int(eot.max()) + 1 < 77
    torch.testing.assert_close(cut, full, rtol=1e-5, atol=1e-6)


def test_tokenize_rejects_too_long_names():
    with pytest.raises(ValueError, match='more than the context length 8'):
        tokenize(['a very long class name indeed with many words'], 8)


def test_class_names_validation(tmp_path):
    f = tmp_path / 'labels.txt'
    f.write_text('a\nb\nc\n')
    assert load_class_names(str(f), 3) == ['a', 'b', 'c']
    with pytest.raises(ValueError, match='3 class names, but num_classes=4'):
        load_class_names(str(f), 4)
    f.write_text('a\n\nc\n')
    with pytest.raises(ValueError, match='labels.txt: line 2 is blank'):
        load_class_names(str(f))
    f.write_text('a\nb\na\n')
    with pytest.raises(ValueError, match="'a' on line 3 duplicates line 1"):
        load_class_names(str(f))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        load_class_names(str(tmp_path / 'missing.txt'))


def test_set_class_names_changes_scores():
    """After ``set_class_names`` the scores are those of a model built with
    the new names and the same weights."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_xclip_cfg(**UNIT)).eval()
    built = MODELS.build(dict(tiny_xclip_cfg(**UNIT), cls_head=dict(
        tiny_xclip_cfg(**UNIT)['cls_head'], class_names=['a', 'b']))).eval()
    built.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 3, 4, 32, 32)
    with torch.no_grad():
        before = model(x, samples(2, label=False), mode='predict')
        model.set_class_names(['a', 'b'])
        after = model(x, samples(2, label=False), mode='predict')
        expected = built(x, samples(2, label=False), mode='predict')
    assert model.cls_head.num_classes == 2
    assert model.cls_head.class_names == ['a', 'b']
    for old, new, ref in zip(before, after, expected):
        assert old.pred_score.shape == (3, )
        torch.testing.assert_close(new.pred_score, ref.pred_score)
    assert not torch.allclose(after[0].pred_score, before[0].pred_score[:2])
