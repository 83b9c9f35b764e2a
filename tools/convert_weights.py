"""Convert CLIP / X-CLIP weights to an MMEngine checkpoint of mmxclip.

    python tools/convert_weights.py --src-format official k400_16_8.pth \
        work_dirs/xclip_b16_8f_k400.pth

writes ``xclip_b16_8f_k400.pth`` (``{'state_dict', 'meta'}``, loadable by
``load_from=``, ``tools/test.py`` and :func:`mmxclip.apis.init_xclip`) and,
for X-CLIP sources (official, hf), ``xclip_b16_8f_k400.py``: the model
inferred from the tensors, X-CLIP's test pipeline and a test dataloader, so

    python tools/test.py work_dirs/xclip_b16_8f_k400.py \
        work_dirs/xclip_b16_8f_k400.pth

evaluates it. CLIP sources (openai, open_clip) give the backbone and text
encoder weights, for ``init_cfg=dict(type='Pretrained', checkpoint=...)``.

A sharded training checkpoint (``epoch_N.pth/``, a folder, from the
configs in configs/scale/) becomes one file the same way::

    python tools/convert_weights.py --src-format mmxclip \
        work_dirs/xclip_l14_336_16f_k400_fsdp/epoch_30.pth l14_336.pth
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.runner.checkpoint import save_checkpoint

from mmxclip.apis import K400_LABEL_MAP, load_weights, test_pipeline
from mmxclip.engine.atomic_io import atomic_write
from mmxclip.models.heads import load_class_names
from mmxclip.weights import SRC_FORMATS, read_weights


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='weight file or HuggingFace folder')
    parser.add_argument('output', help='checkpoint to write (.pth)')
    parser.add_argument('--src-format', required=True, choices=SRC_FORMATS,
                        help='mmxclip: a training checkpoint, also the '
                        'folder of shards FSDP / DeepSpeed write')
    parser.add_argument(
        '--class-names', default=K400_LABEL_MAP,
        help='label-map file (one class name per line) the config points '
        f'to and the checkpoint stores when it exists; default '
        f'{K400_LABEL_MAP}')
    parser.add_argument('--gelu', action='store_true',
                        help='CLIP state dicts trained with nn.GELU '
                        '(open_clip LAION / DataComp), not QuickGELU; files '
                        'that say their activation (OpenAI, official, HF) '
                        'need none')
    parser.add_argument('--num-clips', type=int, default=4,
                        help='test clips per video (published: 4)')
    parser.add_argument('--num-crops', type=int, default=3, choices=(1, 3),
                        help='test crops per clip (published: 3)')
    parser.add_argument('--ann-file',
                        default='data/kinetics400/'
                        'kinetics400_val_list_videos.txt',
                        help='test annotation list of the written config')
    parser.add_argument('--data-prefix',
                        default='data/kinetics400/videos_val',
                        help='video folder of the written config')
    args = parser.parse_args(argv)
    if osp.splitext(args.output)[1] == '.py':
        parser.error(f'output {args.output}: the config is written beside '
                     'the checkpoint as NAME.py, so the checkpoint cannot be '
                     'a .py file; name it NAME.pth')
    if osp.isdir(args.output):
        parser.error(f'output {args.output} is a folder; name the '
                     'checkpoint file to write (NAME.pth)')
    return args


def write_config(path: str, model_cfg: dict, checkpoint: str,
                 args: argparse.Namespace) -> None:
    """A self-contained test config for the converted X-CLIP.

    Complete for MMAction2's tools as well as mmxclip's: default scope,
    plugin import, ``ActionVisualizer`` with a local backend (MMAction2's
    inferencer and ``demo/`` scripts draw with it), a
    :class:`~mmxclip.datasets.RobustVideoDataset` whose ``metainfo`` classes
    are the label map (the runner hands them to the visualizer and the
    evaluator), and the hook checking labels against the head.
    """
    pipeline = test_pipeline(model_cfg['neck']['num_frames'],
                             model_cfg['backbone']['input_resolution'],
                             args.num_clips, args.num_crops)
    vis_backends = [dict(type='LocalVisBackend')]
    text = Config(dict(
        default_scope='mmaction',
        custom_imports=dict(imports=['mmxclip'], allow_failed_imports=False),
        model=model_cfg,
        test_pipeline=pipeline,
        test_dataloader=dict(
            batch_size=1, num_workers=2,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='RobustVideoDataset', ann_file=args.ann_file,
                         data_prefix=dict(video=args.data_prefix),
                         metainfo=dict(classes=args.class_names),
                         pipeline=pipeline, test_mode=True)),
        test_evaluator=dict(type='AccMetric'),
        test_cfg=dict(type='TestLoop'),
        custom_hooks=[dict(type='CheckLabelsHook')],
        vis_backends=vis_backends,
        visualizer=dict(type='ActionVisualizer', vis_backends=vis_backends),
        load_from=osp.abspath(checkpoint),
    )).pretty_text
    atomic_write(text.encode(), path)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    weights = read_weights(args.input, args.src_format)
    names = (load_class_names(args.class_names)
             if osp.isfile(args.class_names) else None)
    # Any class name will do to build; the config keeps the file's path.
    model_cfg = weights.model_config(names or ['placeholder'],
                                     quick_gelu=False if args.gelu else None)
    meta = dict(source=osp.abspath(args.input), src_format=args.src_format,
                format=weights.format, class_names=names,
                quick_gelu=model_cfg['backbone']['quick_gelu'])
    if weights.is_xclip:
        # Build and load once: proves the conversion fits before anything
        # is written.
        load_weights(MODELS.build(model_cfg), weights)
        model_cfg['cls_head']['class_names'] = args.class_names
        meta['model_cfg'] = model_cfg
    save_checkpoint(dict(state_dict=weights.state_dict, meta=meta),
                    args.output)
    print(f'{args.input} ({weights.format}) -> {args.output}: '
          f'{len(weights.state_dict)} tensors')
    if weights.is_xclip:
        config = osp.splitext(args.output)[0] + '.py'
        write_config(config, model_cfg, args.output, args)
        print(f'config: {config}')
        if names is None:
            print(f'note: {args.class_names} does not exist yet; the config '
                  'reads the class names from it when the model is built')


if __name__ == '__main__':
    main()
