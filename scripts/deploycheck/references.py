"""Cross-file checks: paths exist, ports agree, variables are provided and read, images are pinned."""

import re
from pathlib import PurePosixPath
from urllib.parse import urlparse

from . import facts as F


def _duration_seconds(text):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(text).strip())
    if not m or not any(m.groups()):
        return None
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def check_image_pinned(report, area, image):
    """`repo:tag`, where tag is not `latest` (a digest also counts as pinned)."""
    if "@sha256:" in image:
        return
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag or not tag:
        report.problem(area, f"image '{image}' has no tag: pin one")
    elif tag == "latest":
        report.problem(area, f"image '{image}' uses 'latest': pin a version")


# ---- the Dockerfile and its build context -------------------------------------------------------

def _dockerignore_patterns(repo):
    text = repo.path(".dockerignore").read_text() if repo.exists(".dockerignore") else ""
    patterns = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        rx = "".join(".*" if part == "**" else re.escape(part).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
                     for part in re.split(r"(\*\*)", pattern))
        patterns.append((negate, re.compile(rx + "$")))
    return patterns


def docker_ignored(path, patterns):
    """Whether .dockerignore keeps `path` out of the build context (docker's rule: last match wins,
    and a pattern matching a parent directory matches what is inside)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for negate, rx in patterns:
        if any(rx.match(c) for c in candidates):
            ignored = not negate
    return ignored


def check_dockerfile(repo, report, f):
    if not f.stages:
        report.problem("dockerfile", "no FROM: nothing parsed")
        return
    for st in f.stages:
        check_image_pinned(report, "dockerfile", st.image)
        if not st.image.startswith("debian:12"):
            report.problem("dockerfile", f"stage at line {st.line} is FROM {st.image}; "
                                         "expected debian:12-slim (bookworm)")
    patterns = _dockerignore_patterns(repo)
    stage_names = {st.name for st in f.stages}
    for st in f.stages:
        for cp in st.copies:
            if cp.from_stage:
                if cp.from_stage not in stage_names:
                    report.problem("dockerfile", f"line {cp.line}: COPY --from={cp.from_stage}: no such stage")
                continue
            for src in cp.sources:
                rel = src.rstrip("/")
                if not repo.exists(rel):
                    report.problem("dockerfile", f"line {cp.line}: COPY source {src} does not exist")
                elif docker_ignored(rel, patterns):
                    report.problem("dockerfile", f"line {cp.line}: COPY source {src} is excluded by .dockerignore")
                elif repo.path(rel).is_dir() and all(docker_ignored(p.relative_to(repo.root).as_posix(), patterns)
                                                    for p in repo.path(rel).rglob("*") if p.is_file()):
                    report.problem("dockerfile", f"line {cp.line}: every file of {src} is excluded by .dockerignore")
    rt = f.runtime()
    if rt.expose != [f.port()]:
        report.problem("ports", f"Dockerfile EXPOSE {rt.expose} != tollgate_settings.port {f.port()} of {F.CONFIG}")
    if f.config_file_path() not in f.image_files():
        report.problem("paths", f"Dockerfile ENV CONFIG_FILE_PATH={f.config_file_path()} "
                                "is no file the image copies in")
    if f.workdir() not in rt.volumes:
        report.problem("dockerfile", f"WORKDIR {f.workdir()} is not a VOLUME: "
                                     "the spend journal would die with the container")
    if f.uid() != "10001":
        report.problem("dockerfile", f"USER {rt.user}: expected the fixed uid 10001")
    if rt.stopsignal != "SIGTERM":
        report.problem("dockerfile", "STOPSIGNAL must be SIGTERM (the gateway drains on it)")
    if not rt.entrypoint or rt.entrypoint[0] not in f.image_files():
        report.problem("dockerfile", f"ENTRYPOINT {rt.entrypoint} is not a file the image copies in")
    _check_healthcheck(report, "dockerfile", rt.healthcheck, f)


def _check_healthcheck(report, area, command, f):
    """The health check runs deploy/tollgate-healthcheck, inside the image, on the gateway's port."""
    words = command if isinstance(command, list) else re.findall(r'[^\s",\[\]]+', command)
    script = next((w for w in words if w.endswith("tollgate-healthcheck")), None)
    if script is None:
        report.problem(area, "the health check does not run tollgate-healthcheck")
        return
    if script not in f.image_files():
        report.problem(area, f"health check {script} is not a file the image copies in")
    after = words[words.index(script) + 1:]
    default = re.search(r"port=\$\{1:-(\d+)\}", f.repo.path("deploy/tollgate-healthcheck").read_text()
                        if f.repo.exists("deploy/tollgate-healthcheck") else "")
    port = int(after[0]) if after and after[0].isdigit() else int(default.group(1)) if default else None
    if port != f.port():
        report.problem("ports", f"{area} health check probes port {port}, the gateway listens on {f.port()}")


# ---- compose ------------------------------------------------------------------------------------

