"""Train a tiny model 2 steps with DeepSpeed ZeRO and save a checkpoint
(tests/test_engine/test_scale.py runs it on 2 CPU processes):

    python -m torch.distributed.run --nproc_per_node=2 \
        tests/helpers/deepspeed_save.py OUT_DIR STAGE DTYPE

DTYPE is fp32 or bf16; one frozen layer, as X-CLIP's frozen text encoder,
and odd sizes, which ZeRO-3 pads to a multiple of the world size.
"""
import sys

import deepspeed
import torch


def main(out_dir: str, stage: int, dtype: str) -> None:
    deepspeed.init_distributed(dist_backend='gloo')
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 15), torch.nn.Linear(15, 3))
    model[0].requires_grad_(False)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2)
    bf16 = dtype == 'bf16'
    engine, *_ = deepspeed.initialize(
        model=model, optimizer=optimizer,
        config=dict(train_micro_batch_size_per_gpu=4,
                    zero_optimization=dict(stage=stage),
                    zero_allow_untested_optimizer=True,
                    bf16=dict(enabled=bf16)))
    for _ in range(2):
        x = torch.randn(4, 8, dtype=torch.bfloat16 if bf16 else None)
        loss = engine(x).float().square().mean()
        engine.backward(loss)
        engine.step()
    engine.save_checkpoint(out_dir, tag='epoch_1.pth')


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
