"""``--metrics-file`` against the lab: each command's file passes ``promtool check metrics``,
and a real node_exporter (textfile collector only, on loopback) serves the values, read
back from its /metrics and compared with the command's JSON; failed runs write theirs;
the alert rules of docs/automation.md pass ``promtool check rules`` and fire as said."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from docblocks import ROOT, blocks
from faultproxy import FaultProxy
from helpers import wait_until, write_profile
from test_cache import DAY, DS, put_image, utcnow
from test_vcenter import closed_port

from vmwctl.cli.metrics import PURGE_FREED
from vmwctl.common.metrics import MetricsFile

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("private_lock_dir")]

STATUS = {"pass": 0, "warn": 1, "fail": 2, "skip": -1}
RUN_METRICS = {"vmwctl_last_run_timestamp_seconds", "vmwctl_last_run_success",
               "vmwctl_last_run_exit_code", "vmwctl_last_run_duration_seconds"}


@pytest.fixture
def textfile(tmp_path: Path) -> Path:
    """The directory node_exporter's textfile collector reads."""
    directory = tmp_path / "textfile"
    directory.mkdir()
    return directory


@pytest.fixture
def exporter(prometheus, textfile: Path, tmp_path: Path):
    with prometheus.node_exporter(textfile, tmp_path) as running:
        yield running


def run_with_metrics(sim, prometheus, target: Path, *args: str, config: Path | None = None):
    """Run a command with -o json and --metrics-file; promtool must find the file clean."""
    before = time.time()
    result = sim.run(*(("--config", str(config)) if config else ()), *args, "-o", "json",
                     "--metrics-file", str(target))
    after = time.time()
    checked = prometheus.check_metrics(target.read_text())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (target.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []
    return result, (before, after)


def assert_run(scraped, labels: dict[str, str], exit_code: int,
               window: tuple[float, float]) -> None:
    """The run's own gauges, as node_exporter serves them."""
    assert scraped.value("vmwctl_last_run_success", **labels) == (1 if exit_code == 0 else 0)
    assert scraped.value("vmwctl_last_run_exit_code", **labels) == exit_code
    stamp = scraped.value("vmwctl_last_run_timestamp_seconds", **labels)
    assert window[0] <= stamp <= window[1]
    assert 0 <= scraped.value("vmwctl_last_run_duration_seconds", **labels) <= \
        window[1] - window[0]


def check_statuses(scraped, command: str, vcenter: str) -> dict[str, float]:
    """The checks of one command on one vCenter, as node_exporter serves them."""
    return {labels["check"]: value for labels, value in scraped.values("vmwctl_check_status")
            if labels["command"] == command and labels["vcenter"] == vcenter}


def test_check_prereqs_metrics_match_its_json(simulator, prometheus, textfile: Path,
                                              exporter) -> None:
    """A healthy vCenter and a fresh one (DRS off: a failed check, exit 1): every check of
    the JSON is a gauge with its status, labelled with the vCenter and cluster."""
    for sim, name in ((simulator(), "healthy"), (simulator(scenario="fresh"), "fresh")):
        target = textfile / f"prereqs-{name}.prom"
        result, window = run_with_metrics(sim, prometheus, target, "check", "prereqs")
        report = result.json()
        assert result.exit_code == (1 if report["summary"]["fail"] else 0), result.stderr
        scraped = exporter.scrape()
        run = {"command": "check prereqs", "vcenter": f"127.0.0.1:{sim.port}",
               "cluster": "DC0_C0"}
        assert_run(scraped, run, result.exit_code, window)
        statuses = check_statuses(scraped, "check prereqs", run["vcenter"])
        assert statuses == {c["id"]: STATUS[c["status"]] for c in report["checks"]}
        if name == "fresh":
            assert statuses["drs"] == 2 and result.exit_code == 1
    assert exporter.scrape().value("node_textfile_scrape_error") == 0


def test_check_fleet_metrics_match_its_json(simulator, prometheus, textfile: Path, exporter,
                                            tmp_path: Path) -> None:
    """Two services on one vCenter's one cluster: fleet-cluster-owner fails."""
    sim = simulator()
    profile = yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"]
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump({"profiles": {"a": profile, "b": profile}}))
    config.chmod(0o600)
    target = textfile / "fleet.prom"
    result, window = run_with_metrics(sim, prometheus, target, "check", "fleet", config=config)
    report = result.json()
    assert result.exit_code == 1 and report["summary"]["fail"] >= 1, result.stdout
    scraped = exporter.scrape()
    run = {"command": "check fleet", "vcenter": "", "cluster": ""}
    assert_run(scraped, run, 1, window)
    assert check_statuses(scraped, "check fleet", "") == \
        {c["id"]: STATUS[c["status"]] for c in report["checks"]}


