from .class_names import load_class_names, load_class_texts
from .prompt_generator import PromptGenerator, PromptGeneratorLayer
from .text_encoder import CLIPTextEncoder
from .tokenizer import tokenize
from .xclip_head import XCLIPTextHead

__all__ = [
    'CLIPTextEncoder', 'PromptGenerator', 'PromptGeneratorLayer',
    'XCLIPTextHead', 'load_class_names', 'load_class_texts', 'tokenize'
]
