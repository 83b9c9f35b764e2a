"""Text-to-video search: an on-disk index of X-CLIP video features and
queries scored with X-CLIP's video-specific prompts."""
from .index import VideoIndex
from .search import index_model, score_videos, search

__all__ = ['VideoIndex', 'index_model', 'score_videos', 'search']
