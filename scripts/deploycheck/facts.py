"""What the deployment files say, read once: the cross-file checks compare these."""

import re
from pathlib import PurePosixPath

from . import dockerfile

CONFIG = "deploy/config/tollgate.yaml"     # THE gateway config of compose, Helm and the cluster test
IMAGE_CONFIG = "config/config.yaml"        # the image's own /etc/tollgate/config.yaml
COMPOSE = "deploy/docker-compose.yml"
DOCKERFILE = "deploy/Dockerfile"
PROMETHEUS = "deploy/prometheus/prometheus.yml"
DATASOURCE = "deploy/grafana/provisioning/datasources/prometheus.yml"
UNIT = "deploy/systemd/tollgate.service"
UNIT_ENV = "deploy/systemd/tollgate.env.example"
INSTALL_DEPS = "scripts/install-deps"

# The gateway's command line as decided for the deployment issue. Flags the artifacts pass must be
# among these; the ones not found in src/ yet are printed as notes.
CLI_FLAGS = {"--config", "-c", "--host", "--port", "--num_workers", "--version", "--help", "--check-config",
             "--migrate-only", "--skip-migrations"}
DEFAULT_SHUTDOWN_TIMEOUT = 30   # tollgate_settings.shutdown_timeout_seconds (docs/configuration.md)
DEFAULT_PORT = 4000


def environ_names(config):
    """The NAMEs of every `os.environ/NAME` value in a parsed config (comments do not count)."""
    if isinstance(config, dict):
        return sorted({n for v in config.values() for n in environ_names(v)})
    if isinstance(config, list):
        return sorted({n for v in config for n in environ_names(v)})
    m = re.fullmatch(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)", config) if isinstance(config, str) else None
    return [m.group(1)] if m else []


def api_key_environ_names(config):
    """Variables behind a deployment's api_key: unset, that deployment is skipped (not an error)."""
    out = set()
    for entry in (config or {}).get("model_list") or []:
        key = str(((entry or {}).get("litellm_params") or {}).get("api_key") or "")
        if key.startswith("os.environ/"):
            out.add(key.split("/", 1)[1])
    return out


class Facts:
    """The parsed deployment files of one checkout. Missing files are reported once, here."""

    def __init__(self, repo):
        self.repo = repo
        self.config_text = repo.text(CONFIG, "config")
        self.config = repo.yaml(CONFIG, "config") or {}
        self.image_config = repo.yaml(IMAGE_CONFIG, "config") or {}
        self.compose = repo.yaml(COMPOSE, "compose") or {}
        self.prometheus = repo.yaml(PROMETHEUS, "prometheus") or {}
        self.datasource = repo.yaml(DATASOURCE, "grafana") or {}
        text = repo.text(DOCKERFILE, "dockerfile")
        self.stages = dockerfile.parse(text) if text else []
        self.unit_text = repo.text(UNIT, "systemd") or ""
        self.unit_env_text = repo.text(UNIT_ENV, "systemd") or ""
        self.src_text = "\n".join(p.read_text(errors="replace") for p in sorted(repo.path("src").rglob("*"))
                                  if p.suffix in (".cpp", ".hpp", ".h") and p.is_file())

    # ---- the gateway's config ----
    def settings(self):
        return (self.config or {}).get("tollgate_settings") or {}

    def port(self):
        return self.settings().get("port", DEFAULT_PORT)

    def shutdown_timeout(self):
        return self.settings().get("shutdown_timeout_seconds", DEFAULT_SHUTDOWN_TIMEOUT)

    def config_environ(self):
        return environ_names(self.config)

    def optional_environ(self):
        return api_key_environ_names(self.config)

    def project_reads(self, name):
        """Whether the gateway reads this environment variable: in src/ or via a shipped config."""
        if f'"{name}"' in self.src_text:
            return True
        return name in self.config_environ() or name in environ_names(self.image_config)

    # ---- the image ----
    def runtime(self):
        return self.stages[-1] if self.stages else None

    def build_stage(self):
        return self.stages[0] if len(self.stages) > 1 else None

    def config_file_path(self):
        rt = self.runtime()
        return rt.env.get("CONFIG_FILE_PATH", "") if rt else ""

    def workdir(self):
        rt = self.runtime()
        return rt.workdir if rt else ""

    def uid(self):
        rt = self.runtime()
        return rt.user.split(":")[0] if rt else ""

    def image_files(self):
        """Absolute paths of the files the runtime stage copies in from the build context."""
        files = set()
        rt = self.runtime()
        for cp in rt.copies if rt else []:
            for src in cp.sources:
                if cp.from_stage:
                    files.add(cp.dest if not cp.dest.endswith("/") else cp.dest + PurePosixPath(src).name)
                    continue
                p = self.repo.path(src)
                if p.is_dir():
                    for f in p.rglob("*"):
                        if f.is_file():
                            files.add(str(PurePosixPath(cp.dest) / f.relative_to(p).as_posix()))
                elif cp.dest.endswith("/") or len(cp.sources) > 1:
                    files.add(str(PurePosixPath(cp.dest) / PurePosixPath(src).name))
                else:
                    files.add(cp.dest)
        return files

    # ---- compose ----
    def service(self, name):
        return ((self.compose or {}).get("services") or {}).get(name) or {}

    def compose_env(self, name):
        env = self.service(name).get("environment") or {}
        if isinstance(env, list):
            env = dict((e.split("=", 1) + [None])[:2] for e in env)
        return env
