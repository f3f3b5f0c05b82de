"""Sphinx extension of the ali1688spider docs: reference pages generated from the code.

- the ``setting`` cross-reference type of the Scrapy ecosystem (``.. setting::`` targets,
  ``:setting:`` / ``{setting}`` references, checked because ``conf.py`` is nitpicky);
- ``ali1688-settings``: every declared setting (``ali1688spider.config.SETTINGS``);
- ``ali1688-close-reasons``: every close reason of ``ali1688spider.closing`` with its exit code;
- ``ali1688-spider NAME``: a spider's summary and the ``-a`` arguments it declares; a spider
  that no page documents is a warning.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

from docutils import nodes
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes

from ali1688spider import closing, config
from ali1688spider.cli.spiders import explain, summary

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)

_SETTING_LITERAL = re.compile(r"``(ALI1688_[A-Z0-9_]+)``")


def link_settings(text: str) -> str:
    """reStructuredText *text* with each ``ALI1688_*`` literal made a checked reference."""
    return _SETTING_LITERAL.sub(r":setting:`\1`", text)


def default_text(value: Any) -> str:
    return "unset" if value is None else f"``{value}``"


class SettingsDirective(SphinxDirective):
    """One section per topic of the declared settings, each a table in declaration order."""

    def run(self) -> list[nodes.Node]:
        # An incremental build (docs/_build) reads the page again when the declarations change.
        self.env.note_dependency(config.__file__)
        topics: dict[str, list[config.Setting]] = {}
        for setting in config.SETTINGS:
            topics.setdefault(setting.topic, []).append(setting)
        lines = []
        for title, settings in topics.items():
            lines += [title, "-" * len(title), "",
                      ".. list-table::", "   :header-rows: 1", "   :widths: 30 15 55", "",
                      "   * - setting", "     - default", "     - meaning"]
            for setting in settings:
                lines += [f"   * - .. setting:: {setting.name}", "",
                          f"       ``{setting.name}``",
                          f"     - {default_text(setting.default)}",
                          f"     - {link_settings(setting.doc)}"]
            lines.append("")
        return nested_parse_to_nodes(self.state, "\n".join(lines), source="ali1688spider/config.py")


def close_reasons() -> list[tuple[str, str, int]]:
    """Every close reason of ``closing.py``: (reason, its ``#:`` comment, exit code)."""
    docs = ModuleAnalyzer.for_module(closing.__name__).find_attr_docs()
    found = []
    for name, value in vars(closing).items():
        if name.isupper() and not name.startswith("_") and isinstance(value, str):
            doc = " ".join(docs.get(("", name), [])).strip()
            found.append((value, doc, 1 if value in closing.FAILURE_REASONS else 0))
    return found


class CloseReasonsDirective(SphinxDirective):
    """A table: close reason, exit code of ``scrapy crawl``, what it means."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(closing.__file__)
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 10 60", "",
                 "   * - close reason", "     - exit code", "     - meaning"]
        for reason, doc, exit_code in close_reasons():
            if not doc:
                logger.warning("close reason %s has no #: comment in closing.py", reason,
                               location=self.get_location())
            lines += [f"   * - ``{reason}``", f"     - {exit_code}", f"     - {link_settings(doc)}"]
        return nested_parse_to_nodes(self.state, "\n".join(lines), source="ali1688spider/closing.py")


def spider_classes() -> dict[str, type]:
    settings = Settings()
    settings.setmodule("ali1688spider.settings")
    loader = get_spider_loader(settings)
    return {name: loader.load(name) for name in sorted(loader.list())}


class SpiderDirective(SphinxDirective):
    """The spider's summary and its declared arguments, worded as ``ali1688 spiders`` words them."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        spidercls = spider_classes().get(name)
        if spidercls is None:
            logger.warning("no spider named %s", name, location=self.get_location())
            return []
        self.env.note_dependency(inspect.getfile(spidercls))
        documented_spiders(self.env).setdefault(self.env.docname, set()).add(name)
        arguments = nodes.definition_list()
        for argument_name, argument in spidercls.arguments.items():
            arguments += nodes.definition_list_item(
                "",
                nodes.term("", "", nodes.literal(text=f"-a {argument_name}=")),
                nodes.definition("", nodes.paragraph(text=explain(argument))),
            )
        return [nodes.paragraph(text=f"{summary(spidercls)} Its arguments:"), arguments]


def documented_spiders(env: BuildEnvironment) -> dict[str, set[str]]:
    """The spiders each page documents, kept in the environment across incremental builds."""
    if not hasattr(env, "ali1688_spiders"):
        env.ali1688_spiders = {}
    return env.ali1688_spiders


def purge_documented_spiders(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    documented_spiders(env).pop(docname, None)


def merge_documented_spiders(app: Sphinx, env: BuildEnvironment, docnames: set[str],
                             other: BuildEnvironment) -> None:
    theirs = documented_spiders(other)
    documented_spiders(env).update({doc: theirs[doc] for doc in docnames if doc in theirs})


def check_every_spider_documented(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set().union(*documented_spiders(env).values())
    for name in sorted(set(spider_classes()) - documented):
        logger.warning("spider %s is documented by no ali1688-spider directive", name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_crossref_type("setting", "setting", indextemplate="pair: %s; setting")
    app.add_directive("ali1688-settings", SettingsDirective)
    app.add_directive("ali1688-close-reasons", CloseReasonsDirective)
    app.add_directive("ali1688-spider", SpiderDirective)
    app.connect("env-purge-doc", purge_documented_spiders)
    app.connect("env-merge-info", merge_documented_spiders)
    app.connect("env-check-consistency", check_every_spider_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
