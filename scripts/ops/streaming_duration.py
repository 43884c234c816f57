#!/usr/bin/env python3
"""Print the --duration for `opt-data streaming`: seconds from now to the close + 15 min (ET).

Exit 0 with the seconds on a session day; on a weekend/holiday, or once the window is
over, print 0 and exit 1 so a wrapper can skip the run:

    D=$(scripts/ops/streaming_duration.py) || exit 0
    opt-data streaming --config config/opt-data.streaming.local.toml --duration "$D"
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bootstrap import ensure_project_python

ensure_project_python()

from collector.streaming.window import duration_now  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now", help="ISO datetime with offset instead of the clock (for checks)")
    parser.add_argument("--after-close-minutes", type=int, default=15)
    args = parser.parse_args(argv)
    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        print(f"streaming_duration: bad --now {args.now!r}: expected ISO datetime", file=sys.stderr)
        return 2
    if now.tzinfo is None:
        print(
            "streaming_duration: --now needs a UTC offset, e.g. 2026-11-20T09:35:00-05:00",
            file=sys.stderr,
        )
        return 2
    seconds = duration_now(now, timedelta(minutes=args.after_close_minutes))
    print(seconds or 0)
    return 0 if seconds else 1


if __name__ == "__main__":
    sys.exit(main())
