"""The shipped deploy files read the way systemd, Docker Compose and Kubernetes read them."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# systemd: a specifier is %X; an environment reference ${NAME} anywhere, $NAME as a word.
SPECIFIER = re.compile(r"%(.)")
BRACED_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
WORD_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# Compose: $$, ${NAME}, ${NAME:?error}, ${NAME?error}, ${NAME:-default}, ${NAME-default}, $NAME.
COMPOSE_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[?-])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class DeployFileError(AssertionError):
    """A deploy file says something this reader (or its platform) would refuse."""


@dataclass(frozen=True)
class Unit:
    """One systemd unit file: its name and its (section, key, value) lines in order."""

    name: str
    lines: tuple[tuple[str, str, str], ...]

    def values(self, section: str, key: str) -> list[str]:
        """Every value of `key` in order; an empty assignment resets the list, as systemd does."""
        found: list[str] = []
        for where, name, value in self.lines:
            if (where, name) == (section, key):
                found = [] if value == "" else [*found, value]
        return found

    def value(self, section: str, key: str) -> str | None:
        """The last value of `key`, or None."""
        found = self.values(section, key)
        return found[-1] if found else None

    def specifiers(self, *, credentials: Path, runtime: Path) -> dict[str, str]:
        """%-specifiers of a system unit (systemd.unit(5)), with %d and %t given."""
        stem = self.name.removesuffix(".service")
        prefix, _, instance = stem.partition("@")
        return {"n": self.name, "N": stem, "p": prefix, "i": instance, "I": instance,
                "d": str(credentials), "t": str(runtime), "%": "%"}  # fmt: skip


def read_unit(path: Path, instance: str | None = None) -> Unit:
    """Parse a unit file; a template (name@.service) is instantiated with `instance`."""
    name = path.name
    if name.endswith("@.service"):
        if not instance:
            raise DeployFileError(f"{name} is a template: give an instance")
        name = name.replace("@.service", f"@{instance}.service")
    lines: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):  # a continuation: joined with the next line
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise DeployFileError(f"{path.name}: not a key=value line: {line!r}")
        lines.append((section, key.strip(), value.strip()))
    return Unit(name, tuple(lines))


def resolve_specifiers(text: str, specifiers: Mapping[str, str]) -> str:
    """Replace systemd %-specifiers; an unknown one is an error, as systemd makes it."""

    def replace(match: re.Match[str]) -> str:
        """One specifier's value."""
        if match.group(1) not in specifiers:
            raise DeployFileError(f"specifier %{match.group(1)} is not resolved here: {text!r}")
        return specifiers[match.group(1)]

    return SPECIFIER.sub(replace, text)


def environment_assignments(value: str) -> dict[str, str]:
    """The NAME=VALUE words of one Environment= line (quotes as systemd reads them)."""
    assignments = {}
    for word in shlex.split(value):
        name, equals, setting = word.partition("=")
        if not equals:
            raise DeployFileError(f"Environment= word without '=': {word!r}")
        assignments[name] = setting
    return assignments