def check_compose(repo, report, f):
    services = (f.compose or {}).get("services") or {}
    for name in ("tollgate", "postgres", "redis", "prometheus", "grafana"):
        if name not in services:
            report.problem("compose", f"no service '{name}'")
    base = PurePosixPath("deploy")
    for name, svc in services.items():
        svc = svc or {}
        if "image" in svc:
            check_image_pinned(report, "compose", svc["image"])
        build = svc.get("build")
        if build:
            context = base / (build.get("context", ".") if isinstance(build, dict) else build)
            if not repo.path(str(context)).is_dir():
                report.problem("compose", f"{name}: build context {context} does not exist")
            dfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
            if not repo.exists(_norm(dfile)):
                report.problem("compose", f"{name}: dockerfile {_norm(dfile)} does not exist")
        for vol in svc.get("volumes") or []:
            source = str(vol).split(":")[0]
            if source.startswith((".", "/")) and not repo.exists(_norm(base / source)):
                report.problem("compose", f"{name}: mounted path {source} ({_norm(base / source)}) does not exist")
    _check_compose_tollgate(report, f)
    _check_compose_grafana(report, f)


def _norm(path):
    """deploy/../x -> x (paths relative to the repository root)."""
    parts = []
    for p in PurePosixPath(path).parts:
        if p == "..":
            parts.pop()
        elif p != ".":
            parts.append(p)
    return "/".join(parts)


def _mounts(svc):
    out = {}
    for vol in svc.get("volumes") or []:
        bits = str(vol).split(":")
        if len(bits) >= 2:
            out[bits[1]] = bits[0]
    return out


def _check_compose_tollgate(report, f):
    svc = f.service("tollgate")
    if not svc:
        return
    ports = [str(p) for p in svc.get("ports") or []]
    container_ports = {int(p.split(":")[-1].split("/")[0]) for p in ports}
    if container_ports != {f.port()}:
        report.problem("ports", f"compose tollgate publishes container ports {sorted(container_ports)}, "
                                f"the gateway listens on {f.port()}")
    env = f.compose_env("tollgate")
    for name in f.config_environ():
        if name not in env:
            report.problem("env", f"{F.CONFIG} reads os.environ/{name}; compose's tollgate service does not set it")
    mounts = _mounts(svc)
    target = f.config_file_path()
    if _norm(PurePosixPath("deploy") / mounts.get(target, "")) != F.CONFIG:
        report.problem("paths", f"compose tollgate must mount ./config/tollgate.yaml at {target} (CONFIG_FILE_PATH)")
    if f.workdir() not in mounts:
        report.problem("compose", f"tollgate: no volume at {f.workdir()} (the working directory: spend journal)")
    grace = _duration_seconds(svc.get("stop_grace_period", "10s"))
    if grace is None or grace <= f.shutdown_timeout():
        report.problem("compose", f"tollgate stop_grace_period {svc.get('stop_grace_period')} must exceed "
                                  f"the drain deadline {f.shutdown_timeout()} s")
    hc = (svc.get("healthcheck") or {}).get("test")
    if not hc:
        report.problem("compose", "tollgate has no healthcheck")
    else:
        _check_healthcheck(report, "compose", hc, f)
    deps = svc.get("depends_on") or {}
    for dep in ("postgres", "redis"):
        cond = (deps.get(dep) or {}).get("condition") if isinstance(deps, dict) else None
        if cond != "service_healthy":
            report.problem("compose", f"tollgate must depend on {dep} being healthy")
        if not (f.service(dep).get("healthcheck") or {}).get("test"):
            report.problem("compose", f"{dep} has no healthcheck")
    url = urlparse(re.sub(r"\$\{[^}]*\}", "x", str(env.get("DATABASE_URL") or "")))
    if url.hostname not in ((f.compose or {}).get("services") or {}):
        report.problem("compose", f"DATABASE_URL's host '{url.hostname}' is not a compose service")
    if str(env.get("REDIS_HOST")) not in ((f.compose or {}).get("services") or {}):
        report.problem("compose", f"REDIS_HOST '{env.get('REDIS_HOST')}' is not a compose service")


def _check_compose_grafana(report, f):
    # Where deploy/README.md says to mount the provisioning and the dashboards.
    wanted = {"/etc/grafana/provisioning/datasources": "grafana/provisioning/datasources",
              "/etc/grafana/provisioning/dashboards": "grafana/provisioning/dashboards",
              "/var/lib/grafana/dashboards": "grafana/dashboards"}
    mounts = _mounts(f.service("grafana"))
    for target, source in wanted.items():
        if _norm(PurePosixPath("deploy") / mounts.get(target, "")) != f"deploy/{source}":
            report.problem("compose", f"grafana must mount ./{source} at {target}")
    if _norm(PurePosixPath("deploy") / _mounts(f.service("prometheus")).get("/etc/prometheus/prometheus.yml", "")) \
            != F.PROMETHEUS:
        report.problem("compose", "prometheus must mount ./prometheus/prometheus.yml at /etc/prometheus/prometheus.yml")


# ---- Prometheus and Grafana ---------------------------------------------------------------------

