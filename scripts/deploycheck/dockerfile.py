"""Reads deploy/Dockerfile into what the checks compare: stages, apt packages, COPYs, ports, paths."""

import json
import re
import shlex
from dataclasses import dataclass, field


@dataclass
class Copy:
    sources: list          # paths in the build context (or in stage `from_stage`)
    dest: str
    from_stage: str = ""   # --from=STAGE, empty for the build context
    line: int = 0


@dataclass
class Stage:
    image: str
    name: str
    line: int
    apt_packages: list = field(default_factory=list)
    copies: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    expose: list = field(default_factory=list)
    workdir: str = ""
    user: str = ""
    volumes: list = field(default_factory=list)
    healthcheck: str = ""
    stopsignal: str = ""
    entrypoint: list = field(default_factory=list)


def _instructions(text):
    """Yields (line number, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        parts = []
        while line.endswith("\\"):
            parts.append(line[:-1])
            while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith("#")):
                i += 1   # comment and blank lines inside a continued instruction are ignored
            line = lines[i].strip() if i < len(lines) else ""
            i += 1
        parts.append(line)
        joined = " ".join(p.strip() for p in parts)
        word, _, rest = joined.partition(" ")
        yield start + 1, word.upper(), rest.strip()


def _apt_install_packages(command):
    """Package names of every `apt-get install` in a RUN command (options and flags left out)."""
    packages = []
    for segment in re.split(r"&&|;|\|\|", command):
        words = shlex.split(segment)
        for j in range(len(words) - 1):
            if words[j] in ("apt-get", "apt") and words[j + 1] == "install":
                packages += [w for w in words[j + 2:] if not w.startswith("-")]
    return packages


def _exec_form(args):
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def parse(text):
    """The stages of a Dockerfile, in order."""
    stages = []
    for line, word, args in _instructions(text):
        if word == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(image=words[0], name=name, line=line))
            continue
        if not stages:
            continue
        st = stages[-1]
        if word == "RUN":
            # `RUN --mount=...` flags precede the command.
            command = re.sub(r"^(--\S+\s+)+", "", args)
            st.apt_packages += _apt_install_packages(command)
        elif word in ("COPY", "ADD"):
            words = shlex.split(args) if not args.lstrip().startswith("[") else json.loads(args)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            from_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), "")
            st.copies.append(Copy(sources=paths[:-1], dest=paths[-1], from_stage=from_stage, line=line))
        elif word == "ENV":
            for pair in shlex.split(args):
                k, _, v = pair.partition("=")
                st.env[k] = v
        elif word == "EXPOSE":
            st.expose += [int(p.split("/")[0]) for p in args.split()]
        elif word == "WORKDIR":
            st.workdir = args
        elif word == "USER":
            st.user = args
        elif word == "VOLUME":
            st.volumes += _exec_form(args)
        elif word == "HEALTHCHECK":
            st.healthcheck = args
        elif word == "STOPSIGNAL":
            st.stopsignal = args
        elif word == "ENTRYPOINT":
            st.entrypoint = _exec_form(args)
    return stages
