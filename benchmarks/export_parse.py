"""Chat-export parsing: our streaming parser against chat-miner (PyPI `chat-miner`) on the same generated file.

1. Generates a 1,000,000-line Android export (`dd/mm/yyyy, hh:mm - Name: text`, the format both parse),
   with multi-line messages, "<Media omitted>", system lines and emoji, into a temporary folder.
2. Parses it with ours (both passes: `scan` then `messages`, as the import does) and with
   `chatminer.chatparsers.WhatsAppParser(...).parse_file()`; prints lines/s of each, the message counts,
   whether they agree, and the speed ratio (target: ours >= 5x).
3. Peak memory of ours (tracemalloc) on the 1M-line file and on a ~100 MB file (it must not grow with size).
   A 12-hour iOS file (`[mm/dd/yy, h:mm:ss PM]`, U+202F before PM, CRLF) is timed too (ours only).

    .venv/bin/python benchmarks/export_parse.py [--lines 1000000] [--big-mb 100] [--skip-chatminer]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pkcrm_app.imports.chat_export import ExportFile, Kind

AUTHORS = ["Alice Martin", "Bob", "Carla 🌸", "+49 151 23456789", "Dr. Émile Zola-Dupont"]
WORDS = ["ok", "price", "delivery", "tomorrow", "thanks", "👍", "invoice", "sample", "colour", "size", "meeting",
         "call", "address", "order", "when", "can", "you", "send", "the", "please", "great", "yes", "no", "maybe",
         "🙂", "sure"]


def _text(rnd: random.Random) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 14)))


def generate(path: Path, *, lines: int = 0, size_bytes: int = 0, ios: bool = False, seed: int = 7) -> int:
    """Write an export with `lines` physical lines (or about `size_bytes` bytes); returns the line count."""
    rnd = random.Random(seed)
    stamp = datetime(2019, 1, 3, 8, 0)
    written = size = 0
    newline = "\r\n" if ios else "\n"
    with path.open("w", encoding="utf-8", newline="") as out:
        while (lines and written < lines) or (size_bytes and size < size_bytes):
            stamp += timedelta(seconds=rnd.randint(5, 2400))
            if ios:
                head = (f"[{stamp:%m/%d/%y}, {stamp.hour % 12 or 12}:{stamp:%M:%S}\u202f"
                        f"{'PM' if stamp.hour >= 12 else 'AM'}] ")
            else:
                head = f"{stamp:%d/%m/%Y, %H:%M} - "
            roll = rnd.random()
            if roll < 0.02:
                body = [f"{rnd.choice(AUTHORS)} added {rnd.choice(AUTHORS)}"]  # system line
            elif roll < 0.07:
                body = [f"{rnd.choice(AUTHORS)}: " + ("\u200eimage omitted" if ios else "<Media omitted>")]
            elif roll < 0.17:
                body = [f"{rnd.choice(AUTHORS)}: {_text(rnd)}"] + [_text(rnd) for _ in range(rnd.randint(1, 3))]
            else:
                body = [f"{rnd.choice(AUTHORS)}: {_text(rnd)}"]
            if lines:
                body = body[: lines - written]
            chunk = head + newline.join(body) + newline
            out.write(chunk)
            written += len(body)
            size += len(chunk.encode())
    return written


def run_ours(path: Path) -> tuple[int, float]:
    """Messages with an author (what chat-miner counts), and seconds for both passes."""
    started = time.perf_counter()
    export = ExportFile(path)
    fmt = export.scan()
    count = 0
    with export.messages(fmt) as messages:
        for message in messages:
            if message.author is not None and message.kind is not Kind.EMPTY:
                count += 1
    export.close()
    return count, time.perf_counter() - started


def peak_memory(path: Path) -> int:
    tracemalloc.start()
    run_ours(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def run_chatminer(path: Path) -> tuple[int, float]:
    from chatminer.chatparsers import WhatsAppParser

    logging.getLogger("chatminer.chatparsers").setLevel(logging.WARNING)
    started = time.perf_counter()
    parser = WhatsAppParser(str(path))
    parser.parse_file()
    return len(parser.parsed_messages._parsed_messages), time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--skip-chatminer", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        android = Path(folder) / "android.txt"
        n = generate(android, lines=args.lines)
        print(f"generated {n:,} lines, {android.stat().st_size / 1e6:.1f} MB (Android dd/mm/yyyy 24h)")
        ours, ours_s = run_ours(android)
        print(f"ours:       {n / ours_s:>12,.0f} lines/s  {ours_s:7.2f} s  {ours:,} messages")
        if not args.skip_chatminer:
            theirs, theirs_s = run_chatminer(android)
            print(f"chat-miner: {n / theirs_s:>12,.0f} lines/s  {theirs_s:7.2f} s  {theirs:,} messages")
            print(f"counts agree: {ours == theirs}   speed ratio ours/chat-miner: {theirs_s / ours_s:.1f}x")
        print(f"peak memory (ours, tracemalloc), {n:,} lines: {peak_memory(android) / 1024:,.0f} KiB")
        android.unlink()
        ios = Path(folder) / "ios.txt"
        n_ios = generate(ios, lines=args.lines, ios=True)
        ios_count, ios_s = run_ours(ios)
        print(f"ours, iOS 12h CRLF file: {n_ios / ios_s:,.0f} lines/s, {ios_count:,} messages")
        ios.unlink()
        big = Path(folder) / "big.txt"
        n_big = generate(big, size_bytes=args.big_mb * 1_000_000, seed=11)
        print(f"peak memory (ours, tracemalloc), {big.stat().st_size / 1e6:.0f} MB / {n_big:,} lines: "
              f"{peak_memory(big) / 1024:,.0f} KiB")


if __name__ == "__main__":
    main()
