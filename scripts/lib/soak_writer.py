#!/usr/bin/env python3
"""Synthetic Claude Code 2.1 sessions for scripts/bench-soak.sh, and their ground truth.

Keeps N sessions writing at a time for a given number of seconds: each appends realistic 2.1
transcript lines over time (a prompt, a Bash call, its result, the answer; a few turns; then
`cost-state`, as Claude Code writes at exit), opening the file in append mode for every line as
Claude Code does. When a session ends another starts in its place; when the time is up no new
one starts and the running ones finish. The ground truth (per session: tokens, Claude Code's
cost, tool calls) is written as JSON at the end. It never reads anything cclive writes.

    soak_writer.py PROJECTS_DIR SESSIONS SECONDS TRUTH_JSON [SEED]
"""

import heapq
import json
import os
import random
import sys
import time
import uuid

MODEL = "claude-sonnet-4-5"
# USD per million tokens (Claude Code's own rates for MODEL): the cost-state total it writes.
RATES = {"input": 3.0, "output": 15.0, "cache_creation": 3.75, "cache_read": 0.3}
VERSION = "2.1.332"
# Gaps between lines stay under the 5 s after which a transcript-only session counts as ended.
GAP = (0.2, 2.5)


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class Session:
    def __init__(self, rng, projects, n):
        self.rng = rng
        self.sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        project = "p%d" % (n % 5)
        self.cwd = "/soak/" + project
        folder = os.path.join(projects, "-soak-" + project)
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, self.sid + ".jsonl")
        self.parent = None
        self.tokens = {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0}
        self.tools = 0
        self.lines = self.script()

    def envelope(self, kind):
        u = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        d = {"parentUuid": self.parent, "isSidechain": False, "type": kind, "uuid": u,
             "timestamp": now_iso(), "userType": "external", "entrypoint": "cli",
             "cwd": self.cwd, "sessionId": self.sid, "version": VERSION, "gitBranch": "main"}
        self.parent = u
        return d

    def usage(self):
        r = self.rng
        u = {"input": r.randint(1, 3000), "output": r.randint(10, 2000),
             "cache_read": r.randint(0, 50000), "cache_creation": r.randint(0, 5000)}
        for k, v in u.items():
            self.tokens[k] += v
        return {"input_tokens": u["input"], "cache_creation_input_tokens": u["cache_creation"],
                "cache_read_input_tokens": u["cache_read"], "output_tokens": u["output"],
                "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard",
                "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                   "ephemeral_5m_input_tokens": u["cache_creation"]}}

    def assistant(self, content, stop):
        d = self.envelope("assistant")
        d["message"] = {"id": "msg_soak_%s" % uuid.UUID(int=self.rng.getrandbits(128)).hex[:24],
                        "type": "message", "role": "assistant", "model": MODEL,
                        "content": content, "stop_reason": stop, "stop_sequence": None,
                        "usage": self.usage()}
        d["requestId"] = "req_soak_%s" % uuid.UUID(int=self.rng.getrandbits(128)).hex[:24]
        return d

    def script(self):
        """The session's lines, each built when it is due (timestamps are the writing time)."""
        for turn in range(self.rng.randint(2, 6)):
            def prompt(turn=turn):
                d = self.envelope("user")
                d["message"] = {"role": "user", "content": "Soak prompt number %d." % turn}
                d["promptId"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
                d["permissionMode"] = "default"
                return d
            yield prompt
            tool_id = "toolu_soak_%s" % uuid.UUID(int=self.rng.getrandbits(128)).hex[:24]

            def call(tool_id=tool_id):
                self.tools += 1
                return self.assistant([{"type": "tool_use", "id": tool_id, "name": "Bash",
                                        "input": {"command": "ls", "description": "List files"}}],
                                      "tool_use")
            yield call

            def result(tool_id=tool_id):
                d = self.envelope("user")
                d["message"] = {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": tool_id, "content": "a\nb",
                     "is_error": False}]}
                d["toolUseResult"] = {"stdout": "a\nb", "stderr": "", "interrupted": False}
                return d
            yield result
            yield lambda: self.assistant([{"type": "text", "text": "Done."}], "end_turn")

        def cost_state():
            return {"type": "cost-state", "sessionId": self.sid, "totalCostUSD": self.cost(),
                    "totalAPIDuration": 1000, "totalAPIDurationWithoutRetries": 1000,
                    "totalToolDuration": 10, "totalLinesAdded": 0, "totalLinesRemoved": 0,
                    "totalDuration": 20000, "startTime": int(time.time() * 1000) - 20000,
                    "modelUsage": {MODEL: {
                        "inputTokens": self.tokens["input"], "outputTokens": self.tokens["output"],
                        "cacheReadInputTokens": self.tokens["cache_read"],
                        "cacheCreationInputTokens": self.tokens["cache_creation"],
                        "webSearchRequests": 0, "costUSD": self.cost()}},
                    "hasUnknownModelCost": False}
        yield cost_state

    def cost(self):
        return sum(self.tokens[k] * RATES[k] for k in RATES) / 1e6

    def write_next(self):
        """Appends the next line; False when the session has ended."""
        build = next(self.lines, None)
        if build is None:
            return False
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(build(), separators=(",", ":")) + "\n")
        return True

    def truth(self):
        return {"tokens": self.tokens, "cost_usd": self.cost(), "tool_calls": self.tools}


def main():
    projects, n, seconds, truth_path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 12)
    end = time.monotonic() + seconds
    started = 0
    truth = {}
    due = []  # (when, tie, session)
    for _ in range(n):
        s = Session(rng, projects, started)
        started += 1
        heapq.heappush(due, (time.monotonic() + rng.uniform(*GAP), started, s))
    while due:
        when, tie, s = heapq.heappop(due)
        time.sleep(max(0.0, when - time.monotonic()))
        if s.write_next():
            heapq.heappush(due, (time.monotonic() + rng.uniform(*GAP), tie, s))
            continue
        truth[s.sid] = s.truth()
        if time.monotonic() < end:
            s = Session(rng, projects, started)
            started += 1
            heapq.heappush(due, (time.monotonic() + rng.uniform(*GAP), started, s))
    with open(truth_path, "w", encoding="utf-8") as f:
        json.dump(truth, f)


if __name__ == "__main__":
    main()
