from .transforms import SegmentSampleFrames, VideoColorJitter, VideoGrayscale
from .video_dataset import SKIPPED_KEY, BrokenVideoError, RobustVideoDataset

__all__ = [
    'SKIPPED_KEY', 'BrokenVideoError', 'RobustVideoDataset',
    'SegmentSampleFrames', 'VideoColorJitter', 'VideoGrayscale'
]
