"""A renderer for the subset of Go templates (with Helm's functions) that deploy/helm/tollgate uses.

There is no `helm` binary on the development machines, so scripts/check-deploy renders the chart
with this. It is deliberately small and strict: anything outside the subset -- an unknown function,
an unknown keyword, a variable declaration, a malformed action -- raises TemplateError instead of
being passed through, so a template that Helm would reject (or that this renderer would get wrong)
fails the check. Keep the chart's templates inside the subset rather than growing it.

Supported:
  text and actions {{ }} with the trim markers {{- and -}}; comments {{/* */}}
  if / else if / else / end, with / else / end, range (list or map) / else / end, define / end
  pipelines `a | f x`, parenthesised sub-pipelines, string, number and boolean literals
  fields: . .Values.* $ $.Values.* .Release.{Name,Namespace,Service} .Chart.{Name,Version,AppVersion}
  functions: include toYaml nindent indent quote default trunc trimSuffix sha256sum printf contains
             required not, and .Files.Get "path"
"""

import hashlib
import json
import re

import yaml


class TemplateError(Exception):
    pass


# ---- lexing: text and actions -------------------------------------------------------------------

def _split_actions(src, name):
    """Splits template text into ('text', s) and ('action', body) pieces, applying trim markers."""
    pieces = []
    pos = 0
    while True:
        start = src.find("{{", pos)
        if start < 0:
            pieces.append(["text", src[pos:]])
            break
        pieces.append(["text", src[pos:start]])
        i = start + 2
        trim_left = src.startswith("- ", i) or src.startswith("-\n", i)
        if trim_left:
            i += 1
        end = _find_action_end(src, i, name)
        body = src[i:end]
        trim_right = body.endswith(" -") or body.endswith("\n-")
        if trim_right:
            body = body[:-1]
        if trim_left and pieces[-1][0] == "text":
            pieces[-1][1] = pieces[-1][1].rstrip(" \t\r\n")
        pieces.append(["action", body.strip(), _line_of(src, start)])
        pos = end + 2
        if trim_right:
            while pos < len(src) and src[pos] in " \t\r\n":
                pos += 1
    return pieces


def _find_action_end(src, i, name):
    stripped = src[i:].lstrip()
    if stripped.startswith("/*"):
        close = src.find("*/", i)
        if close < 0:
            raise TemplateError(f"{name}:{_line_of(src, i)}: unclosed comment")
        end = src.find("}}", close)
        if end < 0 or src[close + 2:end].strip(" -") != "":
            raise TemplateError(f"{name}:{_line_of(src, i)}: comment must end with */}}")
        return end
    quote = None
    j = i
    while j < len(src):
        c = src[j]
        if quote:
            if c == "\\" and quote == '"':
                j += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"`":
            quote = c
        elif src.startswith("}}", j):
            return j
        elif src.startswith("{{", j):
            break
        j += 1
    raise TemplateError(f"{name}:{_line_of(src, i)}: unclosed action '{{{{'")


