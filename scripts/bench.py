#!/usr/bin/env python3
"""Every speed figure of cclive against its baselines, measured in one run (scripts/bench.sh).

Rounds are interleaved (cat, ccusage, cclive, … then again), so a busy machine slows every
tool alike and the ratios stay honest; each row prints the median, min–max and, where there
is a reference, the ratio to it. Nothing here is asserted: the numbers are for people.

Rows (issue #16's table):
  cold import (cat, ccusage 20 `daily --json --offline`, `cclive import` into a fresh DB),
  second import with nothing changed, import after appending ~1 MB to 10 files (these two
  --repeats times a round, each +1 MB import from a copy of the same database),
  `cclive report daily --json` on the imported history, `/api/costs?days=120`,
  dashboard start → first answer on a fresh DB, an idle monitor's CPU and wake-ups,
  20 live transcripts at one line a second (CPU per line), and one alone, new or continuing
  the longest stored session; `cclive statusline` p50/p99. Not a speed: after one more cold
  import, how many sessions have the tokens and responses the corpus's ground truth gives.

With --baseline BIN (another build of cclive), the import rows and the status line are also
timed for that build in the same rounds, each with its own database, and printed with the
ratio this build / baseline: this machine's speed drifts by tens of percent within an hour, so
two builds are only comparable measured side by side.
"""

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


