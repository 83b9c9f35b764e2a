"""mmxclip's configs loaded for tests."""
from mmengine.config import Config


def label_map(tmp_path, num_classes: int) -> str:
    """A class-name file of ``num_classes`` lines in ``tmp_path``."""
    path = tmp_path / f'label_map_{num_classes}.txt'
    path.write_text(''.join(f'class {i}\n' for i in range(num_classes)))
    return str(path)


def load(path: str, tmp_path) -> Config:
    """The config with its class-name file replaced by a generated one."""
    cfg = Config.fromfile(path)
    head = cfg.model.cls_head
    head.class_names = label_map(tmp_path, head.num_classes)
    return cfg