def check_monitoring(report, f):
    jobs = [j for j in (f.prometheus.get("scrape_configs") or []) if (j or {}).get("job_name") == "tollgate"]
    if len(jobs) != 1:
        report.problem("prometheus", "needs exactly one scrape job named 'tollgate' (the cluster test rewrites it)")
    for job in jobs:
        if job.get("metrics_path", "/metrics") != "/metrics":
            report.problem("prometheus", f"metrics_path {job.get('metrics_path')} is not /metrics")
        targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
        if targets != [f"tollgate:{f.port()}"]:
            report.problem("ports", f"prometheus targets {targets} != ['tollgate:{f.port()}'] "
                                    "(compose service, gateway port)")
    sources = [d for d in f.datasource.get("datasources") or [] if (d or {}).get("type") == "prometheus"]
    prom_ports = {int(str(p).split(":")[-1]) for p in f.service("prometheus").get("ports") or []}
    for ds in sources:
        url = urlparse(ds.get("url", ""))
        if url.hostname != "prometheus" or url.port not in prom_ports or url.port != 9090:
            report.problem("grafana", f"datasource url {ds.get('url')} is not compose's prometheus service on 9090")
        interval = (ds.get("jsonData") or {}).get("timeInterval")
        scrape = (f.prometheus.get("global") or {}).get("scrape_interval")
        if interval != scrape:
            report.problem("grafana", f"datasource timeInterval {interval} != prometheus scrape_interval {scrape}")
    if not sources:
        report.problem("grafana", "no prometheus datasource")


# ---- systemd ------------------------------------------------------------------------------------

def _unit_values(text, key):
    return [m.group(1).strip() for m in re.finditer(rf"^{key}=(.*)$", text, re.M)]


def check_systemd(report, f):
    text = f.unit_text
    if not text:
        return
    wanted = {"Type": "simple", "User": "tollgate", "WorkingDirectory": f.workdir(), "StateDirectory": "tollgate",
              "EnvironmentFile": "/etc/tollgate/tollgate.env", "KillSignal": "SIGTERM", "Restart": "on-failure",
              "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
              "ReadWritePaths": f.workdir(), "LimitNOFILE": "65536", "ExecReload": "/bin/kill -HUP $MAINPID"}
    for key, value in wanted.items():
        if _unit_values(text, key) != [value]:
            report.problem("systemd", f"{key}={value} expected, found {_unit_values(text, key)}")
    stop = _unit_values(text, "TimeoutStopSec")
    if not stop or not stop[0].isdigit() or int(stop[0]) <= f.shutdown_timeout():
        report.problem("systemd", f"TimeoutStopSec {stop} must exceed the drain deadline {f.shutdown_timeout()} s")
    pre = " ".join(_unit_values(text, "ExecStartPre"))
    start = " ".join(_unit_values(text, "ExecStart"))
    if "--check-config" not in pre:
        report.problem("systemd", "ExecStartPre must validate the config (--check-config)")
    config_args = re.findall(r"--config\s+(\S+)", pre + " " + start)
    if len(config_args) != 2 or len(set(config_args)) != 1:
        report.problem("systemd", f"ExecStartPre and ExecStart must name the same --config, found {config_args}")
    env_file_names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", f.unit_env_text, re.M))
    for name in f.config_environ():
        if name not in env_file_names:
            report.problem("env", f"{F.UNIT_ENV} does not mention {name} (os.environ/{name} of {F.CONFIG})")
    set_names = re.findall(r"^([A-Z][A-Z0-9_]*)=", f.unit_env_text, re.M)
    for name in set_names:
        if not f.project_reads(name):
            report.problem("env", f"{F.UNIT_ENV} sets {name}, which the gateway never reads")


# ---- environment variables and command-line flags -----------------------------------------------

def check_env_read(report, f, helm_env_names):
    """Every variable set for the gateway is one it reads."""
    sets = {"compose tollgate": list(f.compose_env("tollgate")), "Dockerfile ENV": list(f.runtime().env)
            if f.runtime() else [], "helm deployment": helm_env_names}
    for where, names in sets.items():
        for name in names:
            if not f.project_reads(name):
                report.problem("env", f"{where} sets {name}, which the gateway never reads (not in src/, "
                                      f"no os.environ/{name} in its configs)")


def check_cli_flags(report, f, helm_args):
    """Flags the artifacts pass to tollgate belong to its command line."""
    used = {}
    rt = f.runtime()
    used["Dockerfile ENTRYPOINT"] = rt.entrypoint[1:] if rt else []
    unit_commands = _unit_values(f.unit_text, "ExecStartPre") + _unit_values(f.unit_text, "ExecStart")
    used["systemd"] = " ".join(unit_commands).split()
    used["helm"] = helm_args
    cmd = f.service("tollgate").get("command") or []
    used["compose"] = cmd.split() if isinstance(cmd, str) else cmd
    pending = []
    for where, words in used.items():
        for w in words:
            if not w.startswith("-"):
                continue
            if w not in F.CLI_FLAGS:
                report.problem("cli", f"{where} passes {w}, which is not one of tollgate's flags")
            elif f'"{w}"' not in f.src_text and f"{w}: decided, not in src/ yet" not in pending:
                pending.append(f"{w}: decided, not in src/ yet")
                report.note("cli", f"{where} passes {pending[-1]}")
