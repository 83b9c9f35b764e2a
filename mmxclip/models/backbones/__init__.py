from .cct import CCTViT, CrossFrameBlock

__all__ = ['CCTViT', 'CrossFrameBlock']
