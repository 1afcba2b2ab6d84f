"""Checks on the rendered Helm manifests against the image, the config and each other."""

import hashlib
import posixpath
import re

from . import facts as F
from .helm import CHART
from .references import check_image_pinned

EXPECTED_API = {"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1",
                "HorizontalPodAutoscaler": "autoscaling/v2", "PodDisruptionBudget": "policy/v1",
                "ServiceMonitor": "monitoring.coreos.com/v1", "Ingress": "networking.k8s.io/v1", "Job": "batch/v1"}
HOOK_EVENTS = {"pre-install", "pre-upgrade"}
SYNC = f"cp {F.CONFIG} {CHART}/files/tollgate.yaml"


def _container(doc, name=None):
    containers = (((doc.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return next((c for c in containers if name is None or c.get("name") == name), {})


def _pod_spec(doc):
    return ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}


def _annotations(doc):
    return (doc.get("metadata") or {}).get("annotations") or {}


def check_rendered(repo, report, f, renderings):
    """Runs every rendered-manifest check; returns (env names, args) the Deployment gives the gateway."""
    env_names, args = set(), []
    for r in renderings:
        where = f"helm ({r.set_name} values)"
        seen = set()
        for template, doc in r.docs:
            key = (doc.get("kind"), (doc.get("metadata") or {}).get("name"))
            if key in seen:
                report.problem(where, f"two {key[0]} named {key[1]}")
            seen.add(key)
            want = EXPECTED_API.get(doc.get("kind"))
            if want and doc.get("apiVersion") != want:
                report.problem(where, f"{template}: {doc.get('kind')} apiVersion {doc.get('apiVersion')} != {want}")
            if len(str(key[1])) > 63:
                report.problem(where, f"{template}: name {key[1]} is longer than 63 characters")
        deployments = r.by_kind("Deployment")
        if len(deployments) != 1:
            report.problem(where, f"{len(deployments)} Deployments rendered, expected 1")
            continue
        dep = deployments[0]
        env_names |= _check_deployment(report, where, f, r, dep)
        args += _container(dep, "tollgate").get("args") or []
        _check_service(report, where, r, dep)
        _check_config_map(repo, report, where, f, r, dep)
        args += _check_migration(report, where, f, r, dep)
        _check_secret_refs(report, where, r)
    all_on = next((r for r in renderings if r.set_name == "all-features"), None)
    if all_on:
        kinds = {d.get("kind") for _, d in all_on.docs}
        for kind in EXPECTED_API:
            if kind not in kinds:
                report.problem("helm (all-features values)", f"no {kind} rendered")
    return sorted(env_names), args


def _check_deployment(report, where, f, r, dep):
    c = _container(dep, "tollgate")
    pod = _pod_spec(dep)
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    if ports.get("http") != f.port():
        report.problem("ports", f"{where}: containerPort {ports.get('http')} != tollgate_settings.port {f.port()}")
    for probe, path in (("livenessProbe", "/health/liveliness"), ("readinessProbe", "/health/readiness")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("port") not in ("http", f.port()):
            report.problem(where, f"{probe} must GET {path} on the http port, found {get}")
    image = c.get("image", "")
    check_image_pinned(report, where, image)
    security = pod.get("securityContext") or {}
    if str(security.get("runAsUser")) != f.uid() or security.get("runAsNonRoot") is not True:
        report.problem(where, f"pod runAsUser {security.get('runAsUser')} must be the image's uid {f.uid()}, non-root")
    if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
        report.problem(where, "the container's root filesystem must be read-only")
    mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    if "emptyDir" not in volumes.get(mounts.get(f.workdir()), {}):
        report.problem(where, f"no emptyDir at {f.workdir()}, the working directory (spend journal)")
    pre_stop = ((((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or [])
    sleep = int(pre_stop[1]) if len(pre_stop) == 2 and pre_stop[0] == "sleep" else 0
    grace = pod.get("terminationGracePeriodSeconds") or 30
    if grace <= sleep + f.shutdown_timeout():
        report.problem(where, f"terminationGracePeriodSeconds {grace} must exceed preStop {sleep} s + "
                              f"the drain deadline {f.shutdown_timeout()} s")
    anti = (pod.get("affinity") or {}).get("podAntiAffinity")
    if not anti:
        report.problem(where, "no pod anti-affinity")
    env = [e.get("name") for e in c.get("env") or []]
    for name in f.config_environ():
        if name not in env:
            report.problem("env", f"{where}: {F.CONFIG} reads os.environ/{name}; the Deployment does not set it")
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref and e.get("name") in f.optional_environ() and ref.get("optional") is not True:
            report.problem(where, f"{e.get('name')} is a provider key: its secretKeyRef must be optional")
    return set(env)


def _check_service(report, where, r, dep):
    for svc in r.by_kind("Service"):
        selector = (svc.get("spec") or {}).get("selector") or {}
        labels = ((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            report.problem(where, "the Service's selector does not match the Deployment's pods")
        ports = [p.get("targetPort") for p in (svc.get("spec") or {}).get("ports") or []]
        if ports != ["http"]:
            report.problem(where, f"the Service must target the container port named http, found {ports}")
    for job in r.by_kind("Job"):
        labels = ((job.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        for svc in r.by_kind("Service"):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                report.problem(where, "the Service's selector also matches the migration Job's pod")


def _check_config_map(repo, report, where, f, r, dep):
    c = _container(dep, "tollgate")
    args = c.get("args") or []
    config_path = args[args.index("--config") + 1] if "--config" in args else f.config_file_path()
    if config_path != f.config_file_path():
        report.problem("paths", f"{where}: --config {config_path} != the image's CONFIG_FILE_PATH "
                                f"{f.config_file_path()}")
    mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
    volumes = {v.get("name"): v for v in _pod_spec(dep).get("volumes") or []}
    directory, filename = posixpath.split(config_path)
    cm_name = ((volumes.get(mounts.get(directory)) or {}).get("configMap") or {}).get("name")
    maps = {(m.get("metadata") or {}).get("name"): m for m in r.by_kind("ConfigMap")}
    if cm_name not in maps:
        report.problem("paths", f"{where}: no ConfigMap mounted at {directory} (where --config {config_path} is)")
        return
    content = (maps[cm_name].get("data") or {}).get(filename)
    if content is None:
        report.problem("paths", f"{where}: ConfigMap {cm_name} has no key {filename}")
        return
    annotation = _annotations(dep["spec"]["template"]).get("checksum/config")
    if annotation != hashlib.sha256(content.encode()).hexdigest():
        report.problem(where, "checksum/config is not the SHA-256 of the ConfigMap's config (pods would not roll)")
    if not r.values.get("config") and content != f.config_text:
        report.problem(where, f"the default ConfigMap differs from {F.CONFIG}: {SYNC}")


def _check_migration(report, where, f, r, dep):
    args = _container(dep, "tollgate").get("args") or []
    jobs = r.by_kind("Job")
    enabled = r.values.get("migration", {}).get("enabled")
    if not enabled:
        if jobs or "--skip-migrations" in args:
            report.problem(where, "migration disabled, yet a Job or --skip-migrations is rendered")
        return []
    if "--skip-migrations" not in args:
        report.problem(where, "with the migration Job the replicas must start with --skip-migrations")
    if len(jobs) != 1:
        report.problem(where, f"{len(jobs)} migration Jobs rendered, expected 1")
        return []
    job = jobs[0]
    hooks = set(str(_annotations(job).get("helm.sh/hook", "")).split(","))
    if hooks != HOOK_EVENTS:
        report.problem(where, f"the migration Job's helm.sh/hook is {sorted(hooks)}, expected pre-install,pre-upgrade")
    if "hook-succeeded" not in str(_annotations(job).get("helm.sh/hook-delete-policy", "")):
        report.problem(where, "the migration Job needs a hook-delete-policy")
    c = _container(job)
    jargs = c.get("args") or []
    if "--migrate-only" not in jargs:
        report.problem(where, "the migration Job does not run --migrate-only")
    if "--config" in jargs and jargs[jargs.index("--config") + 1] not in f.image_files():
        report.problem("paths", f"{where}: the Job's --config is not a file of the image (no ConfigMap exists yet)")
    image_db = ((f.image_config.get("general_settings") or {}).get("database_url"))
    if image_db is not None:
        report.problem(where, f"{F.IMAGE_CONFIG} sets database_url; the Job relies on it taking DATABASE_URL")
    if (f.config.get("general_settings") or {}).get("database_url") != "os.environ/DATABASE_URL":
        report.problem(where, f"{F.CONFIG}'s database_url must be os.environ/DATABASE_URL (the Job migrates that)")
    if "DATABASE_URL" not in [e.get("name") for e in c.get("env") or []]:
        report.problem(where, "the migration Job has no DATABASE_URL")
    # What the Job reads must exist before it: a Secret you made, or one that is a hook run first.
    weight = int(_annotations(job).get("helm.sh/hook-weight", 0))
    secrets = {(s.get("metadata") or {}).get("name"): s for s in r.by_kind("Secret")}
    for e in c.get("env") or []:
        name = (((e.get("valueFrom") or {}).get("secretKeyRef")) or {}).get("name")
        if name in secrets:
            ann = _annotations(secrets[name])
            if not HOOK_EVENTS <= set(str(ann.get("helm.sh/hook", "")).split(",")) \
                    or int(ann.get("helm.sh/hook-weight", 0)) >= weight:
                report.problem(where, f"the Job reads Secret {name}, which is not a hook created before it")
    return jargs


def _check_secret_refs(report, where, r):
    """Chart-made Secrets: every key the pods reference (non-optional) exists."""
    secrets = {(s.get("metadata") or {}).get("name"): s for s in r.by_kind("Secret")}
    for doc in r.by_kind("Deployment") + r.by_kind("Job"):
        for e in _container(doc).get("env") or []:
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if not ref or ref.get("name") not in secrets or ref.get("optional"):
                continue
            if ref.get("key") not in (secrets[ref["name"]].get("stringData") or {}):
                report.problem(where, f"{doc['kind']} reads key {ref.get('key')} of Secret {ref['name']}, "
                                      "which lacks it")


def check_chart_meta(repo, report, f):
    chart = repo.yaml(f"{CHART}/Chart.yaml", "helm") or {}
    cmake = repo.path("CMakeLists.txt").read_text() if repo.exists("CMakeLists.txt") else ""
    m = re.search(r"project\(\s*tollgate\s+VERSION\s+([\d.]+)", cmake)
    version = m.group(1) if m else None
    if str(chart.get("appVersion")) != version:
        report.problem("helm", f"Chart appVersion {chart.get('appVersion')} != the gateway's version {version} "
                               "(CMakeLists.txt)")
    compose_image = f.service("tollgate").get("image", "")
    if compose_image.rpartition(":")[2] != version:
        report.problem("compose", f"tollgate image {compose_image} is not tagged with the gateway's version {version}")
    if chart.get("apiVersion") != "v2":
        report.problem("helm", "Chart.yaml apiVersion must be v2")
    copy_path = repo.path(f"{CHART}/files/tollgate.yaml")
    if not copy_path.is_file() or copy_path.read_text() != f.config_text:
        report.problem("helm", f"{CHART}/files/tollgate.yaml differs from {F.CONFIG}: {SYNC}")
