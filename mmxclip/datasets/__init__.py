from .broken_video import BrokenVideoError, load_clip
from .frame_check import CheckDecodedFrames, add_frame_checks
from .transforms import SegmentSampleFrames, VideoColorJitter, VideoGrayscale
from .video_dataset import SKIPPED_KEY, RobustVideoDataset

__all__ = [
    'SKIPPED_KEY', 'BrokenVideoError', 'CheckDecodedFrames',
    'RobustVideoDataset', 'SegmentSampleFrames', 'VideoColorJitter',
    'VideoGrayscale', 'add_frame_checks', 'load_clip'
]
