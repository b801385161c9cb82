"""The options that say how image data reaches Glance: method and stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vmwctl.errors import UsageError

METHOD_HELP = ("How the data reaches Glance: direct (PUT /file), import (staged, then "
               "Glance's glance-direct import), or auto: direct, and the import when "
               "Glance's upload_image policy refuses the direct upload.")


def delivery_options(*, web_download: bool = False) -> Callable[[Any], Any]:
    """--method, --store and --stores; ``web_download`` adds --method web-download."""
    methods = ["auto", "direct", "import", *(["web-download"] if web_download else [])]
    method_help = METHOD_HELP + (" web-download (a URL only): Glance fetches the URL itself."
                                 if web_download else "")

    def decorate(command: Any) -> Any:
        command = click.option(
            "--stores", metavar="A,B|all",
            help="Import into these stores (or all of them) of a multi-store Glance: "
                 "through the import API.")(command)
        command = click.option(
            "--store", metavar="NAME",
            help="The store of a multi-store Glance to put the image in (default: Glance's "
                 "default store; see /v2/info/stores).")(command)
        return click.option("--method", type=click.Choice(methods), default="auto",
                            show_default=True, help=method_help)(command)

    return decorate


def delivery_from(method: str, store: str | None, stores: str | None) -> Any:
    """The Delivery the options ask for; UsageError for a contradiction."""
    from vmwctl.images.upload import Delivery

    if store and stores:
        raise UsageError("give --store NAME or --stores A,B, not both")
    names = [name.strip() for name in (stores or "").split(",") if name.strip()]
    if stores is not None and not names:
        raise UsageError("--stores: give store names separated by commas, or all")
    every = names == ["all"]
    if method == "direct" and (every or len(names) > 1):
        raise UsageError("--stores: the direct upload puts the image in one store; drop "
                         "--method direct (the import reaches several) or give one --store")
    if every:
        names = []
    elif len(names) == 1 and method != "import":
        store, names = names[0], []
    return Delivery(method=method, store=store, stores=names, all_stores=every)


def delivery_rows(delivery: Any) -> list[tuple[str, str]]:
    """The plan's rows for how the data would reach Glance, when not the defaults."""
    rows = []
    if delivery.method != "auto":
        rows.append(("Method", delivery.method))
    stores = "all" if delivery.all_stores else ", ".join(delivery.import_stores or [])
    if stores:
        rows.append(("Stores", stores))
    return rows


def result_rows(result: Any) -> list[tuple[str, str]]:
    """How the data went and where Glance keeps it."""
    method = "direct upload" if result.method == "direct" else f"{result.method} import"
    return [("Method", method),
            *([("Stores", ", ".join(result.stores))] if result.stores else [])]
