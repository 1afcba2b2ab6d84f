"""Proof that the checks catch what they claim to: each case copies the checkout, breaks one thing
and expects a problem naming it. The unbroken copy must come out clean first."""

import shutil
import tempfile
from pathlib import Path

from . import run_checks

# (what is broken, file, text replaced, replacement, words the reported problem must contain)
CASES = [
    ("EXPOSE port", "deploy/Dockerfile", "EXPOSE 4000", "EXPOSE 4001", "EXPOSE [4001]"),
    ("compose published port", "deploy/docker-compose.yml", '"4000:4000"', '"4000:4001"', "container ports [4001]"),
    ("Helm containerPort", "deploy/helm/tollgate/values.yaml", "containerPort: 4000", "containerPort: 4001",
     "containerPort 4001"),
    ("prometheus target", "deploy/prometheus/prometheus.yml", '"tollgate:4000"', '"tollgate:4001"',
     "prometheus targets"),
    ("grafana datasource", "deploy/grafana/provisioning/datasources/prometheus.yml", "prometheus:9090",
     "prometheus:9091", "datasource url"),
    ("missing mounted path", "deploy/docker-compose.yml", "./grafana/dashboards:", "./grafana/dashbords:",
     "mounted path ./grafana/dashbords"),
    ("missing COPY source", "deploy/Dockerfile", "COPY LICENSE ", "COPY LICENCE ",
     "COPY source LICENCE does not exist"),
    ("COPY source outside the context", ".dockerignore", "!LICENSE\n", "", "LICENSE is excluded by .dockerignore"),
    ("extra runtime package", "deploy/Dockerfile", "libpq5 ca-certificates", "libpq5 libcurl4 ca-certificates",
     "runtime stage installs libcurl4"),
    ("missing runtime package", "deploy/Dockerfile", "libhiredis0.14 ", "", "runtime stage lacks libhiredis0.14"),
    ("build packages drift", "deploy/Dockerfile", "g++ cmake make ccache", "g++ cmake make", "lacks ['ccache']"),
    ("template: unclosed action", "deploy/helm/tollgate/templates/service.yaml", "{{ .Values.service.type }}",
     "{{ .Values.service.type }", "template syntax"),
    ("template: unknown function", "deploy/helm/tollgate/templates/service.yaml", "{{ .Values.service.type }}",
     "{{ .Values.service.type | upper }}", "function 'upper'"),
    ("template: end missing", "deploy/helm/tollgate/templates/hpa.yaml", "{{- end }}\n", "", "without 'end'"),
    ("template: undefined value", "deploy/helm/tollgate/templates/service.yaml", ".Values.service.port",
     ".Values.service.prot", ".Values.service.prot"),
    ("rendered YAML broken", "deploy/helm/tollgate/templates/pdb.yaml", "  maxUnavailable:", "maxUnavailable:",
     "pdb.yaml"),
    ("undocumented value", "deploy/helm/tollgate/values.yaml", "# Fewest replicas.\n", "",
     "'minReplicas' has no comment"),
    ("config env not provided", "deploy/docker-compose.yml", '      REDIS_PORT: "6379"\n', "",
     "compose's tollgate service does not set it"),
    ("env var nobody reads", "deploy/docker-compose.yml", "      REDIS_HOST: redis\n",
     "      REDIS_HOST: redis\n      TOLLGATE_COLOUR: blue\n", "sets TOLLGATE_COLOUR"),
    ("unknown flag", "deploy/helm/tollgate/templates/deployment.yaml", "- --skip-migrations", "- --skip-migration",
     "passes --skip-migration,"),
    ("config path", "deploy/docker-compose.yml", ":/etc/tollgate/config.yaml:ro", ":/etc/tollgate/tollgate.yaml:ro",
     "must mount ./config/tollgate.yaml"),
    ("unpinned image", "deploy/docker-compose.yml", "image: redis:7.2", "image: redis:latest", "uses 'latest'"),
    ("untagged image", "deploy/docker-compose.yml", "image: postgres:15", "image: postgres", "has no tag"),
    ("Helm config copy stale", "deploy/helm/tollgate/files/tollgate.yaml", "num_retries: 2", "num_retries: 3",
     "differs from deploy/config/tollgate.yaml"),
    ("grace period too short", "deploy/helm/tollgate/values.yaml", "terminationGracePeriodSeconds: 45",
     "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds 30 must exceed"),
    ("compose stop grace", "deploy/docker-compose.yml", "stop_grace_period: 40s", "stop_grace_period: 20s",
     "stop_grace_period 20s"),
    ("yamllint", "deploy/prometheus/prometheus.yml", "metrics_path: /metrics\n", "metrics_path: /metrics  \n",
     "trailing-spaces"),
    ("yamllint on rendered templates", "deploy/helm/tollgate/templates/service.yaml", "      protocol: TCP\n",
     "      protocol: TCP\n      protocol: UDP\n", "key-duplicates"),
    ("migration hook order", "deploy/helm/tollgate/templates/migration-job.yaml", 'hook-weight: "-10"',
     'hook-weight: "10"', "not a hook created before it"),
    ("systemd env file", "deploy/systemd/tollgate.env.example", "REDIS_PORT=6379\n", "",
     "does not mention REDIS_PORT"),
    ("compose schema", "deploy/docker-compose.yml", "stop_grace_period:", "stop_grace:", "Unsupported config option"),
    ("promtool", "deploy/prometheus/prometheus.yml", "evaluation_interval: 15s", "evaluation_interval: 15x",
     "promtool"),
    ("systemd directive", "deploy/systemd/tollgate.service", "KillMode=mixed", "KillMode=gently", "kill mode"),
    ("systemd stop timeout", "deploy/systemd/tollgate.service", "TimeoutStopSec=40", "TimeoutStopSec=20",
     "TimeoutStopSec ['20']"),
]


def _copy(root, dest):
    ignore = shutil.ignore_patterns(".git", "build", "build-*", "node_modules", ".cache", "results")
    shutil.copytree(root, dest, ignore=ignore, symlinks=True)


def run(root, binary):
    """Runs every case; prints each outcome; returns the names of the failed ones."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="check-deploy-selftest-") as tmp:
        clean = Path(tmp) / "clean"
        _copy(root, clean)
        baseline = run_checks(clean, binary)
        if baseline.problems:
            print("FAIL the unbroken copy has problems (fix those first):")
            for p in baseline.problems:
                print(f"    {p}")
            return ["baseline"]
        for name, rel, old, new, expect in CASES:
            work = Path(tmp) / "case"
            shutil.copytree(clean, work, symlinks=True)
            target = work / rel
            text = target.read_text()
            if old not in text:
                print(f"FAIL {name}: '{old.strip()}' is no longer in {rel}; update the case")
                failures.append(name)
            else:
                target.write_text(text.replace(old, new, 1))
                problems = run_checks(work, binary).problems
                hits = [p for p in problems if expect in p]
                if hits:
                    print(f"ok   {name}: {hits[0]}")
                else:
                    print(f"FAIL {name}: no problem mentions '{expect}'; got {problems or 'none'}")
                    failures.append(name)
            shutil.rmtree(work)
    return failures
