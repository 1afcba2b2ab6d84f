"""The Dockerfile's apt lists against their sources: scripts/install-deps and the built binary."""

import os
import re
import shlex
import subprocess

from . import facts as F

# Packages debian:12-slim already has, which the runtime stage therefore does not install.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# Runtime packages the binary does not link but the image needs, and why.
RUNTIME_EXTRAS = {
    "ca-certificates": "the system CA store: TLS to providers verifies against it",
}


def build_pkgs(repo, report):
    """`build_pkgs=(...)` of scripts/install-deps."""
    text = repo.text(F.INSTALL_DEPS, "packages")
    m = re.search(r"^build_pkgs=\((.*?)\)", text or "", re.S | re.M)
    if not m:
        report.problem("packages", f"no build_pkgs=(...) in {F.INSTALL_DEPS}")
        return set()
    return set(shlex.split(m.group(1), comments=True))


def _run(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _owners(paths):
    """{library path: owning Debian package}, from one dpkg -S call. With a merged /usr the dpkg
    database may list a file under /lib or under /usr/lib: each path is asked as given, as its real
    path, and in both spellings."""
    spellings = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            for c in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
                spellings.setdefault(c, path)
    owners = {}
    for line in _run(["dpkg", "-S", *spellings]).stdout.splitlines():
        package, _, file = line.partition(": ")
        if file in spellings:
            owners.setdefault(spellings[file], package.split(",")[0].split(":")[0].strip())
    return owners


def _libraries(binary, report):
    """(directly linked sonames, {soname: resolved path}) of the binary."""
    needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", _run(["readelf", "-d", binary]).stdout)
    ldd = _run(["ldd", binary])
    if ldd.returncode != 0 or not needed:
        report.problem("packages", f"cannot read the libraries of {binary}: {ldd.stderr.strip() or 'not an ELF file?'}")
        return [], {}
    resolved = {}
    for line in ldd.stdout.split("\n"):
        m = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
        if m:
            if m.group(2) == "not":
                report.problem("packages", f"{binary} needs {m.group(1)}, which is not installed here")
            else:
                resolved[m.group(1)] = m.group(2)
    return needed, resolved


def _installed_depends():
    """{package: [names it depends on]} of every installed package (Depends and Pre-Depends), one query."""
    out = _run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"]).stdout
    deps = {}
    for line in out.splitlines():
        package, _, fields = line.partition("\t")
        names = []
        # `a (>= 1) | b`: any alternative will do; take them all, what is installed is what counts.
        for alternative in re.split(r"[,|]", fields):
            name = re.sub(r"\(.*?\)", "", alternative).strip().split(":")[0]
            if name:
                names.append(name)
        deps[package] = names
    return deps


def _depends_closure(packages, deps):
    """Every package the given ones depend on, transitively."""
    seen, todo = set(), list(packages)
    while todo:
        pkg = todo.pop()
        if pkg not in seen:
            seen.add(pkg)
            todo += deps.get(pkg, [])
    return seen


_binary_cache = {}


def _binary_facts(binary, report):
    """(direct sonames, {soname: path}, {path: package}, installed depends) of a binary, computed
    once per binary (the self-test checks the same one many times)."""
    if binary not in _binary_cache:
        needed, resolved = _libraries(binary, report)
        _binary_cache[binary] = (needed, resolved, _owners(resolved.values()), _installed_depends())
    return _binary_cache[binary]


def check(repo, report, f, binary):
    build, runtime = f.build_stage(), f.runtime()
    if build is None or runtime is None:
        report.problem("packages", "the Dockerfile needs a build stage and a runtime stage")
        return
    wanted = build_pkgs(repo, report)
    have = set(build.apt_packages)
    if have != wanted:
        report.problem("packages", f"build stage installs {sorted(have - wanted)} beyond and lacks "
                                   f"{sorted(wanted - have)} of {F.INSTALL_DEPS}'s build_pkgs")
    needed, resolved, owners, deps = _binary_facts(binary, report)
    if not needed:
        return
    direct = set()
    for soname in needed:
        owner = owners.get(resolved.get(soname))
        if owner is None:
            report.problem("packages", f"no Debian package owns {soname} ({resolved.get(soname)})")
        elif owner not in BASE_IMAGE_PACKAGES:
            direct.add(owner)
    expected = direct | set(RUNTIME_EXTRAS)
    have = set(runtime.apt_packages)
    for pkg in sorted(have - expected):
        report.problem("packages", f"runtime stage installs {pkg}: the binary does not link it "
                                   "and it is no declared extra")
    for pkg in sorted(expected - have):
        report.problem("packages", f"runtime stage lacks {pkg} (" +
                       (RUNTIME_EXTRAS.get(pkg) or "owns a library the binary links") + ")")
    # ldd also lists what those libraries load in turn: each must come with the packages installed.
    closure = _depends_closure(have | BASE_IMAGE_PACKAGES, deps)
    for soname, path in sorted(resolved.items()):
        owner = owners.get(path)
        if owner and owner not in closure:
            report.problem("packages", f"{soname} (package {owner}) would be missing: no runtime package depends on it")