def test_cache_purge_metrics_match_its_json(simulator, prometheus, textfile: Path,
                                            exporter) -> None:
    """A plan (--dry-run), then the run: an unmarked image marked, an expired one deleted,
    the bytes freed per datastore as the JSON counts them."""
    sim = simulator()
    root = Path(sim.datastores[DS])
    _, unmarked = put_image(root, size=8192)
    _, expired = put_image(root, marker=utcnow() - 2 * DAY, age=3 * DAY, size=65536)
    target = textfile / "purge.prom"
    where = {"vcenter": f"127.0.0.1:{sim.port}", "cluster": "DC0_C0", "datastore": DS}

    plan, window = run_with_metrics(sim, prometheus, target, "cache", "purge", "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    scraped = exporter.scrape()
    assert_run(scraped, {"command": "cache purge", "vcenter": where["vcenter"],
                         "cluster": "DC0_C0"}, 0, window)
    assert scraped.value("vmwctl_cache_purge_freed_bytes", **where) == 0
    assert scraped.value("vmwctl_cache_purge_folders", **where, outcome="planned") == \
        len([i for i in plan.json()["items"] if i["datastore"] == DS]) >= 2
    assert unmarked.exists() and expired.exists()

    result, window = run_with_metrics(sim, prometheus, target, "cache", "purge", "--yes")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    scraped = exporter.scrape()
    assert_run(scraped, {"command": "cache purge", "vcenter": where["vcenter"],
                         "cluster": "DC0_C0"}, 0, window)
    freed = scraped.value("vmwctl_cache_purge_freed_bytes", **where)
    assert freed == report["bytes_freed"] > 65536
    outcomes = {labels["outcome"]: value for labels, value
                in scraped.values("vmwctl_cache_purge_folders") if labels["datastore"] == DS}
    for outcome, count in outcomes.items():
        assert count == sum(1 for i in report["items"]
                            if i["datastore"] == DS and i["outcome"] == outcome), outcome
    assert outcomes["deleted"] == 1 and outcomes["marked"] == 1 and outcomes["planned"] == 0
    assert not expired.exists() and unmarked.exists()
    assert set(report["datastores"]) == {labels["datastore"] for labels, _
                                         in scraped.values("vmwctl_cache_purge_freed_bytes")}


def test_cache_purge_profiles_metrics_per_profile(simulator, prometheus, textfile: Path,
                                                  exporter, tmp_path: Path) -> None:
    """cache purge --profiles: each profile's folders and bytes under its own vcenter and
    cluster, beside its own last-run gauges (a vCenter down: exit 3, no purge series); the
    run's own gauges unlabelled, with the worst exit status."""
    sims = [simulator(), simulator()]
    profiles = {}
    for name, sim in zip(("a", "b"), sims, strict=True):
        put_image(Path(sim.datastores[DS]), size=8192)
        put_image(Path(sim.datastores[DS]), marker=utcnow() - 2 * DAY, age=3 * DAY, size=65536)
        profiles[name] = yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"]
    down_port = closed_port()  # nothing listens there: a vCenter that is down
    profiles["down"] = copy.deepcopy(profiles["a"])
    profiles["down"]["vmware"]["host_port"] = down_port
    config = tmp_path / "compute.yaml"
    config.write_text(yaml.safe_dump({"profiles": profiles}))
    config.chmod(0o600)
    target = textfile / "purge.prom"

    result, window = run_with_metrics(sims[0], prometheus, target, "cache", "purge",
                                      "--profiles", "a,down,b", config=config)
    assert result.exit_code == 3, result.stderr
    entries = {entry["profile"]: entry for entry in result.json()["profiles"]}
    scraped = exporter.scrape()
    assert scraped.value("node_textfile_scrape_error") == 0
    assert_run(scraped, {"command": "cache purge", "vcenter": "", "cluster": ""}, 3, window)
    for name, sim in zip(("a", "b"), sims, strict=True):
        labels = {"vcenter": f"127.0.0.1:{sim.port}", "cluster": "DC0_C0"}
        assert_run(scraped, {"command": "cache purge", **labels}, 0, window)
        report = entries[name]["report"]
        assert scraped.value("vmwctl_cache_purge_freed_bytes", **labels, datastore=DS) == \
            report["bytes_freed"] > 65536
        for outcome in ("deleted", "marked", "planned"):
            assert scraped.value("vmwctl_cache_purge_folders", **labels, datastore=DS,
                                 outcome=outcome) == sum(1 for i in report["items"]
                                                         if i["outcome"] == outcome)
    down = {"command": "cache purge", "vcenter": f"127.0.0.1:{down_port}", "cluster": "DC0_C0"}
    assert_run(scraped, down, 3, window)
    assert not [labels for labels, _ in scraped.values("vmwctl_cache_purge_folders")
                if labels["vcenter"] == down["vcenter"]]


def test_a_failed_run_replaces_the_file_with_success_0(simulator, prometheus, textfile: Path,
                                                       exporter, tmp_path: Path) -> None:
    """The same job, first fine, then with its vCenter gone (exit 3): the file now says the
    run failed, with the same labels (alerts follow one series), and no check statuses
    (none were known)."""
    sim = simulator()
    target = textfile / "prereqs.prom"
    first, _ = run_with_metrics(sim, prometheus, target, "check", "prereqs")
    assert first.exit_code in (0, 1) and exporter.scrape().values("vmwctl_check_status")
    closed = write_profile(sim, tmp_path / "gone.yaml", port=1)  # nothing listens on port 1
    second, window = run_with_metrics(sim, prometheus, target, "check", "prereqs",
                                      config=closed)
    assert second.exit_code == 3 and "error" in second.json()
    scraped = exporter.scrape()
    assert_run(scraped, {"command": "check prereqs", "vcenter": "127.0.0.1:1",
                         "cluster": "DC0_C0"}, 3, window)
    assert {name for name, _, _ in scraped.samples if name.startswith("vmwctl_")} == \
        RUN_METRICS


def test_a_purge_stopped_by_sigterm_reports_what_it_did(simulator, prometheus,
                                                        textfile: Path, exporter,
                                                        tmp_path: Path) -> None:
    """SIGTERM between folders (vCenter slowed through a proxy): exit 143, and the file
    holds the folders deleted and the bytes freed before the stop, as the JSON says, with
    success 0."""
    sim = simulator()
    root = Path(sim.datastores[DS])
    images = [put_image(root, marker=utcnow() - 2 * DAY, age=3 * DAY)[1] for _ in range(30)]
    target = textfile / "purge.prom"
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "proxied.yaml", port=proxy.port)
        proxy.slow_down(0.05)
        process = subprocess.Popen(
            [sys.executable, "-m", "vmwctl", "--config", str(config), "cache", "purge", "--yes",
             "-o", "json", "--metrics-file", str(target)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: sum(p.exists() for p in images) < 28, process)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    report = json.loads(stdout)
    deleted = [i for i in report["items"] if i["outcome"] == "deleted"]
    assert 2 <= len(deleted) < 30 and len(deleted) == sum(not p.exists() for p in images)
    scraped = exporter.scrape()
    where = {"vcenter": f"127.0.0.1:{proxy.port}", "cluster": "DC0_C0", "datastore": DS}
    assert scraped.value("vmwctl_last_run_success", command="cache purge") == 0
    assert scraped.value("vmwctl_last_run_exit_code", command="cache purge") == 143
    assert scraped.value("vmwctl_cache_purge_folders", **where, outcome="deleted") == \
        len(deleted)
    assert scraped.value("vmwctl_cache_purge_freed_bytes", **where) == report["bytes_freed"]
    checked = prometheus.check_metrics(target.read_text())
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_command_in_one_directory(simulator, prometheus, textfile: Path, exporter,
                                        tmp_path: Path) -> None:
    """node_exporter merges the files of its directory: the commands' gauges agree on HELP
    and labels, so that it serves all of them without an error."""
    sim = simulator()
    put_image(Path(sim.datastores[DS]), size=4096)
    config = tmp_path / "fleet.yaml"
    profile = yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"]
    config.write_text(yaml.safe_dump({"profiles": {"sim": profile}}))
    config.chmod(0o600)
    for name, args in (("prereqs", ("check", "prereqs")), ("fleet", ("check", "fleet")),
                       ("purge", ("cache", "purge", "--yes"))):
        run_with_metrics(sim, prometheus, textfile / f"{name}.prom", *args, config=config)
    scraped = exporter.scrape()
    assert scraped.value("node_textfile_scrape_error") == 0
    assert {labels["command"] for labels, _ in scraped.values("vmwctl_last_run_success")} == \
        {"check prereqs", "check fleet", "cache purge"}
    assert scraped.values("vmwctl_cache_purge_folders")
    assert "error gathering metrics" not in exporter.log.read_text()


def test_odd_names_read_back_from_node_exporter_as_written(prometheus, textfile: Path,
                                                           exporter) -> None:
    """Cluster and datastore names may hold quotes, backslashes, line feeds and any
    Unicode (vCenter allows them): escaped as the format says, node_exporter serves them
    back unchanged, and promtool finds the file clean."""
    names = ['Cluster "A"', "C:\\share\\", "two\nlines", "Zürich 東京 ✓", "{x=\"1\"}", ""]
    run = MetricsFile(textfile / "odd.prom", "cache purge")
    run.begin()
    run.identify("vc.example.org", names[0])
    for i, name in enumerate(names):
        run.metrics.set(PURGE_FREED, i * 1024, vcenter="vc.example.org", cluster=names[0],
                        datastore=name)
    run.finish(0)
    checked = prometheus.check_metrics((textfile / "odd.prom").read_text())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    served = {labels["datastore"]: value for labels, value
              in exporter.scrape().values("vmwctl_cache_purge_freed_bytes")}
    assert served == {name: i * 1024 for i, name in enumerate(names)}
    assert exporter.scrape().value("vmwctl_last_run_success", cluster=names[0]) == 1


# ---------------------------------------------------------------- the docs' alert rules


def rules_block() -> str:
    [rules] = [b.text for b in blocks(ROOT / "docs" / "automation.md")
               if b.mode == "prometheus-rules"]
    return rules


def test_the_documented_alert_rules_pass_promtool(prometheus, tmp_path: Path) -> None:
    path = tmp_path / "vmwctl-rules.yml"
    path.write_text(rules_block())
    checked = prometheus.check_rules(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_documented_alert_rules_fire_on_what_they_say(prometheus, tmp_path: Path) -> None:
    """promtool's rule tests on series shaped as vmwctl writes them, a sample a minute
    (Prometheus forgets a series 5 minutes after its last sample): a failed run, a stale
    run, a failed check, a failed purge folder and lasting audit findings alert; a sound,
    fresh run, a skipped check and foreign VMs do not. The annotations (whose templates
    'promtool check rules' checks) are left out of the comparison."""
    rules = yaml.safe_load(rules_block())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    run = {"command": "check prereqs", "vcenter": "vc1", "cluster": "C1"}
    other = {**run, "command": "cache purge"}

    def series(name: str, values: str, **labels: str) -> dict[str, str]:
        pairs = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{name}{{{pairs}}}", "values": values}

    def alert(name: str, at: str, *expected: dict[str, str]) -> dict:
        return {"eval_time": at, "alertname": name,
                "exp_alerts": [{"exp_labels": labels} for labels in expected]}

    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            series("vmwctl_last_run_success", "1 1 0x600", **run),
            series("vmwctl_last_run_success", "1x600", **other),
            series("vmwctl_last_run_timestamp_seconds", "0+60x600", **run),  # every run
            series("vmwctl_last_run_timestamp_seconds", "0x600", **other),  # stopped
            series("vmwctl_check_status", "0 2x600", **run, check="drs"),
            series("vmwctl_check_status", "-1x600", **run, check="network"),
            series("vmwctl_cache_purge_folders", "0 0 1x600", vcenter="vc1", cluster="C1",
                   datastore="ds1", outcome="failed"),
            series("vmwctl_cache_purge_folders", "5x600", vcenter="vc1", cluster="C1",
                   datastore="ds1", outcome="deleted"),
            series("vmwctl_audit_findings", "0 3x600", vcenter="vc1", cluster="C1",
                   kind="orphan-vm"),
            series("vmwctl_audit_findings", "2x600", vcenter="vc1", cluster="C1",
                   kind="foreign-vm")],
        "alert_rule_test": [
            alert("VmwctlRunFailed", "1m"),
            alert("VmwctlRunFailed", "30m", {"severity": "warning", **run}),
            alert("VmwctlRunStale", "2h"),
            alert("VmwctlRunStale", "4h", {"severity": "warning", **other}),
            alert("VmwctlCheckFailed", "0m"),
            alert("VmwctlCheckFailed", "30m", {"severity": "warning", **run, "check": "drs"}),
            alert("VmwctlPurgeFailed", "30m", {"severity": "warning", "vcenter": "vc1",
                                               "cluster": "C1", "datastore": "ds1",
                                               "outcome": "failed"}),
            alert("VmwctlAuditFindings", "3h"),
            alert("VmwctlAuditFindings", "8h", {"severity": "info", "vcenter": "vc1",
                                                "cluster": "C1", "kind": "orphan-vm"}),
        ]}]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = prometheus.test_rules(tmp_path / "tests.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_audit_and_clean_metrics_match_their_json(simulator, prometheus, textfile: Path,
                                                  exporter, tmp_path: Path) -> None:
    """Every finding kind is a series, zero or not; clean counts what it did."""
    from test_audit import lay_out

    laid_out = lay_out(simulator(), tmp_path)
    sim = laid_out["sim"]
    sources = ("--servers-from", laid_out["servers"], "--images-from", laid_out["images"])
    target = textfile / "audit.prom"
    result, window = run_with_metrics(sim, prometheus, target, "audit", *sources)
    assert result.exit_code == 0, result.stderr
    report = result.json()
    scraped = exporter.scrape()
    run = {"command": "audit", "vcenter": f"127.0.0.1:{sim.port}", "cluster": "DC0_C0"}
    assert_run(scraped, run, 0, window)
    found = {labels["kind"]: value for labels, value in scraped.values("vmwctl_audit_findings")
             if labels["vcenter"] == run["vcenter"]}
    assert found == {kind: float(count) for kind, count in report["counts"].items()}
    sizes = {labels["kind"]: value
             for labels, value in scraped.values("vmwctl_audit_findings_bytes")
             if labels["vcenter"] == run["vcenter"]}
    assert sizes == {kind: float(size) for kind, size in report["bytes"].items()}

    cleaned_file = textfile / "audit-clean.prom"
    cleaned, window = run_with_metrics(sim, prometheus, cleaned_file, "audit", "clean",
                                       *sources, "--older-than", "0", "--yes")
    assert cleaned.exit_code == 0, cleaned.stderr
    done = {}
    for action in cleaned.json()["actions"]:
        if action["outcome"] == "done":
            count, size = done.get(action["kind"], (0, 0))
            done[action["kind"]] = (count + 1, size + (action["size"] or 0))
    scraped = exporter.scrape()
    objects = {labels["kind"]: value
               for labels, value in scraped.values("vmwctl_audit_cleaned_objects")
               if labels["vcenter"] == run["vcenter"]}
    assert objects == {kind: float(done.get(kind, (0, 0))[0])
                       for kind in ("orphan-vm", "shadow-vm", "orphan-folder", "deleted-image")}
    assert objects["orphan-folder"] == 1
    assert scraped.value("node_textfile_scrape_error") == 0