def _line_of(src, index):
    return src.count("\n", 0, index) + 1


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<field>\$?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\$|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[|()])
    | (?P<decl>:?=)
    )""", re.VERBOSE)


def _tokens(body, where):
    out = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        m = _TOKEN.match(body, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"{where}: cannot parse '{body[pos:].strip()}'")
        kind = m.lastgroup
        if kind == "decl":
            raise TemplateError(f"{where}: variable declarations are outside the supported subset")
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


# ---- parsing: a tree of nodes -------------------------------------------------------------------

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


def _parse_pipeline(tokens, where):
    """Returns a pipeline: a list of commands, each a list of operands."""
    pipeline, command = [], []
    stack = []
    for kind, value in tokens:
        if kind == "punct" and value == "(":
            stack.append((pipeline, command))
            pipeline, command = [], []
        elif kind == "punct" and value == ")":
            if not stack:
                raise TemplateError(f"{where}: unbalanced ')'")
            if not command:
                raise TemplateError(f"{where}: empty command")
            pipeline.append(command)
            inner = ("pipe", pipeline)
            pipeline, command = stack.pop()
            command.append(inner)
        elif kind == "punct" and value == "|":
            if not command:
                raise TemplateError(f"{where}: empty command before '|'")
            pipeline.append(command)
            command = []
        elif kind == "ident" and value in _KEYWORDS:
            raise TemplateError(f"{where}: keyword '{value}' inside a pipeline")
        else:
            command.append((kind, value))
    if stack:
        raise TemplateError(f"{where}: unbalanced '('")
    if not command:
        raise TemplateError(f"{where}: empty pipeline")
    pipeline.append(command)
    return ("pipe", pipeline)


def parse(src, name):
    """Parses a template file into (nodes, defines)."""
    defines = {}
    root = []
    stack = [("root", root, None)]   # (kind, current list, node)
    for piece in _split_actions(src, name):
        if piece[0] == "text":
            if piece[1]:
                stack[-1][1].append(("text", piece[1]))
            continue
        body, line = piece[1], piece[2]
        where = f"{name}:{line}"
        if body.startswith("/*"):
            continue
        tokens = _tokens(body, where)
        if not tokens:
            raise TemplateError(f"{where}: empty action")
        head = tokens[0][1] if tokens[0][0] == "ident" else None
        if head in ("if", "with", "range"):
            node = {"kind": head, "pipe": _parse_pipeline(tokens[1:], where), "body": [], "else": None}
            stack[-1][1].append(node)
            stack.append((head, node["body"], node))
        elif head == "else":
            kind, _, node = stack[-1]
            if kind not in ("if", "with", "range", "elseif") or node["else"] is not None:
                raise TemplateError(f"{where}: 'else' without an open if/with/range")
            node["else"] = []
            if len(tokens) > 1:
                if tokens[1] != ("ident", "if"):
                    raise TemplateError(f"{where}: only 'else if' is supported after else")
                inner = {"kind": "if", "pipe": _parse_pipeline(tokens[2:], where), "body": [], "else": None}
                node["else"].append(inner)
                stack[-1] = (kind, node["else"], node)
                stack.append(("elseif", inner["body"], inner))
            else:
                stack[-1] = (kind, node["else"], node)
        elif head == "end":
            if len(tokens) != 1 or len(stack) == 1:
                raise TemplateError(f"{where}: unexpected 'end'")
            while stack[-1][0] == "elseif":
                stack.pop()
            stack.pop()
        elif head == "define":
            if len(tokens) != 2 or tokens[1][0] != "str" or len(stack) != 1:
                raise TemplateError(f"{where}: define needs one quoted name, at the top level")
            body_nodes = []
            defines[json.loads(tokens[1][1])] = body_nodes
            stack.append(("define", body_nodes, None))
        elif head in _KEYWORDS:
            raise TemplateError(f"{where}: '{head}' is outside the supported subset")
        else:
            stack[-1][1].append(("action", _parse_pipeline(tokens, where), where))
    if len(stack) != 1:
        raise TemplateError(f"{name}: '{stack[-1][0]}' without 'end'")
    return root, defines


# ---- evaluation ---------------------------------------------------------------------------------

class StrictMap(dict):
    """.Release and .Chart: an unknown field is an error, not an empty value."""


class Files:
    def __init__(self, reader):
        self._reader = reader

    def get(self, path):
        return self._reader(path)


def truthy(v):
    """Go's truth: false, 0, nil and empty strings, lists and maps are false."""
    if v is None or isinstance(v, bool):
        return bool(v)
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


def to_text(v, where):
    if v is None:
        raise TemplateError(f"{where}: renders a missing value (<no value>)")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        raise TemplateError(f"{where}: renders a map or list as text; use toYaml")
    return str(v)


def to_yaml(v):
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True, allow_unicode=True, width=10**6).rstrip("\n")


def _indent(n, s):
    pad = " " * int(n)
    return pad + s.replace("\n", "\n" + pad)


def _printf(fmt, *args):
    out, i, it = [], 0, iter(args)
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sdv":
                out.append(to_text(next(it), "printf"))
            else:
                raise TemplateError(f"printf verb %{verb} is outside the supported subset")
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def _required(msg, v):
    if v is None or v == "":
        raise TemplateError(f"required: {msg}")
    return v


