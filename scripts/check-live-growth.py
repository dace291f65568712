"""Following a growing history live gives what one import gives: an exactness check, by hand.

The corpus's transcripts are written in STEPS parts (each file cut at line boundaries) into a
fresh config dir while `cclive watch` follows it; the monitor is restarted after some steps, so
sessions are read back from their stored ledgers and deltas and go on from there. After each
step the live database must come to hold what an import of the same files into a database of
its own holds (per-response usage rows); at the end every session's figures (not its status:
see `SESSIONS`) and every usage row are compared.
Prints what differs; exits 1 when anything does. Not a test (it needs the shared generator's
corpus and takes about a minute for 100 MB): run it after changing how the monitor follows,
stores or reads back sessions.

    python3 scripts/check-live-growth.py --bin target/release/cclive --corpus DIR [--steps 6]
"""

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USAGE = "select count(*), total(input), total(output), total(cache_read), total(cache_creation) from usage"
ROWS = "select key, session_id, input, output, cache_read, cache_creation from usage order by key"
# Not the status: no process vouches for these sessions, so the monitor ends each one at its
# last record after every step (INTERRUPTED when the step cut a turn), and a finished session's
# status does not change again; an import ends it once, at the end of the file.
SESSIONS = ("select session_id, tokens_input, tokens_output, tokens_cache_read, "
            "tokens_cache_creation, round(total_cost_usd, 9), cost_source, num_turns, "
            "json_extract(state_json, '$.api_requests'), json_extract(state_json, '$.tool_calls'), "
            "json_extract(state_json, '$.tool_errors') from sessions order by session_id")


def query(db, sql):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True, help="a gen_corpus.py output (its projects/)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--wait", type=float, default=20.0,
                    help="seconds a step may take to be read (well under the 30 s rescan)")
    args = ap.parse_args()
    src = Path(args.corpus)
    work = Path(tempfile.mkdtemp(prefix="cclive-live-growth-"))
    try:
        sys.exit(check(args, src, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check(args, src, work):
    live_cfg, live_db = work / "live", work / "live.db"
    (live_cfg / "projects").mkdir(parents=True)
    for d in ("home", "data", "config", "run"):
        (work / d).mkdir()
    files = sorted((src / "projects").rglob("*.jsonl"))
    parts = {}
    for f in files:
        lines = f.read_bytes().splitlines(keepends=True)
        cuts = [round(len(lines) * i / args.steps) for i in range(args.steps + 1)]
        parts[f] = [b"".join(lines[cuts[i]:cuts[i + 1]]) for i in range(args.steps)]

    def env(config, db):
        return dict(os.environ, HOME=str(work / "home"), XDG_DATA_HOME=str(work / "data"),
                    XDG_CONFIG_HOME=str(work / "config"), XDG_RUNTIME_DIR=str(work / "run"),
                    CLAUDE_CONFIG_DIR=str(config), CCLIVE_DB=str(db), TZ="UTC")

    def start():
        return subprocess.Popen([args.bin, "watch", "--listen", f"127.0.0.1:{free_port()}"],
                                env=env(live_cfg, live_db), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    restarts = {args.steps // 3, 2 * args.steps // 3} - {args.steps - 1}
    failures = 0
    monitor = start()
    time.sleep(1)  # the monitor's start-up; nothing is written before it watches
    try:
        for step in range(args.steps):
            for f in files:
                dst = live_cfg / f.relative_to(src)
                dst.parent.mkdir(parents=True, exist_ok=True)
                with open(dst, "ab") as out:
                    out.write(parts[f][step])
            ref_cfg, ref_db = work / "ref", work / f"ref{step}.db"
            shutil.rmtree(ref_cfg, ignore_errors=True)
            shutil.copytree(live_cfg, ref_cfg)
            subprocess.run([args.bin, "import", "--quiet"], env=env(ref_cfg, ref_db), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            want, got, started = query(ref_db, USAGE), None, time.time()
            while time.time() - started < args.wait:
                try:
                    got = query(live_db, USAGE)
                except sqlite3.Error:
                    got = None
                if got == want:
                    break
                time.sleep(0.1)
            ok = got == want
            failures += not ok
            print(f"step {step + 1}/{args.steps}: {'read' if ok else 'NOT read'} in "
                  f"{time.time() - started:.1f} s ({want[0][0]} responses"
                  f"{'' if ok else f'; live: {got}'})", flush=True)
            if step in restarts:
                monitor.terminate()
                monitor.wait()
                monitor = start()
                time.sleep(1)
    finally:
        monitor.terminate()
        monitor.wait()
    ref_db = work / f"ref{args.steps - 1}.db"
    live, ref = query(live_db, SESSIONS), query(ref_db, SESSIONS)
    differ = [(a, b) for a, b in zip(live, ref) if a != b]
    if len(live) != len(ref):
        differ.append((len(live), len(ref)))
    rows_equal = query(live_db, ROWS) == query(ref_db, ROWS)
    deltas = query(live_db, "select count(*) from ledger_deltas")[0][0]
    print(f"sessions: {len(live)} live, {len(ref)} imported; differ: {len(differ)}; usage rows "
          f"{'equal' if rows_equal else 'DIFFER'}; ledger deltas in the live database: {deltas}")
    for a, b in differ[:5]:
        print(f"  live {a}\n  ref  {b}")
    return 1 if failures or differ or not rows_equal else 0


if __name__ == "__main__":
    main()
