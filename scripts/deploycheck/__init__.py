"""Static checks of Tollgate's deployment files (deploy/): see scripts/check-deploy."""

from . import helm, helm_checks, packages, references, tools
from .facts import Facts
from .report import Report, Repo


def run_checks(root, binary):
    """Every check on the checkout at `root`, with `binary` as the built gateway. Returns the Report."""
    report = Report()
    repo = Repo(root, report)
    f = Facts(repo)

    renderings = helm.render_all(repo, report)
    helm.check_values_documented(repo, report)
    helm.check_values_referenced(repo, report)
    helm_env, helm_args = helm_checks.check_rendered(repo, report, f, renderings)
    helm_checks.check_chart_meta(repo, report, f)

    tools.yamllint(repo, report, renderings)
    tools.compose_config(repo, report)
    tools.promtool(repo, report)
    tools.systemd_verify(repo, report, binary)

    if f.stages:
        references.check_dockerfile(repo, report, f)
        references.check_env_read(report, f, helm_env)
        references.check_cli_flags(report, f, helm_args)
        packages.check(repo, report, f, binary)
    references.check_compose(repo, report, f)
    references.check_monitoring(report, f)
    references.check_systemd(report, f)
    return report
