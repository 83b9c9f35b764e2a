"""Draw docs/xclip.svg, the README's picture of X-CLIP's forward pass.

``python tools/dev/xclip_diagram.py [OUT]``: plain SVG text, no plotting
library; rerun after changing a box.
"""
import sys
from typing import List, Tuple

# (x, y, width, text lines) of each box, in SVG user units.
BOXES: List[Tuple[int, int, int, List[str]]] = [
    (10, 20, 150, ['video', 'T frames']),
    (200, 10, 230, ['CCTViT (backbone)', 'CLIP ViT blocks +',
                    'cross-frame message tokens']),
    (470, 20, 170, ['MITNeck', 'attention over T frames']),
    (680, 20, 170, ['video embedding', '(B, E)']),
    (10, 150, 150, ['class names', '"playing guitar", ...']),
    (200, 150, 230, ["CLIP's text encoder",
                     '(frozen, cached per class set)']),
    (470, 140, 170, ['prompt generator', 'text attends to the',
                     'patch tokens']),
    (680, 150, 170, ['video-specific', 'text embeddings (B, K, E)']),
    (880, 85, 110, ['cosine x scale', 'logits (B, K)']),
]
# Arrows between box indices, and from the backbone's patch tokens.
ARROWS = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7), (3, 8), (7, 8),
          (1, 6)]
LINE = 18


def box_size(box) -> Tuple[int, int]:
    return box[2], LINE * len(box[3]) + 16


def centre(box) -> Tuple[float, float]:
    w, h = box_size(box)
    return box[0] + w / 2, box[1] + h / 2


def svg() -> str:
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="1000" '
             'height="230" font-family="sans-serif" font-size="13">',
             '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" '
             'refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker>'
             '</defs>']
    for i, j in ARROWS:
        (x1, y1), (x2, y2) = centre(BOXES[i]), centre(BOXES[j])
        w1, _ = box_size(BOXES[i])
        w2, _ = box_size(BOXES[j])
        x1, x2 = (x1 + w1 / 2, x2 - w2 / 2) if x2 > x1 else (x1, x2)
        parts.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" '
                     f'y2="{y2:.0f}" stroke="black" marker-end="url(#a)"/>')
    for box in BOXES:
        x, y, _, lines = box
        w, h = box_size(box)
        parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" '
                     'rx="6" fill="#eef3fb" stroke="#335"/>')
        for k, text in enumerate(lines):
            weight = ' font-weight="bold"' if k == 0 else ''
            parts.append(f'<text x="{x + w / 2:.0f}" y="{y + 22 + k * LINE}" '
                         f'text-anchor="middle"{weight}>{text}</text>')
    parts.append('</svg>')
    return '\n'.join(parts) + '\n'


if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else 'docs/xclip.svg'
    with open(out, 'w', encoding='utf-8') as f:
        f.write(svg())
