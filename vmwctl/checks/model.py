"""Check results: a stable id, a status, one line of detail, the objects, a remedy."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class CheckResult:
    id: str
    status: Status
    detail: str
    objects: list[str] = field(default_factory=list)
    remedy: str | None = None


def passed(check_id: str, detail: str, objects: list[str] | None = None) -> CheckResult:
    return CheckResult(check_id, Status.PASS, detail, objects or [])


def warned(check_id: str, detail: str, objects: list[str] | None = None,
           remedy: str | None = None) -> CheckResult:
    return CheckResult(check_id, Status.WARN, detail, objects or [], remedy)


def failed(check_id: str, detail: str, objects: list[str] | None = None,
           remedy: str | None = None) -> CheckResult:
    return CheckResult(check_id, Status.FAIL, detail, objects or [], remedy)


def skipped(check_id: str, detail: str) -> CheckResult:
    return CheckResult(check_id, Status.SKIP, detail)


@dataclass
class CheckReport:
    """What a check command found; JSON keys documented in docs/checks.md."""

    vcenter: str | None
    cluster: str | None
    checks: list[CheckResult]
    summary: dict[str, int] = field(default_factory=dict)
    vsphere_requests: int | None = None

    def __post_init__(self) -> None:
        self.summarize()

    def summarize(self) -> None:
        counts = Counter(result.status.value for result in self.checks)
        self.summary = {status.value: counts.get(status.value, 0) for status in Status}

    def exit_code(self, *, strict: bool = False) -> int:
        bad = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
        return 1 if any(result.status in bad for result in self.checks) else 0
