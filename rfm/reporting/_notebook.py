"""The reports' charts as Altair objects, for notebooks (``rfm.charts``).

The same definitions, aggregates and chart functions as the HTML reports
(:func:`rfm.reporting._build.report_context`), so a chart in Jupyter is the
chart in the mailed report: same colours, same number formats and currency,
drawn from the same few aggregated rows.  Tables and notes of a report are
left out; a chart a report cannot draw for these scores (no churn model, no
catalogue) is left out too, with the reason in :attr:`Charts.notes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import altair as alt

from rfm.churn import Backtest
from rfm.customers import CustomerScores
from rfm.pipeline import Orders
from rfm.reporting._blocks import Note, Table
from rfm.reporting._build import _expand, _fill, final_spec, report_context, report_values
from rfm.reporting._registry import CHARTS


@dataclass
class Charts(Mapping[str, alt.TopLevelMixin]):
    """Chart name -> Altair chart, in report order (``"top_offers-retain"`` for a chart per action);
    ``notes``: chart name -> why it is not there."""

    charts: dict[str, alt.TopLevelMixin]
    notes: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> alt.TopLevelMixin:
        if name not in self.charts:
            why = self.notes.get(name)
            known = ", ".join(self.charts)
            raise KeyError(f"{name}: {why}" if why else f"no chart {name!r}; charts: {known}")
        return self.charts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.charts)

    def __len__(self) -> int:
        return len(self.charts)


def report_charts(
    kind: str,
    orders: Orders,
    scores: CustomerScores | None = None,
    *,
    compare_as_of: date | str | None = None,
    backtest: Backtest | None = None,
    offers: Any = None,
) -> Charts:
    """The charts of report ``kind`` for ``scores`` (default: ``orders.score()``), configured as in the
    report (fonts, the number locale and currency of ``report.currency`` / ``report.locale``)."""
    scores = scores if scores is not None else orders.score()
    defn, ctx, actions = report_context(kind, orders, scores, compare_as_of=compare_as_of, backtest=backtest,
                                        offers=offers)
    values = report_values(ctx, scores)
    out, notes = {}, {}
    for section in defn.sections:
        for sec, action in _expand(section, actions):
            ctx.columns = sec.columns
            for block in sec.blocks:
                if not block.chart:
                    continue
                name = f"{block.name}-{action}" if action else block.name
                filled = {**values, "action": action}
                block = block.model_copy(update={"title": _fill(block.title or "", filled) or None,
                                                 "subtitle": _fill(block.subtitle or "", filled) or None})
                built = CHARTS[block.chart](ctx, block, action)
                if isinstance(built, Note):
                    notes[name] = built.text
                elif not isinstance(built, Table):  # the page's spec, as an Altair object of the same kind
                    out[name] = type(built).from_dict(final_spec(built, ctx.numbers))
    return Charts(out, notes)
