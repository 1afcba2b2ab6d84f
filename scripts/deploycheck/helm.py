"""Renders deploy/helm/tollgate with several sets of values and checks what comes out."""

import copy
import re

import yaml

from . import gotemplate

CHART = "deploy/helm/tollgate"

# Every optional feature on: the chart's Secret, ingress with TLS, ServiceMonitor, HPA, extra
# labels and annotations. With the defaults this covers every branch of every template.
ALL_FEATURES = {
    "secrets": {"create": True, "masterKey": "sk-check-deploy", "databaseUrl": "postgresql://u:p@db:5432/t",
                "extra": {"OPENAI_API_KEY": "sk-provider"}},
    "ingress": {"enabled": True, "className": "nginx",
                "annotations": {"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
                "tls": [{"secretName": "tollgate-tls", "hosts": ["tollgate.example.com"]}]},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "autoscaling": {"enabled": True},
    "imagePullSecrets": [{"name": "registry"}],
    "podAnnotations": {"example.com/team": "ml"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"}],
    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname",
         "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "tollgate"}}}]}},
}
# The smallest install: replicas migrate themselves, no PDB.
MINIMAL = {"migration": {"enabled": False}, "podDisruptionBudget": {"enabled": False}}

VALUE_SETS = {"defaults": {}, "all-features": ALL_FEATURES, "minimal": MINIMAL}


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


class Rendered:
    """One rendering: template name -> text, and the YAML documents parsed from it."""

    def __init__(self, set_name, values):
        self.set_name = set_name
        self.values = values
        self.texts = {}
        self.docs = []   # (template, document)

    def by_kind(self, kind):
        return [d for _, d in self.docs if d.get("kind") == kind]


def render_all(repo, report):
    """Renders every value set; returns the renderings (those that failed are reported, not returned)."""
    chart = repo.yaml(f"{CHART}/Chart.yaml", "helm")
    values = repo.yaml(f"{CHART}/values.yaml", "helm")
    tdir = repo.path(f"{CHART}/templates")
    if chart is None or values is None or not tdir.is_dir():
        return []
    parsed, defines = {}, {}
    for path in sorted(tdir.iterdir()):
        try:
            nodes, defs = gotemplate.parse(path.read_text(), f"templates/{path.name}")
        except gotemplate.TemplateError as e:
            report.problem("helm", f"template syntax: {e}")
            continue
        defines.update(defs)
        if not path.name.startswith("_"):
            parsed[path.name] = nodes

    def read_file(rel):
        p = repo.path(f"{CHART}/{rel}")
        if not p.is_file():
            raise gotemplate.TemplateError(f".Files.Get: {rel} is not in the chart")
        return p.read_text()

    results = []
    for set_name, overrides in VALUE_SETS.items():
        vals = _merge(values, overrides)
        data = {
            "Values": vals,
            "Release": gotemplate.StrictMap(Name="tollgate", Namespace="default", Service="Helm",
                                            IsInstall=True, IsUpgrade=False),
            "Chart": gotemplate.StrictMap(Name=chart.get("name"), Version=chart.get("version"),
                                          AppVersion=chart.get("appVersion")),
            "Files": gotemplate.Files(read_file),
        }
        renderer = gotemplate.Renderer(defines, data)
        out = Rendered(set_name, vals)
        ok = True
        for name, nodes in parsed.items():
            try:
                out.texts[name] = renderer.render(nodes)
            except gotemplate.TemplateError as e:
                report.problem("helm", f"rendering templates/{name} with {set_name} values: {e}")
                ok = False
                continue
            _parse_docs(out, name, report)
        if ok:
            results.append(out)
    return results


def _parse_docs(out, name, report):
    where = f"templates/{name} ({out.set_name} values)"
    try:
        docs = list(yaml.safe_load_all(out.texts[name]))
    except yaml.YAMLError as e:
        report.problem("helm", f"{where} renders invalid YAML: {e}")
        return
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            report.problem("helm", f"{where}: a document is not a map")
            continue
        meta = doc.get("metadata") or {}
        for key, present in (("apiVersion", doc.get("apiVersion")), ("kind", doc.get("kind")),
                             ("metadata.name", meta.get("name") if isinstance(meta, dict) else None)):
            if not present:
                report.problem("helm", f"{where}: a document has no {key}")
        out.docs.append((name, doc))


def check_values_documented(repo, report):
    """Every key of values.yaml has a comment: on its line or on the line above."""
    text = repo.text(f"{CHART}/values.yaml", "helm")
    if text is None:
        return
    prev = ""
    item_indent = None   # indentation of the list item we are inside: its keys are data, not values
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            prev = stripped or prev
            continue
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("- "):
            item_indent = indent
        elif item_indent is not None and indent <= item_indent:
            item_indent = None
        m = re.match(r"^\s*([A-Za-z_][\w.-]*):", line)
        if m and item_indent is None and " #" not in line and not prev.startswith("#"):
            report.problem("helm", f"values.yaml:{number}: '{m.group(1)}' has no comment")
        prev = stripped


def check_values_referenced(repo, report):
    """Every .Values path a template names exists in values.yaml (a typo is otherwise silent)."""
    values = repo.yaml(f"{CHART}/values.yaml", "helm")
    tdir = repo.path(f"{CHART}/templates")
    if values is None or not tdir.is_dir():
        return
    for path in sorted(tdir.iterdir()):
        for m in re.finditer(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", path.read_text()):
            node = values
            for name in m.group(1).strip(".").split("."):
                if not isinstance(node, dict) or name not in node:
                    report.problem("helm", f"templates/{path.name} uses .Values{m.group(1)}, "
                                           "which values.yaml does not define")
                    break
                node = node[name]
