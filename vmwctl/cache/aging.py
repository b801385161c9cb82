"""Nova's two-pass image-cache aging, as pure decisions (ImageCacheManager).

An unused image without a marker gets one; an unused image whose marker is
older than the minimum age (strictly) is deleted, folder and all; an image in
use loses its marker. A cron job of vmwctl and a nova-compute therefore agree
on every folder.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from vmwctl.cache.layout import CachedImage


class Action(enum.StrEnum):
    KEEP = "keep"  # in use, nothing to do
    UNMARK = "unmark"  # in use again: remove its marker
    MARK = "mark"  # unused, no marker yet: create one now
    WAIT = "wait"  # unused, marked, younger than the minimum age
    DELETE = "delete"  # unused, marked longer ago than the minimum age


@dataclass
class Decision:
    image_id: str
    path: str
    action: Action
    reason: str
    delete_after: dt.datetime | None = None
    users: list[str] = field(default_factory=list)


def decide(image: CachedImage, users: Sequence[str], now: dt.datetime,
           min_age_seconds: int) -> Decision:
    """What Nova's aging pass (and vmwctl's purge) does to one image folder now.

    ``users`` are what uses the image (VM names, or "--in-use").
    """
    in_use = list(users)
    if in_use:
        shown = ", ".join(sorted(in_use)[:3]) + (", ..." if len(in_use) > 3 else "")
        if image.markers:
            return Decision(image.image_id, image.path, Action.UNMARK,
                            f"in use again ({shown}): its marker goes", users=in_use)
        return Decision(image.image_id, image.path, Action.KEEP, f"in use ({shown})",
                        users=in_use)
    if image.marker is None:
        reason = "unused: marked now, deleted after the minimum age"
        if image.markers:
            reason = f"unused, its marker {image.markers[0]} cannot be read: marked again now"
        return Decision(image.image_id, image.path, Action.MARK, reason)
    due = image.marker + dt.timedelta(seconds=min_age_seconds)
    if now - image.marker > dt.timedelta(seconds=min_age_seconds):
        return Decision(image.image_id, image.path, Action.DELETE,
                        f"unused since {image.marker:%Y-%m-%d %H:%M:%S} UTC, longer than "
                        f"{min_age_seconds} s", delete_after=due)
    return Decision(image.image_id, image.path, Action.WAIT,
                    f"unused since {image.marker:%Y-%m-%d %H:%M:%S} UTC; deleted after "
                    f"{due:%Y-%m-%d %H:%M:%S} UTC", delete_after=due)
