from .convert import hf_to_mmxclip, hf_to_official, official_to_mmxclip

__all__ = ['hf_to_mmxclip', 'hf_to_official', 'official_to_mmxclip']
