"""The problems one run of the checks found, and the repository they read."""

from pathlib import Path

import yaml


class Report:
    """Problems (each fails the run) and notes (printed, never failing), in the order found."""

    def __init__(self):
        self.problems = []
        self.notes = []

    def problem(self, area, message):
        self.problems.append(f"{area}: " + " ".join(str(message).split()))

    def note(self, area, message):
        self.notes.append(f"{area}: {message}")


class Repo:
    """Read access to a checkout (the real one, or a self-test's broken copy)."""

    def __init__(self, root, report):
        self.root = Path(root)
        self.report = report

    def path(self, rel):
        return self.root / rel

    def exists(self, rel):
        return (self.root / rel).exists()

    def text(self, rel, area):
        """The file's text; a problem and None when it is missing."""
        p = self.root / rel
        if not p.is_file():
            self.report.problem(area, f"{rel} is missing")
            return None
        return p.read_text()

    def yaml(self, rel, area):
        """The file parsed as one YAML document; a problem and None when missing or invalid."""
        text = self.text(rel, area)
        if text is None:
            return None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            self.report.problem(area, f"{rel} is not valid YAML: {e}")
            return None
