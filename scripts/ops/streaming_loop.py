#!/usr/bin/env python3
"""Run `opt-data streaming` every session day from 09:35 ET until the close + 15 min.

Sleeps until the next window (weekends, holidays and early closes from the XNYS calendar),
starts streaming with the duration left in the window, restarts it after a crash (after
a pause) while the window lasts, and repeats the next session day. Stop with Ctrl-C/SIGTERM.

    ./scripts/ops/streaming_loop.py [--config config/opt-data.streaming.local.toml] [--once]
                                    [--shard i/N]

--shard is passed to every `opt-data streaming` it starts (default: [shard] of the config),
so each sharded collector's loop streams its own shard's underlyings under its own lock.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bootstrap import ROOT, ensure_project_python

ensure_project_python()

from collector.streaming.window import next_window  # noqa: E402
from shared.config import ConfigError, load_config  # noqa: E402
from shared.universe import Shard  # noqa: E402

RESTART_PAUSE_SEC = 60
_stop = False


def _default_config() -> Path:
    local = ROOT / "config" / "opt-data.streaming.local.toml"
    return local if local.is_file() else ROOT / "config" / "opt-data.toml"


def _on_signal(signum: int, frame: object) -> None:
    global _stop
    _stop = True


def _sleep_until(deadline: float) -> None:
    while not _stop and time.time() < deadline:
        time.sleep(min(30.0, max(0.0, deadline - time.time())))


def _command(config: Path, shard_args: list[str], seconds: int) -> list[str]:
    """The `opt-data streaming` arguments (after the module) for one start."""
    return ["collector.cli.main", "streaming", "--config", str(config), *shard_args,
            "--duration", str(seconds)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--once", action="store_true", help="stream one session window, then exit")
    parser.add_argument("--dry-run", action="store_true", help="print the next window and exit")
    parser.add_argument("--shard", default=None, help="this collector's shard i/N (see --help)")
    args = parser.parse_args(argv)
    config = args.config or _default_config()
    try:
        cfg = load_config(config)
        shard = Shard.parse(args.shard) if args.shard else Shard.from_config(cfg)
    except (ConfigError, ValueError) as exc:
        print(f"streaming_loop: {exc}", file=sys.stderr)
        return 2
    shard_args = ["--shard", f"{shard.index}/{shard.count}"] if shard.sharded else []
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    python = [sys.executable, "-m"]
    while not _stop:
        window = next_window(datetime.now(UTC), cfg.streaming.start_time)
        who = f" (shard {shard.label})" if shard.sharded else ""
        print(
            f"streaming_loop: next window {window.start:%Y-%m-%d %H:%M} - {window.end:%H:%M %Z}"
            + who,
            flush=True,
        )
        if args.dry_run:
            # inside the window the run gets what is left of it, as the loop below does
            seconds = window.seconds_left(max(datetime.now(UTC), window.start))
            print(f"streaming_loop: would run: {' '.join(_command(config, shard_args, seconds))}")
            return 0
        _sleep_until(window.start.timestamp())
        while not _stop and (left := window.seconds_left(datetime.now(UTC))) > 0:
            cmd = [*python, *_command(config, shard_args, left)]
            print(f"streaming_loop: {' '.join(cmd[1:])}", flush=True)
            code = subprocess.call(cmd, cwd=ROOT)
            if code == 0 or _stop:
                break
            print(
                f"streaming_loop: streaming exited {code}; restarting in {RESTART_PAUSE_SEC} s",
                flush=True,
            )
            _sleep_until(time.time() + RESTART_PAUSE_SEC)
        if args.once:
            return 0
        _sleep_until(window.end.timestamp() + 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
