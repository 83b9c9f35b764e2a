from .xclip_recognizer import XCLIPRecognizer

__all__ = ['XCLIPRecognizer']
