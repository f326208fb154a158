"""The converters of top-level `clinical_study` elements, by tag: each part of the mapping
registers its own in a ``Handlers`` table, and ``study`` merges the tables."""

from __future__ import annotations

from collections.abc import Callable

from .builder import Builder, Element, leaf_text

Handler = Callable[[Builder, Element], None]


class Handlers(dict[str, Handler]):
    """One part's converters, by the top-level tag each converts."""

    def on(self, *tags: str) -> Callable[[Handler], Handler]:
        """Register a converter for the top-level elements `tags`."""

        def register(fn: Handler) -> Handler:
            for tag in tags:
                self[tag] = fn
            return fn

        return register

    def simple(self, tag: str, module: str, key: str,
               convert: Callable[[str], str | None] | None = None) -> None:
        """A top-level leaf (or text block) that maps to one v2 field, through `convert` if
        given."""

        def handle(b: Builder, el: Element) -> None:
            text = leaf_text(el)
            value = text if convert is None else b.enum(tag, text, convert)
            if value is not None:
                b.mod(module)[key] = value

        self[tag] = handle
