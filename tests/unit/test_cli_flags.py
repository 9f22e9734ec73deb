"""Every command takes --data-dir; the commands scripts read take --json."""

from __future__ import annotations

from typer.main import get_command

from driftline.cli import app


def leaves(command, path: tuple[str, ...] = ()):
    if hasattr(command, "commands"):  # a group (typer ships its own click)
        for name, sub in command.commands.items():
            yield from leaves(sub, (*path, name))
    else:
        yield " ".join(path), command


def options(command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def test_every_command_takes_data_dir():
    commands = dict(leaves(get_command(app)))
    assert len(commands) >= 14  # train publish simulate report up serve, schemas, approvals, audit, users
    missing = [name for name, command in commands.items() if "--data-dir" not in options(command)]
    assert missing == []


def test_json_where_scripts_read_the_output():
    commands = dict(leaves(get_command(app)))
    for name in ("audit verify", "audit replay", "train", "approvals list"):
        assert "--json" in options(commands[name]), name


def test_version_is_a_root_option():
    assert "--version" in options(get_command(app))
