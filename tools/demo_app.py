"""A zero-shot demo page on your own machine: upload a video, type labels.

    python tools/demo_app.py --checkpoint work_dirs/xclip_zero_shot.pth
    # then open http://127.0.0.1:7860

The checkpoint may be any format :func:`mmxclip.apis.init_xclip` reads; it
is loaded once at start. The server listens on 127.0.0.1 only unless
``--host`` says otherwise (``--host 0.0.0.0`` serves the whole network:
anyone who reaches the port can upload files to be decoded). Needs the
``demo`` extra (``pip install -e ".[demo]"``: Starlette, uvicorn,
python-multipart). ``POST /api/zero_shot`` answers scripts too, e.g.

    curl -F video=@demo.mp4 -F labels="swimming, riding a bike" \
        http://127.0.0.1:7860/api/zero_shot
"""
import argparse
from typing import Optional, Sequence

from mmxclip.cli import add_precision_arg


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', required=True,
                        help='weights in any format init_xclip reads')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: this machine '
                        'only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu')
    add_precision_arg(parser)
    parser.add_argument('--max-upload-mb', type=float, default=100,
                        help='largest accepted video, in MiB')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Load the model once, then serve the page."""
    args = parse_args(argv)
    import uvicorn

    from mmxclip.apis import init_xclip
    from mmxclip.apis.demo_app import create_app

    # Any labels will do here: every request brings its own.
    model = init_xclip(args.checkpoint, ['placeholder'], args.device,
                       dtype=args.precision)
    app = create_app(model, args.max_upload_mb)
    print(f'serving http://{args.host}:{args.port}', flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='info')


if __name__ == '__main__':
    main()