class Renderer:
    """Renders the templates of one chart with one set of values."""

    def __init__(self, defines, root_data):
        self.defines = defines
        self.root = root_data
        self.functions = {
            "include": self._include,
            "toYaml": to_yaml,
            "nindent": lambda n, s: "\n" + _indent(n, s),
            "indent": _indent,
            "quote": lambda *a: " ".join(json.dumps(to_text(x, "quote"), ensure_ascii=False)
                                         for x in a if x is not None),
            "default": lambda d, v=None: v if truthy(v) else d,
            "trunc": lambda n, s: s[:int(n)] if int(n) >= 0 else s[int(n):],
            "trimSuffix": lambda suf, s: s[:-len(suf)] if suf and s.endswith(suf) else s,
            "sha256sum": lambda s: hashlib.sha256(s.encode()).hexdigest(),
            "printf": _printf,
            "contains": lambda sub, s: sub in s,
            "required": _required,
            "not": lambda v: not truthy(v),
        }

    def render(self, nodes):
        return self._run(nodes, self.root, self.root)

    def _include(self, name, data):
        if name not in self.defines:
            raise TemplateError(f"include: no template named '{name}'")
        return self._run(self.defines[name], data, data)

    def _run(self, nodes, dot, dollar):
        out = []
        for node in nodes:
            if isinstance(node, tuple) and node[0] == "text":
                out.append(node[1])
            elif isinstance(node, tuple) and node[0] == "action":
                out.append(to_text(self._pipe(node[1], dot, dollar, node[2]), node[2]))
            else:
                out.append(self._control(node, dot, dollar))
        return "".join(out)

    def _control(self, node, dot, dollar):
        value = self._pipe(node["pipe"], dot, dollar, node["kind"])
        otherwise = node["else"] or []
        if node["kind"] == "if":
            return self._run(node["body"] if truthy(value) else otherwise, dot, dollar)
        if node["kind"] == "with":
            return self._run(node["body"], value, dollar) if truthy(value) else self._run(otherwise, dot, dollar)
        if not truthy(value):
            return self._run(otherwise, dot, dollar)
        if isinstance(value, dict):
            items = [value[k] for k in sorted(value)]
        elif isinstance(value, list):
            items = value
        else:
            raise TemplateError(f"range over a {type(value).__name__}")
        return "".join(self._run(node["body"], item, dollar) for item in items)

    def _pipe(self, pipe, dot, dollar, where):
        result, first = None, True
        for command in pipe[1]:
            result = self._command(command, dot, dollar, where, None if first else [result])
            first = False
        return result

    def _command(self, command, dot, dollar, where, piped):
        head = command[0]
        if head[0] == "ident":
            if head[1] in ("true", "false"):
                if len(command) > 1 or piped:
                    raise TemplateError(f"{where}: a literal takes no arguments")
                return head[1] == "true"
            fn = self.functions.get(head[1])
            if fn is None:
                raise TemplateError(f"{where}: function '{head[1]}' is outside the supported subset")
            args = [self._operand(op, dot, dollar, where) for op in command[1:]] + (piped or [])
            try:
                return fn(*args)
            except TemplateError as e:   # from an included template: this call site leads the message
                raise TemplateError(f"{where}: {e}") from e
            except Exception as e:  # a wrong argument count or type, as Go would report it
                raise TemplateError(f"{where}: {head[1]}: {e}") from e
        if head == ("field", ".Files.Get"):
            args = [self._operand(op, dot, dollar, where) for op in command[1:]] + (piped or [])
            if len(args) != 1:
                raise TemplateError(f"{where}: .Files.Get takes one path")
            return self.root["Files"].get(args[0])
        if len(command) > 1 or piped:
            raise TemplateError(f"{where}: '{head[1]}' is not a function")
        return self._operand(head, dot, dollar, where)

    def _operand(self, op, dot, dollar, where):
        kind, value = op
        if kind == "pipe":
            return self._pipe(op, dot, dollar, where)
        if kind == "str":
            return json.loads(value)
        if kind == "raw":
            return value[1:-1]
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "field":
            return self._field(value, dot, dollar, where)
        raise TemplateError(f"{where}: '{value}' is not a value")

    def _field(self, path, dot, dollar, where):
        if path == ".":
            return dot
        base = dollar if path.startswith("$") else dot
        names = [n for n in path.lstrip("$").split(".") if n]
        value = base
        for i, name in enumerate(names):
            if value is None:
                raise TemplateError(f"{where}: nil pointer evaluating {'.'.join(names[:i])}.{name}")
            if value is self.root and name not in value:
                raise TemplateError(f"{where}: .{name} is outside the supported subset")
            if isinstance(value, StrictMap) and name not in value:
                raise TemplateError(f"{where}: unknown field .{name}")
            if not isinstance(value, dict):
                raise TemplateError(f"{where}: can't evaluate field {name} of a {type(value).__name__}")
            value = value.get(name)
        return value
