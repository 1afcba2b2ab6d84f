"""The checks other programs do: yamllint, docker-compose, promtool and systemd-analyze."""

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from . import facts as F

YAMLLINT_CONFIG = "deploy/.yamllint"
# The YAML sources linted as they are (plus the Grafana provisioning files).
YAML_SOURCES = [F.COMPOSE, F.PROMETHEUS, F.CONFIG, "deploy/helm/tollgate/Chart.yaml",
                "deploy/helm/tollgate/values.yaml", "deploy/helm/tollgate/files/tollgate.yaml", YAMLLINT_CONFIG]
# Rendered manifests are Helm's output style, which the source rules would flag without cause:
# sprig's indent pads the blank lines of a block scalar, toYaml writes lists unindented under their
# key, and trimmed actions leave blank lines and comments where they were.
RENDERED_RULES = {
    "trailing-spaces": "disable",
    "empty-lines": "disable",
    "indentation": {"spaces": 2, "indent-sequences": "whatever"},
    "comments-indentation": "disable",
}

_results = {}


def _run(label, argv, cwd, inputs, root):
    """(exit code, output) of argv, remembered per program and text of its inputs: the self-test
    checks the same files many times. `root` is cut from the output (messages name repo paths)."""
    key = (label, hashlib.sha256("\0".join(inputs).encode()).hexdigest())
    if key not in _results:
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        _results[key] = (out.returncode, (out.stdout + out.stderr).replace(f"{root}/", "").strip())
    return _results[key]


def _need(tool, report, area):
    path = shutil.which(tool)
    if path is None:
        report.problem(area, f"{tool} is not installed (scripts/install-deps --test installs it)")
    return path


def yamllint(repo, report, renderings):
    exe = _need("yamllint", report, "yamllint")
    if exe is None:
        return
    if not repo.exists(YAMLLINT_CONFIG):
        report.problem("yamllint", f"{YAMLLINT_CONFIG} is missing")
        return
    sources = YAML_SOURCES + sorted(str(p.relative_to(repo.root))
                                    for p in repo.path("deploy/grafana/provisioning").rglob("*.yml"))
    sources = [s for s in sources if repo.exists(s)]
    _lint(report, exe, repo.root, YAMLLINT_CONFIG, {s: repo.path(s).read_text() for s in sources}, "")
    config = yaml.safe_load(repo.path(YAMLLINT_CONFIG).read_text()) or {}
    config.setdefault("rules", {}).update(RENDERED_RULES)
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as tmp:
        (Path(tmp) / "rendered.yamllint").write_text(yaml.safe_dump(config))
        files = {}
        for r in renderings:
            for name, text in r.texts.items():
                out = Path(tmp) / r.set_name / name
                out.parent.mkdir(exist_ok=True)
                out.write_text(text)
                files[f"{r.set_name}/{name}"] = text
        if files:
            _lint(report, exe, tmp, "rendered.yamllint", files, "rendered ")


def _lint(report, exe, cwd, config, files, prefix):
    inputs = [(Path(cwd) / config).read_text()] + [f"{k}\n{v}" for k, v in sorted(files.items())]
    code, out = _run("yamllint", [exe, "-f", "parsable", "-c", config, *sorted(files)], cwd, inputs, cwd)
    for line in out.splitlines():
        report.problem("yamllint", prefix + line)
    if code != 0 and not out:
        report.problem("yamllint", f"exited {code}")


def compose_config(repo, report):
    """`docker-compose config`: Compose's own validation of the file (schema, interpolation), with
    .env.example's values. Debian's docker-compose (1.29) needs no Docker engine for it."""
    exe = _need("docker-compose", report, "compose")
    if exe is None or not repo.exists(F.COMPOSE) or not repo.exists("deploy/.env.example"):
        return
    inputs = [repo.path(F.COMPOSE).read_text(), repo.path("deploy/.env.example").read_text()]
    code, out = _run("compose", [exe, "--env-file", ".env.example", "-f", "docker-compose.yml", "config", "-q"],
                     repo.path("deploy"), inputs, repo.root)
    if code != 0:
        report.problem("compose", f"docker-compose config: {out}")


def promtool(repo, report):
    exe = _need("promtool", report, "promtool")
    if exe is None or not repo.exists(F.PROMETHEUS):
        return
    code, out = _run("promtool", [exe, "check", "config", F.PROMETHEUS], repo.root,
                     [repo.path(F.PROMETHEUS).read_text()], repo.root)
    if code != 0:
        report.problem("promtool", out.replace("\n", " | "))


def systemd_verify(repo, report, binary):
    """systemd-analyze verify on the unit, its /usr/local/bin/tollgate (absent here) replaced by the
    binary under test. Any complaint counts, warnings included."""
    exe = _need("systemd-analyze", report, "systemd")
    if exe is None or not repo.exists(F.UNIT):
        return
    text = repo.path(F.UNIT).read_text().replace("/usr/local/bin/tollgate", str(Path(binary).resolve()))
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as tmp:
        (Path(tmp) / "tollgate.service").write_text(text)
        code, out = _run("systemd", [exe, "verify", "tollgate.service"], tmp, [text], tmp)
    for line in out.splitlines():
        report.problem("systemd", line.replace("tollgate.service:", f"{F.UNIT}:", 1))
    if code != 0 and not out:
        report.problem("systemd", f"systemd-analyze verify exited {code}")
