from .mit import MITNeck

__all__ = ['MITNeck']
