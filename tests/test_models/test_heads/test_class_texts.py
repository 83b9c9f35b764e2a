"""Several texts per class (XCLIPTextHead's class_texts): CLIP's prompt
ensembling before the video-specific prompts; one text per class exactly
today's scores; bad texts named; init_xclip and zero_shot.py take them."""
import json

import pytest
import torch
from helpers.tiny_model import LABELS, save_tiny_xclip, tiny_xclip
from helpers.weight_files import load_tool

from mmxclip.apis import init_xclip
from mmxclip.models.heads import load_class_texts, tokenize

TEXTS = {'a dog': ['a photo of a dog', 'a dog running', 'a puppy'],
         'swimming': ['a person swimming', 'swimming in a pool']}


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 1, 3, 8, 32, 32, generator=g)


def logits(model):
    with torch.no_grad():
        return model.extract_feat(inputs(), stage='head')[0]


def test_one_text_per_class_is_todays_scores_to_the_bit():
    model = tiny_xclip()
    before = logits(model)
    # Every class given its own name as its one text: the same tokens.
    model.set_class_names(LABELS, {n: [n] for n in LABELS})
    assert model.cls_head.text_owner is None
    assert torch.equal(logits(model), before)
    # Some classes with several texts: the single-text classes keep their
    # embedding (to float32 rounding, not bit for bit: the text encoder then
    # runs a larger batch, whose GEMM blocking may round differently).
    plain = model.cls_head.class_embeddings().clone()
    model.set_class_names(LABELS, TEXTS)
    mixed = model.cls_head.class_embeddings()
    for k, name in enumerate(LABELS):
        d = (mixed[k] - plain[k]).abs().max() / plain[k].abs().max()
        assert (d < 1e-6) == (name not in TEXTS), (name, float(d))


def test_several_texts_are_the_mean_embedding_computed_by_hand():
    model = tiny_xclip()
    model.set_class_names(LABELS, TEXTS)
    head = model.cls_head
    ours = head.class_embeddings()
    for k, name in enumerate(LABELS):
        texts = TEXTS.get(name, [name])
        with torch.no_grad():
            emb = head.text_encoder(tokenize(texts))
        if len(texts) == 1:
            want = emb[0]
        else:
            unit = emb / emb.norm(dim=-1, keepdim=True)
            mean = unit.mean(0)
            want = mean / mean.norm() * emb.norm(dim=-1).mean()
        torch.testing.assert_close(ours[k], want, rtol=1e-6, atol=1e-6)
    # And the logits are those of the prompted ensembled embeddings.
    with torch.no_grad():
        feats = model.extract_feat(inputs())[0]
        video, tokens = feats
        want = head.logits(video, head.visual_tokens(tokens), ours)
    torch.testing.assert_close(logits(model), want)
    assert not torch.allclose(logits(model), logits(tiny_xclip()))


def test_files_yaml_and_json_and_init_xclip(tmp_path):
    yaml_file = tmp_path / 't.yaml'
    yaml_file.write_text(''.join(
        f'{k}:\n' + ''.join(f'  - {t}\n' for t in v)
        for k, v in TEXTS.items()))
    json_file = tmp_path / 't.json'
    json_file.write_text(json.dumps(TEXTS))
    assert (load_class_texts(str(yaml_file), LABELS)
            == load_class_texts(str(json_file), LABELS)
            == load_class_texts(TEXTS, LABELS))
    ckpt = save_tiny_xclip(str(tmp_path / 'tiny.pth'))
    model = init_xclip(ckpt, LABELS, class_texts=str(yaml_file))
    ref = tiny_xclip()
    ref.set_class_names(LABELS, TEXTS)
    torch.testing.assert_close(model.cls_head.class_embeddings(),
                               ref.cls_head.class_embeddings())


@pytest.mark.parametrize('texts, message', [
    ({'a dogs': ['x']}, "'a dogs' (did you mean 'a dog'?)"),
    ({'a dog': []}, "class 'a dog' has an empty list"),
    ({'a dog': 'a puppy'}, "class 'a dog' has 'a puppy'; expected a list"),
    ({'a dog': ['  ']}, "class 'a dog' has the text '  '"),
    ({'a dog': ['a ' * 80]}, "class 'a dog': text 'a a "),
    ({'a dog': ['A  Puppy', 'a puppy']}, "of class 'a dog' is also a text "
     "of class 'a dog'"),
    ({'a dog': ['swimming']}, "class 'swimming' is also a text of class "
     "'a dog'"),
])
def test_bad_texts_are_named(texts, message):
    with pytest.raises(ValueError) as err:
        load_class_texts(texts, LABELS)
    assert message in str(err.value)


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('a dog: [unclosed\n')
    with pytest.raises(ValueError, match=f'{bad}: not valid YAML'):
        load_class_texts(str(bad), LABELS)
    bad.write_text('- a list\n')
    with pytest.raises(ValueError, match='holds a list; expected a mapping'):
        load_class_texts(str(bad), LABELS)
    # YAML is read as data: a Python tag is refused, never run.
    bad.write_text("a dog: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ValueError, match='not valid YAML'):
        load_class_texts(str(bad), LABELS)
    with pytest.raises(FileNotFoundError, match='class-texts file not found'):
        load_class_texts(str(tmp_path / 'none.json'), LABELS)


def test_zero_shot_tool_refuses_bad_class_texts(tmp_path, capsys):
    bad = tmp_path / 't.json'
    bad.write_text(json.dumps({'cooking': ['making food']}))
    with pytest.raises(SystemExit) as exit_:
        load_tool('zero_shot.py').parse_args([
            'v.mp4', '--checkpoint', 'x.pth', '--labels', 'swimming,running',
            '--class-texts', str(bad)])
    assert exit_.value.code == 2
    assert "'cooking'" in capsys.readouterr().err