# The timed commands run from a small process started before this script reads the corpus:
# Linux carries a process's peak RSS across exec, so a child's `ru_maxrss` starts at its
# parent's high-water mark, and every command this script ran once it had grown showed the
# script's own peak (ccusage and cclive both "158 MB").
RUNNER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    req = json.loads(line)
    stdin = open(req["stdin"], "rb") if req["stdin"] else None
    t0 = time.perf_counter()
    proc = subprocess.Popen(req["cmd"], env=req["env"], stdin=stdin,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.stderr.close()
    if stdin:
        stdin.close()
    print(json.dumps({"wall": wall, "rss": usage.ru_maxrss / 1024,
                      "cpu": usage.ru_utime + usage.ru_stime,
                      "code": os.waitstatus_to_exitcode(status), "err": err}), flush=True)
"""
_runner = None


def start_runner():
    global _runner
    _runner = subprocess.Popen([sys.executable, "-c", RUNNER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)


def run(cmd, env, stdin=None):
    """Runs cmd (stdin: a file's path); returns (wall seconds, peak RSS MB, CPU seconds)."""
    _runner.stdin.write(json.dumps({"cmd": [str(c) for c in cmd], "env": env,
                                    "stdin": str(stdin) if stdin else None}) + "\n")
    _runner.stdin.flush()
    out = json.loads(_runner.stdout.readline())
    if out["code"] != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{out['err']}")
    return out["wall"], out["rss"], out["cpu"]


def summary(values, unit="s", scale=1.0):
    v = [x * scale for x in values]
    med = statistics.median(v)
    return med, f"{med:9.3f} {unit:<3} ({min(v):.3f}–{max(v):.3f})"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


class ThreadCpu:
    """CPU seconds a process spends from now on, summed from each thread's scheduler time
    (`/proc/<pid>/task/<tid>/schedstat`, nanoseconds). The tick-sampled utime/stime charge a
    whole 10 ms tick to whatever runs when it fires, and a monitor woken by its own timers runs
    at ticks more often than its share (one live session's lines read about twice their
    scheduler time). `sample()` now and then keeps a thread that exits counted up to its last
    sample."""

    def __init__(self, pid):
        self.pid = pid
        self.first = self._read()
        self.last = dict(self.first)

    def _read(self):
        out = {}
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{task}/schedstat") as f:
                    out[task] = int(f.read().split()[0]) / 1e9
            except OSError:
                pass  # exited meanwhile
        return out

    def sample(self):
        self.last.update(self._read())

    def seconds(self):
        self.sample()
        return sum(t - self.first.get(tid, 0.0) for tid, t in self.last.items())


def cpu_and_switches(pid):
    """(CPU seconds, {thread id: context switches}) of pid and each of its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    switches = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches[task] = switches.get(task, 0) + int(line.split()[1])
        except FileNotFoundError:
            pass
    return cpu, switches


def switches_between(before, after):
    """Context switches from one sample to the next. A thread that exited in between (tokio's
    idle blocking threads do) takes its count with it: only threads still there count, and a
    new thread counts whole. Never negative."""
    return sum(n - before.get(tid, 0) for tid, n in after.items())


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--baseline", help="another cclive build, timed side by side")
    ap.add_argument("--ccusage", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3,
                    help="timings of the unchanged and the +1 MB import per round and build")
    # Longer than the monitor's rescan interval (`ingest/follow.rs`, 30 s): a window without a
    # rescan in it read 0.00 % while the rescans alone were ~0.05 %.
    ap.add_argument("--idle-seconds", type=int, default=40)
    ap.add_argument("--live-seconds", type=int, default=20)
    ap.add_argument("--statusline-runs", type=int, default=200)
    args = ap.parse_args()

    start_runner()  # first: see RUNNER
    work = Path(tempfile.mkdtemp(prefix="cclive-bench-"))
    procs = []
    try:
        bench(args, work, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


def bench(args, work, procs):
    # Each build is timed from a fresh copy, read once: the page cache's state of a binary
    # moves a command's start. Two builds' status lines measured 0.5 ms apart, then, the same
    # two files an hour later, within 0.1 ms: a difference between the files, not the builds.
    for name, attr in (("cclive-this", "bin"), ("cclive-baseline", "baseline")):
        if getattr(args, attr):
            copy = work / name
            shutil.copy2(getattr(args, attr), copy)
            copy.read_bytes()
            setattr(args, attr, str(copy))
    corpus = work / "corpus"
    shutil.copytree(args.corpus, corpus, ignore=shutil.ignore_patterns("ground-truth.json"))
    files = sorted(corpus.rglob("*.jsonl"))
    mb = sum(f.stat().st_size for f in files) / 2**20
    for f in files:  # page-cache the copy
        f.read_bytes()
    base_env = dict(os.environ, HOME=str(work / "home"), XDG_DATA_HOME=str(work / "data"),
                    XDG_CONFIG_HOME=str(work / "config"), XDG_RUNTIME_DIR=str(work / "run"),
                    CLAUDE_CONFIG_DIR=str(corpus), TZ=os.environ.get("TZ", "UTC"))
    for d in ("home", "data", "config", "run"):
        (work / d).mkdir()
    (work / "config" / "cclive").mkdir()
    (work / "config" / "cclive" / "config.toml").write_text(
        "[budget]\ndaily_usd = 50.0\nmonthly_usd = 1000.0\n")

    # Ten of the larger files get ~100 KB each of new responses (fresh message ids) per round.
    targets = sorted(files, key=lambda f: f.stat().st_size)[-10:]
    sizes = {f: f.stat().st_size for f in targets}

    def appended(f, rnd):
        lines = f.read_bytes().splitlines(keepends=True)
        out, n = [], 0
        for line in lines:
            if b'"usage"' not in line:
                continue
            out.append(re.sub(rb'"id":"msg_', f'"id":"msg_bench{rnd}_'.encode(), line))
            n += len(line)
            if n >= 100_000:
                break
        return b"".join(out)

    rows = {k: [] for k in ("cat", "ccusage", "cold", "cold_rss", "ccusage_rss", "warm",
                            "append", "report")}
    builds = [("", args.bin)] + ([("base_", args.baseline)] if args.baseline else [])
    for prefix, _ in builds[1:]:
        rows.update({prefix + k: [] for k in ("cold", "cold_rss", "warm", "append", "report")})
    print(f"corpus: {mb:.0f} MB in {len(files)} files; {args.rounds} interleaved rounds; "
          f"load average {open('/proc/loadavg').read().split()[:3]} ({os.cpu_count()} cores)",
          flush=True)
    for rnd in range(args.rounds):
        env = dict(base_env, CCLIVE_DB=str(work / f"round{rnd}.db"))
        wall, _, _ = run(["bash", "-c", f"find '{corpus}' -name '*.jsonl' -print0 | xargs -0 cat"],
                         env)
        rows["cat"].append(wall)
        wall, rss, _ = run([args.ccusage, "daily", "--json", "--offline"], env)
        rows["ccusage"].append(wall)
        rows["ccusage_rss"].append(rss)
        # Taking turns at going first: what runs right after ccusage runs on a warmer machine.
        for prefix, binary in builds if rnd % 2 == 0 else builds[::-1]:
            db = work / f"{prefix}round{rnd}.db"
            env = dict(base_env, CCLIVE_DB=str(db))
            wall, rss, _ = run([binary, "import", "--quiet"], env)
            rows[prefix + "cold"].append(wall)
            rows[prefix + "cold_rss"].append(rss)
            for _ in range(args.repeats):
                rows[prefix + "warm"].append(run([binary, "import", "--quiet"], env)[0])
            # Each +1 MB import starts from the same database (a copy of it), so one round
            # gives several timings: a millisecond figure on this machine needs many.
            snapshot = {Path(f"{db}{side}"): work / f"snapshot{side}" for side in ("", "-wal")}
            for live, copy in snapshot.items():
                if live.exists():
                    shutil.copyfile(live, copy)
            added = {f: appended(f, rnd) for f in targets}
            for rep in range(args.repeats):
                if rep > 0:
                    Path(f"{db}-shm").unlink(missing_ok=True)
                    for live, copy in snapshot.items():
                        if copy.exists():
                            shutil.copyfile(copy, live)
                        else:
                            live.unlink(missing_ok=True)
                for f, data in added.items():
                    with open(f, "ab") as out:
                        out.write(data)
                try:
                    rows[prefix + "append"].append(run([binary, "import", "--quiet"], env)[0])
                finally:
                    for f in targets:
                        os.truncate(f, sizes[f])
            for copy in snapshot.values():
                copy.unlink(missing_ok=True)
            rows[prefix + "report"].append(run([binary, "report", "daily", "--json"], env)[0])
            if rnd < args.rounds - 1:
                db.unlink()
                for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
                    extra.unlink(missing_ok=True)
        print(f"  round {rnd + 1}/{args.rounds} done", flush=True)
    appended_mb = sum(len(appended(f, 0)) for f in targets) / 2**20
    db = work / f"round{args.rounds - 1}.db"
    env = dict(base_env, CCLIVE_DB=str(db))

    cc, cc_s = summary(rows["ccusage"])
    cold, cold_s = summary(rows["cold"])
    warm, warm_s = summary(rows["warm"], "ms", 1000)
    app, app_s = summary(rows["append"], "ms", 1000)
    print()
    print(f"{'what':<44} {'median (min–max)':<34} ratio / goal")
    print(f"{'cat (I/O floor)':<44} {summary(rows['cat'])[1]:<34}")
    print(f"{'ccusage 20 daily --json --offline':<44} {cc_s:<34} "
          f"peak {statistics.median(rows['ccusage_rss']):.0f} MB")
    print(f"{'cclive import, cold':<44} {cold_s:<34} {cold / cc:.2f}x ccusage (goal <= 0.5x), "
          f"peak {statistics.median(rows['cold_rss']):.0f} MB")
    print(f"{'cclive import, nothing changed':<44} {warm_s:<34} (goal < 30 ms)")
    cold_rate = mb / cold
    goal = 2 * warm + appended_mb / cold_rate * 1000
    print(f"{f'cclive import after +{appended_mb:.1f} MB in 10 files':<44} {app_s:<34} "
          f"goal <= {goal:.0f} ms")
    print(f"{'cclive report daily --json':<44} {summary(rows['report'], 'ms', 1000)[1]:<34} "
          f"(goal < 30 ms; ccusage {cc:.2f} s)")
    for prefix, binary in builds[1:]:
        print(f"\nthe same rows for the baseline {binary}, in the same rounds (this build / it):")
        for key, label, unit, scale in (
                ("cold", "import, cold", "s", 1.0),
                ("warm", "import, nothing changed", "ms", 1000),
                ("append", f"import after +{appended_mb:.1f} MB in 10 files", "ms", 1000),
                ("report", "report daily --json", "ms", 1000)):
            med, text = summary(rows[prefix + key], unit, scale)
            ratio = statistics.median(rows[key]) * scale / med
            extra = f", {med / scale / cc:.2f}x ccusage" if key == "cold" else ""
            print(f"{'  baseline ' + label:<44} {text:<34} this build {ratio:.2f}x{extra}")

    # Not a speed: every session's tokens and responses after a cold import of this history,
    # against the generator's ground truth (a 1 GB history holds cases a test's small one lacks).
    truth_file = Path(args.corpus) / "ground-truth.json"
    if truth_file.exists():
        truth = json.loads(truth_file.read_text())["by_session"]
        check_env = dict(base_env, CCLIVE_DB=str(work / "exactness.db"))
        run([args.bin, "import", "--quiet"], check_env)
        listed = json.loads(subprocess.run(
            [args.bin, "sessions", "--json", "--limit", str(len(truth) * 2 + 10)],
            env=check_env, check=True, capture_output=True).stdout)
        fields = ("input", "output", "cache_read", "cache_creation")
        by_id = {s["session_id"]: [s["tokens"].get(k, 0) for k in fields] + [s["api_requests"]]
                 for s in listed}
        differ = [sid for sid, e in truth.items()
                  if by_id.get(sid) != [e.get(k, 0) for k in fields] + [e["messages"]]]
        print(f"{'sessions as the ground truth counts them':<44} {len(truth) - len(differ)} of "
              f"{len(truth)}" + (f"; differ: {', '.join(differ[:5])}" if differ else ""))

    # The dashboard: first answer on a fresh DB, /api/costs, an idle monitor, live transcripts.
    port = free_port()
    fresh = dict(base_env, CCLIVE_DB=str(work / "fresh.db"))
    t0 = time.perf_counter()
    dash = subprocess.Popen([args.bin, "dashboard", "--port", str(port)], env=fresh,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(dash)
    first = None
    while first is None:
        try:
            get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            first = time.perf_counter() - t0
        except OSError:
            if dash.poll() is not None:
                sys.exit("the dashboard exited")
            time.sleep(0.005)
    print(f"{'dashboard start → first answer (fresh DB)':<44} {first * 1000:9.1f} ms"
          f"{'':<22} (goal < 100 ms)")
    dash.terminate()
    dash.wait()

    def start_dashboard():
        port = free_port()
        dash = subprocess.Popen([args.bin, "dashboard", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(dash)
        while True:
            try:
                get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return dash, port
            except OSError:
                time.sleep(0.05)

    dash, port = start_dashboard()
    times = []
    for _ in range(30):
        t = time.perf_counter()
        get(f"http://127.0.0.1:{port}/api/costs?days=120", timeout=30)
        times.append(time.perf_counter() - t)
    print(f"{'/api/costs?days=120 (30 requests)':<44} {summary(times, 'ms', 1000)[1]:<34} "
          f"p99 {sorted(times)[-1] * 1000:.1f} ms (goal p50 < 20 ms)")

    time.sleep(2)  # let the start-up settle before the idle window
    cpu = ThreadCpu(dash.pid)
    _, sw0 = cpu_and_switches(dash.pid)
    time.sleep(args.idle_seconds)
    _, sw1 = cpu_and_switches(dash.pid)
    print(f"{f'idle monitor, {args.idle_seconds} s':<44} CPU {100 * cpu.seconds() / args.idle_seconds:.3f} %, "
          f"{switches_between(sw0, sw1) / args.idle_seconds:.1f} wake-ups/s, RSS {rss_mb(dash.pid):.0f} MB "
          f"(goal < 0.1 % CPU)")

    # Live lines: a response line of a stored session, each copy with a new message id and the
    # session id of the transcript it is appended to.
    sample = next(line for line in targets[0].read_bytes().splitlines() if b'"usage"' in line)
    longest = targets[-1]
    longest_id = re.search(rb'"sessionId":"([^"]+)"', longest.read_bytes()).group(1).decode()
    longest_responses = len({m for m in re.findall(rb'"id":"(msg_[^"]+)"', longest.read_bytes())})
    live_rows = [
        # 20 sessions at once, as a busy machine runs them: their writes share transactions.
        ("20 live transcripts, a line/s each", [f"bench-live-{i}" for i in range(20)], 0.5),
        # One session alone: every line is a transaction of its own.
        ("1 live transcript, a line/s", ["bench-live-one"], 0.5),
        # One line more for the longest stored session (resumed in a new file): each
        # transaction stores its whole ledger.
        (f"1 live line/s to a {longest_responses}-response session", [longest_id], 0.5),
    ]
    dash.terminate()
    dash.wait()
    # Each row starts from this history, on a monitor of its own: the sessions an earlier row
    # left live (stored as running) are not its work.
    before_live = work / "before-live.db"
    src, dst = sqlite3.connect(db), sqlite3.connect(before_live)
    src.backup(dst)  # with whatever its write-ahead log still holds
    src.close()
    dst.close()
    for n, (label, sessions, goal) in enumerate(live_rows):
        for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            extra.unlink(missing_ok=True)
        shutil.copy(before_live, db)
        dash, _ = start_dashboard()
        # Measured once the start-up (its catch-up import, the first probe) is over: a second
        # with at most 5 ms of CPU, or 15 s.
        for _ in range(15):
            quiet = ThreadCpu(dash.pid)
            time.sleep(1)
            if quiet.seconds() <= 0.005:
                break
        live_dir = corpus / "projects" / f"-bench-live-{n}"
        live_dir.mkdir(parents=True, exist_ok=True)
        live = [open(live_dir / f"live-{i}.jsonl", "ab") for i in range(len(sessions))]
        cpu = ThreadCpu(dash.pid)
        lines = 0
        start = time.perf_counter()
        for second in range(args.live_seconds):
            for i, (f, session) in enumerate(zip(live, sessions)):
                line = re.sub(rb'"id":"msg_', f'"id":"msg_live{n}_{i}_{second}_'.encode(), sample)
                line = re.sub(rb'"sessionId":"[^"]*"', f'"sessionId":"{session}"'.encode(), line)
                f.write(line + b"\n")
                f.flush()
                lines += 1
            time.sleep(max(0.0, start + second + 1 - time.perf_counter()))
            cpu.sample()
        time.sleep(1)
        spent = cpu.seconds()
        for f in live:
            f.close()
        print(f"{label:<44} {1000 * spent / lines:9.2f} ms CPU "
              f"per line{'':<11} (goal < {goal} ms)")
        dash.terminate()
        dash.wait()
        # Gone before the next row's monitor starts: it would take them for sessions just active.
        shutil.rmtree(live_dir)

    payload = json.dumps({
        "session_id": "bench-session", "cwd": "/home/me/app", "version": "2.1.332",
        "model": {"id": "claude-opus-5-5", "display_name": "Opus 5.5"},
        "workspace": {"current_dir": "/home/me/app", "project_dir": "/home/me/app"},
        "cost": {"total_cost_usd": 0.42, "total_duration_ms": 16193, "total_api_duration_ms": 10074},
        "context_window": {"total_input_tokens": 6500, "total_output_tokens": 42,
                           "context_window_size": 1000000},
        "rate_limits": {"five_hour": {"used_percentage": 42.5, "resets_at": 4102444800},
                        "seven_day": {"used_percentage": 7, "resets_at": 4102444800}}}).encode()
    (work / "payload.json").write_bytes(payload)

    def spawn_times(cmd, n):
        out = []
        for _ in range(n):
            out.append(run(cmd, env, stdin=work / "payload.json")[0])
        return sorted(out)

    floor = spawn_times(["true"], 50)
    p = lambda v, q: v[min(len(v) - 1, int(len(v) * q))] * 1000  # noqa: E731
    # Each build with its own database and status line cache, runs interleaved.
    sl_envs = {}
    for prefix, _ in builds:
        runtime = work / f"{prefix}run-sl"
        runtime.mkdir()
        sl_envs[prefix] = dict(base_env, XDG_RUNTIME_DIR=str(runtime),
                               CCLIVE_DB=str(work / f"{prefix}round{args.rounds - 1}.db"))
    sl = {prefix: [] for prefix, _ in builds}
    for i in range(5 + args.statusline_runs):
        for prefix, binary in builds if i % 2 == 0 else builds[::-1]:
            wall = run([binary, "statusline"], sl_envs[prefix], stdin=work / "payload.json")[0]
            if i >= 5:  # the first runs fill the cache
                sl[prefix].append(wall)
    for prefix, binary in builds:
        v = sorted(sl[prefix])
        name = f"cclive statusline ({len(v)} runs)" if not prefix else "  baseline statusline"
        print(f"{name:<44} p50 {p(v, 0.5):.2f} ms, p99 {p(v, 0.99):.2f} ms"
              f"{'':<8} (goal p99 < 4 ms; spawn floor p50 {p(floor, 0.5):.2f} ms)")
    print("\nappend → SSE latency: scripts/bench-dashboard.sh (event → browser, p50/p99)")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
