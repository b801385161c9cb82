"""The command line itself: start-up cost, shared options, usage errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY_MODULES = ("pyVmomi", "pyVim", "openstack", "keystoneauth1")


def imported_modules(*argv: str) -> tuple[int, set[str]]:
    """Run vmwctl in a fresh interpreter and list the top-level modules it imported."""
    code = ("import sys\nfrom vmwctl.cli.root import cli\n"
            f"try:\n    cli.main({list(argv)!r}, prog_name='vmwctl')\n"
            "except SystemExit as e:\n    rc = e.code\n"
            "import json\n"
            "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
            "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    return done.returncode, set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["profile", "--help"],
                                  ["about", "--help"]])
def test_help_and_version_import_neither_pyvmomi_nor_openstacksdk(argv: list[str]) -> None:
    code, modules = imported_modules(*argv)
    assert code == 0
    assert not modules & set(HEAVY_MODULES), modules & set(HEAVY_MODULES)


def test_version(vmwctl) -> None:
    from vmwctl import __version__

    result = vmwctl("--version")
    assert (result.exit_code, result.stdout) == (0, f"vmwctl {__version__}\n")
    done = subprocess.run([sys.executable, "-m", "vmwctl", "--version"], capture_output=True,
                          text=True, check=False)
    assert done.stdout == f"vmwctl {__version__}\n"


def test_help_lists_commands_and_exit_codes(vmwctl) -> None:
    result = vmwctl("--help")
    assert result.exit_code == 0
    for word in ("about", "profile", "130", "143", "--output"):
        assert word in result.stdout


def test_no_arguments_prints_help(vmwctl) -> None:
    result = vmwctl()
    assert result.exit_code == 2
    assert result.stdout.startswith("Usage: vmwctl")


def test_every_command_takes_the_shared_options_after_its_name(vmwctl) -> None:
    for command in (["about"], ["profile", "list"], ["profile", "show"],
                    ["profile", "validate"]):
        result = vmwctl(*command, "--help")
        assert "-o, --output [table|json|yaml]" in result.stdout, command
        assert "-v, --verbose" in result.stdout
        assert "-q, --quiet" in result.stdout


@pytest.mark.parametrize("argv", [
    ["bogus"],
    ["about", "--bogus"],
    ["-o", "xml", "about"],
    ["profile", "show", "a", "b"],
])
def test_usage_errors_are_one_line_with_exit_2(vmwctl, argv: list[str]) -> None:
    result = vmwctl(*argv)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_usage_error_with_json_output_prints_the_error_document(vmwctl) -> None:
    result = vmwctl("about", "--bogus", "-o", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document == {"error": {"message": "No such option '--bogus'. Did you mean "
                                             "'--verbose'? (see 'vmwctl about --help')",
                                  "exit_code": 2}}


def test_json_output_is_one_document(vmwctl, isolated_environment) -> None:
    (isolated_environment / "vmwctl.yaml").write_text(
        "profiles:\n  a:\n    vmware: {host_ip: h, host_username: u}\n")
    (isolated_environment / "vmwctl.yaml").chmod(0o600)
    result = vmwctl("profile", "list", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["profiles"][0]["name"] == "a"
    result = vmwctl("-o", "yaml", "profile", "list")
    assert result.stdout.startswith("config_file: ")


def test_no_color_and_plain_text_when_not_a_terminal(vmwctl, isolated_environment) -> None:
    result = vmwctl("profile", "show")
    assert "\x1b[" not in result.stderr


def test_a_question_inside_a_deferred_block_hears_ctrl_c_at_once() -> None:
    import os
    import signal

    import pytest

    from vmwctl.common.interrupts import deferred_signals, immediate_signals

    with deferred_signals() as stopper:
        os.kill(os.getpid(), signal.SIGINT)
        assert stopper.requested  # recorded, not raised
        stopper.signal = None
        with pytest.raises(KeyboardInterrupt), immediate_signals(stopper):
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # deferred again after the question
        assert stopper.requested


def test_every_cluster_option_is_the_resolvers() -> None:
    """A command takes a cluster only through cli/options.py (ClusterFlag: one lookup, one
    exit code), so that tests/lab_tests/test_cluster_option.py, which walks the commands for
    it, covers every such command."""
    from helpers import cluster_commands, leaf_commands

    from vmwctl.cli.options import ClusterArgument, ClusterOption

    for path, command in leaf_commands().items():
        for param in command.params:
            if "--cluster" in param.opts or param.name == "cluster":
                assert isinstance(param, ClusterOption | ClusterArgument), (path, param.name)
    assert set(cluster_commands()) >= {
        "cluster inspect", "check prereqs", "check privileges", "cache list", "cache purge",
        "cache evict", "cache seed", "vm spawn", "role create", "firewall status",
        "firewall enable", "firewall disable", "firewall vib install"}


@pytest.mark.parametrize(("fmt", "quiet", "signum", "failures", "failed", "code"), [
    ("table", False, None, [], False, 0),
    ("table", False, None, [], True, 1),
    ("table", True, None, ["[ds] a: locked", "[ds] b: gone"], False, 1),
    ("json", False, 2, ["[ds] a: locked"], False, 130),
    ("yaml", True, 15, [], False, 143),
])
def test_every_batch_command_ends_the_same_way(fmt: str, quiet: bool, signum: int | None,
                                               failures: list[str], failed: bool,
                                               code: int) -> None:
    """App.finish_batch: the report is the one document, one line per failed item (with -q
    too), then the signal's status."""
    import io

    import yaml

    from vmwctl.cli.app import App
    from vmwctl.cli.output import Output
    from vmwctl.common.interrupts import Stopper

    app = App(env={})
    app.out = Output(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    app.set_output(fmt)
    app.set_quiet(quiet)
    stopper = Stopper()
    stopper.signal = signum
    report = {"items": ["a", "b"], "interrupted": signum is not None}
    try:
        assert app.finish_batch(report, lambda r: f"{len(r['items'])} items", failures,
                                stopper=stopper, failed=failed) == code
    finally:
        app.close()  # its log handler
    stdout, stderr = app.out.stdout.getvalue(), app.out.stderr.getvalue()
    if fmt == "table":
        assert stdout == ("" if quiet else "2 items\n")
    else:
        assert (json.loads(stdout) if fmt == "json" else yaml.safe_load(stdout)) == report
    status = {2: ["Error: interrupted"], 15: ["Error: terminated"]}.get(signum, [])
    assert stderr.splitlines() == [f"Error: {line}" for line in failures] + status
