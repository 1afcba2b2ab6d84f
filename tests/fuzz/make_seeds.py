#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into OUT_DIR/<target>/ (scripts/fuzz calls it).

Seeds are the vendor transcripts under tests/data/ and the hand-written inputs under
tests/fuzz/seeds/, each behind the option bytes its target reads first (tests/fuzz/*_fuzz.cpp
documents them), plus every input kept in tests/fuzz/regressions/<target>/ as it is.
Nothing is written outside OUT_DIR.

Usage: make_seeds.py OUT_DIR
"""
import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SEEDS = ROOT / "tests" / "fuzz" / "seeds"
REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"

# tests/fuzz/fuzz_providers.hpp's kProviderSpecs, in order.
PROVIDERS = ["openai", "mistral", "azure", "anthropic", "gemini", "vertex_ai", "bedrock", "ollama_chat"]
P = {name: i for i, name in enumerate(PROVIDERS)}
# The providers that read each transcript folder's format.
VENDOR_PROVIDERS = {
    "anthropic": [P["anthropic"]],
    "gemini": [P["gemini"], P["vertex_ai"]],
    "bedrock": [P["bedrock"]],
    "ollama": [P["ollama_chat"]],
    "azure": [P["azure"], P["openai"]],
    "openai": [P["openai"], P["mistral"], P["azure"]],
}
# provider_response_fuzz.cpp's status table: index -> bits 3-6 of its option byte.
STATUS_BITS = {200: 0 << 3, 400: 3 << 3, 429: 10 << 3, 500: 11 << 3, 503: 12 << 3, 529: 13 << 3}
ADMIN_ENTITIES = ["key", "team", "user", "organization", "end_user", "budget"]
ENDPOINTS = {"chat": 0, "completions": 1, "embeddings": 2}


class Corpus:
    def __init__(self, out: Path):
        self.out = out
        self.counts = {}

    def add(self, target: str, name: str, data: bytes):
        d = self.out / target
        d.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(data).hexdigest()[:10]
        (d / f"{name}-{digest}").write_bytes(data)
        self.counts[target] = self.counts.get(target, 0) + 1


def files(folder: Path, pattern: str):
    return sorted(p for p in folder.glob(pattern) if p.is_file())


def event_message(headers, payload: bytes) -> bytes:
    """One AWS event stream message with string headers (providers/bedrock/eventstream.hpp)."""
    h = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        h += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
    total = 16 + len(h) + len(payload)
    prelude = struct.pack(">II", total, len(h))
    msg = prelude + struct.pack(">I", zlib.crc32(prelude)) + h + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def eventstream(transcript: Path) -> bytes:
    """The bytes a tests/data/bedrock/*.events.json transcript describes (as the unit tests build them)."""
    out = b""
    for e in json.loads(transcript.read_text()):
        payload = json.dumps(e["payload"], separators=(",", ":")).encode()
        if "exception" in e:
            headers = [(":exception-type", e["exception"]), (":content-type", "application/json"),
                       (":message-type", "exception")]
        else:
            headers = [(":event-type", e["event"]), (":content-type", "application/json"),
                       (":message-type", "event")]
        out += event_message(headers, payload)
    return out


def chunk_lines_as_sse(path: Path) -> bytes:
    """A *.expected.data file (one OpenAI chunk or [DONE] per line) as the SSE the gateway sends."""
    return b"".join(b"data: " + line + b"\n\n" for line in path.read_bytes().splitlines() if line.strip())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    c = Corpus(Path(sys.argv[1]))
    vendors = [p for p in sorted(DATA.iterdir()) if p.is_dir()]

    # Transport: raw HTTP requests (CRLF as sent), with default and small limits, in one read and split.
    for f in files(SEEDS / "http_request", "*.http"):
        raw = f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        for opt in (0x00, 0x05, 0x80):
            c.add("http_request_fuzz", f.stem, bytes([opt]) + raw)

    # Stream framings.
    sse = [f for v in vendors for f in files(v, "**/*.sse")]
    chunk_streams = [(f, chunk_lines_as_sse(f)) for v in vendors for f in files(v, "*.expected.data")]
    for f in sse:
        for seed, limit in ((0, 0), (1, 0), (7, 1)):
            c.add("sse_decoder_fuzz", f.stem, bytes([seed, limit]) + f.read_bytes())
    for f, body in chunk_streams:
        c.add("sse_decoder_fuzz", f.stem + "-chunks", bytes([3, 0]) + body)
    for f in files(DATA / "ollama", "*.ndjson"):
        for seed, limit in ((0, 0), (1, 0), (7, 1)):
            c.add("ndjson_decoder_fuzz", f.stem, bytes([seed, limit]) + f.read_bytes())
    bedrock_streams = [(f, eventstream(f)) for f in files(DATA / "bedrock", "*.events.json")]
    for f, body in bedrock_streams:
        for seed in (0, 6):
            c.add("eventstream_decoder_fuzz", f.stem, bytes([seed]) + body)

    # JSON: every transcript that is JSON.
    for v in vendors:
        for f in files(v, "**/*.json"):
            for opt in (0, 1):
                c.add("json_scan_fuzz", f.stem, bytes([opt]) + f.read_bytes())

    # OpenAI-format client requests: the vendors' request transcripts (inputs) and hand-written ones.
    requests = []
    for v in vendors:
        requests += [(f, 0) for f in files(v, "*_request.json")]
    requests += [(f, 0) for f in files(DATA / "anthropic" / "inbound", "*_request.expected.json")]
    for f in files(SEEDS / "request", "*.json"):
        requests.append((f, ENDPOINTS[f.stem.split("_")[0]]))
    for f, endpoint in requests:
        for flags in (0x00, 0x0C):
            c.add("request_fuzz", f.stem, bytes([endpoint | flags]) + f.read_bytes())
        for i in range(len(PROVIDERS)):
            c.add("provider_request_fuzz", f"{f.stem}-{PROVIDERS[i]}", bytes([i, endpoint | 0x04]) + f.read_bytes())

    # Anthropic Messages requests: what the Anthropic adapter sends (its *.expected.json), and the
    # front end's own request transcript.
    messages_requests = files(DATA / "anthropic", "*_request.expected.json")
    messages_requests += files(DATA / "anthropic" / "inbound", "tools_request.json")
    for f in messages_requests:
        c.add("provider_request_fuzz", f.stem + "-passthrough", bytes([P["anthropic"], 0x10]) + f.read_bytes())
        c.add("messages_inbound_fuzz", f.stem, bytes([0]) + f.read_bytes())

    # Whole upstream answers, successes and errors, to the providers that read them.
    for v in vendors:
        readers = VENDOR_PROVIDERS.get(v.name, [])
        for f in files(v, "*.json"):
            if f.name.endswith(".expected.json") or f.name.endswith("_request.json"):
                continue
            body = f.read_bytes()
            error = f.stem.startswith("error") or "error" in f.stem
            for p in readers:
                if error:
                    for status in (400, 429, 503):
                        c.add("provider_response_fuzz", f"{f.stem}-{status}-{PROVIDERS[p]}",
                              bytes([p, STATUS_BITS[status]]) + body)
                    c.add("provider_response_fuzz", f"{f.stem}-headers-{PROVIDERS[p]}",
                          bytes([p, STATUS_BITS[429] | 0x80]) + b"30\n6m0s\nThrottlingException\n" + body)
                else:
                    for flags in (0x00, 0x04):
                        c.add("provider_response_fuzz", f"{f.stem}-{PROVIDERS[p]}", bytes([p, STATUS_BITS[200] | flags]) + body)
    # The gateway's OpenAI-format answers: what the OpenAI adapter passes on and the front end reads.
    for v in vendors:
        for f in files(v, "**/*_response.expected.json"):
            body = f.read_bytes()
            for p in VENDOR_PROVIDERS["openai"]:
                c.add("provider_response_fuzz", f"{f.stem}-{PROVIDERS[p]}", bytes([p, 0x04]) + body)
            c.add("messages_inbound_fuzz", f.stem, bytes([2]) + body)
    for f in files(DATA / "anthropic" / "inbound", "*_response.json"):
        c.add("messages_inbound_fuzz", f.stem, bytes([2]) + f.read_bytes())

    # Streamed upstream answers in each framing, to the providers that read them.
    for f in sse:
        vendor = f.relative_to(DATA).parts[0]
        readers = VENDOR_PROVIDERS["openai"] if "inbound" in f.parts else VENDOR_PROVIDERS.get(vendor, [])
        for p in readers:
            for opt in (0x00, 0x03, 0x04 | (5 << 3)):
                c.add("provider_stream_fuzz", f"{f.stem}-{PROVIDERS[p]}", bytes([p, opt]) + f.read_bytes())
    for f, body in chunk_streams:
        for p in VENDOR_PROVIDERS["openai"]:
            c.add("provider_stream_fuzz", f"{f.stem}-{PROVIDERS[p]}", bytes([p, 0x07]) + body)
        for mode in (3, 3 | (6 << 2)):
            c.add("messages_inbound_fuzz", f.stem, bytes([mode]) + body)
    for f in files(DATA / "ollama", "*.ndjson"):
        for opt in (0x00, 0x03, 0x04 | (5 << 3)):
            c.add("provider_stream_fuzz", f"{f.stem}-ollama_chat", bytes([P["ollama_chat"], opt]) + f.read_bytes())
    for f, body in bedrock_streams:
        for opt in (0x00, 0x03, 0x04 | (5 << 3)):
            c.add("provider_stream_fuzz", f"{f.stem}-bedrock", bytes([P["bedrock"], opt]) + body)

    # Admin API bodies (the entity from the file name), and config files.
    for f in files(SEEDS / "admin_body", "*.json"):
        entity = next(i for i, e in enumerate(ADMIN_ENTITIES) if f.stem.startswith(e + "_"))
        c.add("admin_body_fuzz", f.stem, bytes([entity]) + f.read_bytes())
    configs = files(ROOT / "config", "**/*.yaml") + files(ROOT / "deploy" / "config", "*.yaml")
    configs += files(SEEDS / "config_loader", "*.yaml")
    for f in configs:
        c.add("config_loader_fuzz", f.stem, f.read_bytes())

    # Inputs that once found a bug stay in every run's corpus.
    if REGRESSIONS.is_dir():
        for d in sorted(p for p in REGRESSIONS.iterdir() if p.is_dir()):
            for f in files(d, "*"):
                c.add(d.name, "regression-" + f.name, f.read_bytes())

    for target, n in sorted(c.counts.items()):
        print(f"make_seeds: {target}: {n} seeds")


if __name__ == "__main__":
    main()
