"""A zero-shot demo page on your own machine: upload a video, type labels.

    python tools/demo_app.py --checkpoint work_dirs/xclip_zero_shot.pth
    # then open http://127.0.0.1:7860

The checkpoint may be any format :func:`mmxclip.apis.init_xclip` reads; it
is loaded once at start. The server listens on 127.0.0.1 only unless
``--host`` says otherwise (``--host 0.0.0.0`` serves the whole network:
anyone who reaches the port can upload files to be decoded), and answers
only requests whose ``Host`` is a loopback name, the ``--host`` value or an
``--allow-host`` name. What it refuses and why: docs/demo.md. Needs the
``demo`` extra (``pip install -e ".[demo]"``: Starlette, uvicorn,
python-multipart). ``POST /api/zero_shot`` answers scripts too, e.g.

    curl -F video=@demo.mp4 -F labels="swimming, riding a bike" \
        http://127.0.0.1:7860/api/zero_shot

SIGTERM or Ctrl-C stops it within seconds: requests still running after
:data:`GRACE_S` are cancelled and their uploads removed.
"""
import argparse
import sys
from typing import Optional, Sequence

from mmxclip.cli import add_precision_arg, seconds

# Seconds in-flight requests get to finish once the server is told to stop.
GRACE_S = 3


def _size_mb(text: str) -> float:
    """argparse type: a size in MiB, > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f'expected a size in MiB above 0, got {text!r}')
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', required=True,
                        help='weights in any format init_xclip reads')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: this machine '
                        'only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--allow-host', action='append', default=[],
                        metavar='NAME',
                        help='also serve requests whose Host header is NAME '
                        '(repeatable; e.g. the machine name with --host '
                        '0.0.0.0); loopback names and --host always are')
    parser.add_argument('--device', default='cpu')
    add_precision_arg(parser)
    parser.add_argument('--max-upload-mb', type=_size_mb, default=100,
                        help='largest accepted video, in MiB')
    parser.add_argument('--decode-budget-s', type=seconds,
                        help='seconds any video may take to decode '
                        "(default: the video gate's)")
    parser.add_argument('--decode-budget-per-mb', type=seconds,
                        help='decode seconds added per MiB of video '
                        "(default: the video gate's)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Load the model once, then serve the page."""
    args = parse_args(argv)
    import uvicorn

    from mmxclip.apis import init_xclip
    from mmxclip.apis.demo_app import create_app

    given = dict(base_s=args.decode_budget_s,
                 per_mb_s=args.decode_budget_per_mb)
    budget = {key: value for key, value in given.items() if value is not None}
    try:
        # Any labels will do here: every request brings its own.
        model = init_xclip(args.checkpoint, ['placeholder'], args.device,
                           dtype=args.precision)
    except (OSError, ValueError) as err:
        sys.exit(f'demo_app.py: cannot load --checkpoint '
                 f'{args.checkpoint!r}: {err}')
    app = create_app(model, args.max_upload_mb, args.host, args.allow_host,
                     budget)
    print(f'serving http://{args.host}:{args.port}', flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='info',
                timeout_graceful_shutdown=GRACE_S)


if __name__ == '__main__':
    main()
