from .broken_video import BrokenVideoError, load_clip
from .frame_check import CheckDecodedFrames, add_frame_checks
from .gated_decode import GatedVideoDecode, GatedVideoInit, read_video_frames
from .transforms import SegmentSampleFrames, VideoColorJitter, VideoGrayscale
from .video_dataset import SKIPPED_KEY, RobustVideoDataset

__all__ = [
    'SKIPPED_KEY', 'BrokenVideoError', 'CheckDecodedFrames',
    'GatedVideoDecode', 'GatedVideoInit', 'RobustVideoDataset',
    'SegmentSampleFrames', 'VideoColorJitter', 'VideoGrayscale',
    'add_frame_checks', 'load_clip', 'read_video_frames'
]
