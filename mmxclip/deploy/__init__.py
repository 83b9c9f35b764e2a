"""Running X-CLIP without PyTorch: a fixed class set exported to ONNX."""
from .onnx_export import (FixedClassXCLIP, export_onnx, onnx_metadata,
                          read_onnx_metadata)

__all__ = [
    'FixedClassXCLIP', 'export_onnx', 'onnx_metadata', 'read_onnx_metadata'
]