def read_environment_file(path: Path) -> dict[str, str]:
    """An EnvironmentFile= (systemd.exec(5)): NAME=VALUE lines, # and ; comments."""
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        name, equals, value = line.partition("=")
        if not equals:
            raise DeployFileError(f"{path.name}: not NAME=VALUE: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[name.strip()] = value
    return env


def exec_argv(command: str, env: Mapping[str, str]) -> list[str]:
    """An Exec*= line's argv after systemd's quoting and ${NAME} / $NAME expansion."""
    command = command.lstrip("@-:+!")
    argv: list[str] = []
    for word in shlex.split(command):
        if (whole := WORD_VARIABLE.fullmatch(word)) is not None:
            argv.extend(env.get(whole.group(1), "").split())  # $NAME alone: split at blanks
            continue
        argv.append(BRACED_VARIABLE.sub(lambda m: env.get(m.group(1), ""), word).replace("$$", "$"))
    return argv


def credential_examples(env_example: Path) -> dict[str, str]:
    """The credential files the env example documents: '#   NAME   VALUE' lines."""
    found: dict[str, str] = {}
    for line in env_example.read_text().splitlines():
        if (match := re.fullmatch(r"#\s{2,}([a-z0-9-]+)\s+(\S+).*", line)) is not None:
            found.setdefault(match.group(1), match.group(2))
    return found


def dockerfile_final_stage(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's last stage, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            instructions = []
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_env(path: Path) -> dict[str, str]:
    """The ENV of the image the Dockerfile builds (last stage)."""
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile_final_stage(path):
        if keyword != "ENV":
            continue
        words = shlex.split(arguments)
        if words and "=" not in words[0]:  # the old form: ENV NAME value with blanks
            env[words[0]] = arguments.split(None, 1)[1]
            continue
        for word in words:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def dockerfile_exec(path: Path, keyword: str) -> list[str] | None:
    """CMD or ENTRYPOINT of the image as argv (JSON form, or the shell form via sh -c)."""
    found = [a for k, a in dockerfile_final_stage(path) if k == keyword]
    if not found:
        return None
    if found[-1].startswith("["):
        argv = json.loads(found[-1])
        assert isinstance(argv, list)
        return [str(arg) for arg in argv]
    return ["/bin/sh", "-c", found[-1]]


def dockerfile_value(path: Path, keyword: str) -> str | None:
    """The last value of a one-value instruction (USER, WORKDIR, STOPSIGNAL) of the image."""
    found = [a for k, a in dockerfile_final_stage(path) if k == keyword]
    return found[-1] if found else None


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Compose's interpolation of every string in a parsed compose file."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        """One reference's value, its default, or compose's refusal."""
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in variables and (variables[name] != "" or not (op or "").startswith(":"))
        if present:
            return variables[name]
        if op and op.endswith("?"):
            raise DeployFileError(f"compose refuses to start: {name}: {arg}")
        return arg if op else ""

    return COMPOSE_VARIABLE.sub(replace, value)


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A compose service's `environment` (mapping or NAME=VALUE list) as strings."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(str(item).partition("=")[::2] for item in environment)
    return {str(k): "" if v is None else str(v) for k, v in environment.items()}


def compose_command(service: Mapping[str, Any], image_cmd: list[str] | None) -> list[str]:
    """A compose service's argv: its `command` (list or string) or the image's CMD."""
    command = service.get("command")
    if command is None:
        if image_cmd is None:
            raise DeployFileError("no command and no CMD in the image")
        return image_cmd
    return [str(arg) for arg in command] if isinstance(command, list) else shlex.split(command)


def kubernetes_documents(folder: Path, names: Iterable[str]) -> list[dict[str, Any]]:
    """Every YAML document of the named files."""
    documents: list[dict[str, Any]] = []
    for name in names:
        documents.extend(d for d in yaml.safe_load_all((folder / name).read_text()) if d)
    return documents


def kubernetes_resources(folder: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k folder` applies (its kustomization's resources)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return kubernetes_documents(folder, kustomization["resources"])


def kubernetes_object(documents: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` named `name`."""
    found = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(found) != 1:
        raise DeployFileError(f"{len(found)} objects of kind {kind} named {name}")
    return found[0]


def kubernetes_command(container: Mapping[str, Any], entrypoint: list[str] | None,
                       cmd: list[str] | None) -> list[str]:  # fmt: skip
    """A container's argv: command overrides ENTRYPOINT, args (or CMD without command) follow."""
    command = container.get("command")
    args = container.get("args")
    if command is not None:
        return [str(a) for a in command] + [str(a) for a in args or []]
    argv = (entrypoint or []) + ([str(a) for a in args] if args is not None else cmd or [])
    if not argv:
        raise DeployFileError(f"container {container['name']} has no command")
    return argv


def kubernetes_environment(container: Mapping[str, Any],
                           documents: Iterable[dict[str, Any]]) -> dict[str, str]:  # fmt: skip
    """A container's environment from envFrom ConfigMaps, then its env entries."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if set(source) != {"configMapRef"}:
            raise DeployFileError(f"envFrom source not read here: {source}")
        config_map = kubernetes_object(documents, "ConfigMap", source["configMapRef"]["name"])
        env.update({str(k): str(v) for k, v in config_map.get("data", {}).items()})
    for entry in container.get("env", []):
        if "value" not in entry:
            raise DeployFileError(f"env entry not read here: {entry}")
        env[entry["name"]] = str(entry["value"])
    return env


def retarget_url(url: str, *, host: str, port: int, scheme: str | None = None,
                 path: str | None = None) -> str:  # fmt: skip
    """The same URL (user, password, query) pointed at host:port (and another path)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(
        (scheme or parts.scheme, netloc, parts.path if path is None else path, parts.query, "")
    )


def url_host(url: str) -> str | None:
    """The host of a URL-shaped value, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.hostname if parts.scheme and parts.netloc else None
