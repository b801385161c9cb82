"""Option types shared by commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import click

from vmwctl.common.choices import choose
from vmwctl.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from vmwctl.profile.schema import Profile
    from vmwctl.vsphere.model import Cluster, Inventory


def refuse_empty(ctx: click.Context, param: click.Parameter, value: str | None, what: str,
                 instead: str, *, items: bool = False) -> None:
    """An explicitly empty value (a script's ``--profile "$P"`` with ``P`` unset) is a usage
    error, never the default in disguise. ``items``: a comma-separated list, empty when it
    holds nothing but commas and blanks."""
    if value is None or ctx.resilient_parsing:
        return
    if (value.replace(",", " ") if items else value).strip():
        return
    label = "/".join(param.opts) if isinstance(param, click.Option) else \
        param.human_readable_name
    leave = "the option" if isinstance(param, click.Option) else "it"
    raise click.UsageError(f"{label} is empty: name {what}, or leave {leave} out {instead}", ctx)


def nonempty(what: str, instead: str, *, items: bool = False
             ) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback that refuses an explicitly empty value (:func:`refuse_empty`)."""
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        refuse_empty(ctx, param, value, what, instead, items=items)
        return value

    return callback


class CanonicalChoice(click.ParamType):
    """One of Nova's values, in any case, turned into Nova's canonical spelling.

    ``streamoptimized`` becomes ``streamOptimized``; anything else is refused
    with the list of valid values and a "did you mean".
    """

    def __init__(self, choices: Sequence[str], what: str, *, listing: str | None = None) -> None:
        self.choices = list(choices)
        self.what = what
        self.listing = listing
        self.name = what

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.choices) + "]"

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices if c.lower().startswith(
            incomplete.lower())]

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        try:
            return choose(str(value), self.choices, self.what, listing=self.listing)
        except UsageError as exc:
            self.fail(exc.message, param, ctx)


class ClusterFlag:
    """The cluster a command acts on, as govc's ClusterFlag owns its lookup.

    It carries the name and where it came from (the NAME argument, --cluster,
    else the profile's vmware.cluster_name, read only when needed); the one
    lookup, :meth:`resolve`, runs after the command has read the inventory,
    never while click parses (which would log in).
    """

    def __init__(self, given: str | None, source: str, usage: str,
                 profile: Callable[[], Profile]) -> None:
        self.given = given or None
        self.source = source if self.given else "profile"  # argument | --cluster | profile
        self.usage = usage  # how the command takes a name: "NAME" or "--cluster NAME"
        self._profile = profile

    @classmethod
    def of_profile(cls, profile: Callable[[], Profile]) -> ClusterFlag:
        """The profile's cluster, for a command without the option (``cluster list``)."""
        return cls(None, "profile", "--cluster NAME", profile)

    @property
    def explicit(self) -> bool:
        """Named on the command line (not taken from the profile)."""
        return self.source != "profile"

    @property
    def name(self) -> str | None:
        return self.given or self._profile().vmware.cluster_name

    @overload
    def resolve(self, inventory: Inventory) -> Cluster: ...

    @overload
    def resolve(self, inventory: Inventory, *, required: Literal[False],
                lenient: bool = False) -> Cluster | None: ...

    def resolve(self, inventory: Inventory, *, required: bool = True,
                lenient: bool = False) -> Cluster | None:
        """The cluster, looked up in ``inventory``.

        A name that matches no cluster, or several, is a usage error (exit 2) listing the
        clusters (or the namesakes' paths). ``required``: no name at all is an error too,
        else None. ``lenient``: a name from the profile that matches none (or several)
        gives None, for commands that report it themselves or do without; an explicit
        name must always exist.
        """
        from vmwctl.vsphere.model import UnknownCluster

        name = self.name
        if not name:
            if not required:
                return None
            raise ConfigError(f"no cluster given: pass {self.usage} or set "
                              f"vmware.cluster_name in profile '{self._profile().name}'")
        try:
            return inventory.cluster_named(name)
        except UnknownCluster as exc:
            if self.explicit:
                raise
            if lenient:
                return None
            raise ConfigError(f"{exc.message}; it is the vmware.cluster_name of profile "
                              f"'{self._profile().name}': set it to an existing cluster, or "
                              f"pass {self.usage}") from None


def _flag(source: str, usage: str
          ) -> Callable[[click.Context, click.Parameter, str | None], ClusterFlag]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> ClusterFlag:
        from vmwctl.cli.app import App

        refuse_empty(ctx, param, value, "a cluster", "for the profile's vmware.cluster_name")
        app = ctx.ensure_object(App)
        return ClusterFlag(value, source, usage, lambda: app.profile)

    return callback


class ClusterOption(click.Option):
    """``--cluster NAME``, turned into a :class:`ClusterFlag`."""


class ClusterArgument(click.Argument):
    """An optional cluster NAME argument, turned into a :class:`ClusterFlag`."""


cluster_option = click.option(
    "--cluster", metavar="NAME", cls=ClusterOption, callback=_flag("--cluster", "--cluster NAME"),
    help="The cluster (default: the profile's vmware.cluster_name).")


def cluster_argument(name: str) -> Callable[[Any], Any]:
    """The cluster as an optional argument (``cluster inspect [NAME]``)."""
    return click.argument(name, required=False, cls=ClusterArgument,
                          callback=_flag("argument", name.upper()))
