"""Render the scorecard: a self-contained HTML page (charts embedded as PNG) and one PNG summary.

Inputs are small pandas frames (one row per prefecture x department x indicator), so this is plain
pandas and matplotlib; nothing is fetched from the network (the page must open on an offline desk).
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.quality.scorecard.indicators import INDICATOR_KEYS, INDICATORS, PROVINCE

if TYPE_CHECKING:
    import pandas as pd

DEPARTMENTS = {
    "public_security": "公安 public security",
    "health": "卫健 health",
    "hrss": "人社 HRSS",
    "civil_affairs": "民政 civil affairs",
    "market_regulation": "市场监管 market regulation",
    "tax": "税务 tax",
    "natural_resources": "自然资源 natural resources",
}
#: Debian's fonts-wqy-microhei (installed by infra/install.sh) renders the Chinese labels in charts.
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",)


@cache
def prefecture_names() -> dict[str, str]:
    """'3201' -> '南京市', and the province-wide bucket."""
    from govlake.reference.admin_divisions import jiangsu_divisions

    names = {d.code[:4]: d.name for d in jiangsu_divisions() if d.level.value == "city"}
    return {**names, PROVINCE: "省级 province-wide"}


def _label(code: str, chinese: bool) -> str:
    name = prefecture_names().get(code, "")
    return f"{code} {name}" if chinese else code


@cache
def _chinese_font() -> bool:
    """Use a CJK font in charts when one is installed; otherwise charts are labelled by code only."""
    from matplotlib import font_manager, rcParams

    for path in CJK_FONTS:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
            rcParams["font.family"] = font_manager.FontProperties(fname=path).get_name()
            rcParams["axes.unicode_minus"] = False
            return True
    return False


# ------------------------------------------------------------------------------------ tables


def league_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Per prefecture: each indicator over all departments (ratio of sums), the overall score (mean of
    the indicators it has) and its rank; the province-wide bucket is listed but not ranked."""
    shares = cells[cells["indicator"].isin(INDICATOR_KEYS)]
    sums = shares.groupby(["prefecture", "indicator"])[["numerator", "denominator"]].sum()
    wide = (sums["numerator"] / sums["denominator"]).unstack("indicator")
    wide = wide.reindex(columns=[k for k in INDICATOR_KEYS if k in wide.columns])
    wide["overall"] = wide.mean(axis=1)
    ranked = wide.drop(index=PROVINCE, errors="ignore").sort_values("overall", ascending=False)
    ranked["rank"] = range(1, len(ranked) + 1)
    if PROVINCE in wide.index:
        ranked = ranked._append(wide.loc[[PROVINCE]])  # unranked, last
    return ranked


def cell_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Prefecture x department rows, one column per indicator, plus the overall score."""
    wide = cells.pivot_table(index=["prefecture", "department"], columns="indicator", values="value")
    present = [k for k in INDICATOR_KEYS if k in wide.columns]
    wide["overall"] = wide[present].mean(axis=1)
    return wide.reindex(
        columns=[*present, "overall", *(["lateness_days"] if "lateness_days" in wide else [])]
    )


def trend_table(history: pd.DataFrame) -> pd.DataFrame:
    """Province-wide figure per indicator for every run, oldest first."""
    shares = history[history["indicator"].isin(INDICATOR_KEYS)]
    sums = shares.groupby(["computed_at", "indicator"])[["numerator", "denominator"]].sum()
    return (sums["numerator"] / sums["denominator"]).unstack("indicator").sort_index()


# ------------------------------------------------------------------------------------ charts


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def _heatmap(ax: Any, table: pd.DataFrame, rows: list[str], cols: list[str], title: str) -> None:
    import numpy as np

    data = table.to_numpy(dtype=float)
    ax.imshow(np.ma.masked_invalid(data), cmap="RdYlGn", vmin=0.5, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if not np.isnan(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=10)


def _draw_departments(ax: Any, cells: pd.DataFrame, league: pd.DataFrame, chinese: bool) -> None:
    by_cell = cell_table(cells)["overall"].unstack("department")
    by_cell = by_cell.reindex(index=[p for p in league.index if p in by_cell.index])
    _heatmap(
        ax,
        by_cell,
        [_label(p, chinese) for p in by_cell.index],
        [DEPARTMENTS.get(d, d) if chinese else d for d in by_cell.columns],
        "Overall score, prefecture x department (mean of the indicators)",
    )


def _draw_indicators(ax: Any, league: pd.DataFrame, chinese: bool) -> None:
    indicators = league[[k for k in INDICATOR_KEYS if k in league.columns]]
    _heatmap(
        ax,
        indicators,
        [_label(p, chinese) for p in indicators.index],
        [f"{i.name_zh} {i.name_en}" if chinese else i.name_en for i in INDICATORS if i.key in indicators],
        "Indicators per prefecture (all departments)",
    )


def _draw_league(ax: Any, league: pd.DataFrame, chinese: bool) -> None:
    ranked = league.dropna(subset=["rank"]) if "rank" in league else league
    labels = [f"{int(r)}. {_label(p, chinese)}" for p, r in zip(ranked.index, ranked["rank"], strict=True)]
    values = ranked["overall"].to_numpy()
    ax.barh(labels[::-1], values[::-1], color="#3b7dd8")
    for y, value in enumerate(values[::-1]):
        ax.text(value, y, f" {value:.3f}", va="center", fontsize=7)
    ax.set_xlim(max(0.0, float(values.min()) - 0.05) if len(values) else 0, 1.0)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("overall score")
    ax.set_title("League table: prefectures ranked by overall score", fontsize=10)


def _draw_trend(ax: Any, history: pd.DataFrame, chinese: bool) -> None:
    trend = trend_table(history)
    for indicator in INDICATORS:
        if indicator.key in trend:
            label = f"{indicator.name_zh} {indicator.name_en}" if chinese else indicator.name_en
            ax.plot(range(1, len(trend) + 1), trend[indicator.key].to_numpy(), marker="o", label=label)
    ax.set_xticks(
        range(1, len(trend) + 1), [f"{t:%m-%d %H:%M}" for t in trend.index], fontsize=7, rotation=30
    )
    ax.set_xlabel("run (oldest first; China Standard Time, the Spark session's zone)")
    ax.set_ylabel("province-wide figure")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=4, loc="lower left")
    ax.set_title(f"Trend over {len(trend)} run(s)", fontsize=10)


def _draw_definitions(ax: Any, cells: pd.DataFrame, chinese: bool) -> None:
    """The province-wide figure of each indicator, its counts and the gist of its definition."""
    import textwrap

    sums = (
        cells[cells["indicator"].isin(INDICATOR_KEYS)]
        .groupby("indicator")[["numerator", "denominator"]]
        .sum()
    )
    rows = [
        [
            f"{i.name_zh} {i.name_en}" if chinese else i.name_en,
            f"{sums.loc[i.key, 'numerator'] / sums.loc[i.key, 'denominator']:.3f}",
            f"{sums.loc[i.key, 'numerator']:,.0f} / {sums.loc[i.key, 'denominator']:,.0f}",
            textwrap.shorten(i.definition.split(":")[0], 110, placeholder=" ..."),
        ]
        for i in INDICATORS
        if i.key in sums.index
    ]
    ax.axis("off")
    table = ax.table(
        cellText=rows,
        colLabels=["indicator", "figure", "counts", "definition (in full on the HTML page)"],
        colWidths=[0.16, 0.07, 0.13, 0.64],
        cellLoc="left",
        loc="center",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.5)
    ax.set_title("Indicators of GB/T 36344-2018 (plus uniqueness), province-wide", fontsize=11)


def charts(cells: pd.DataFrame, history: pd.DataFrame) -> dict[str, bytes]:
    """The page's charts as PNG bytes: department heatmap, indicator heatmap, league bars, trend."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    chinese = _chinese_font()
    league = league_table(cells)
    out: dict[str, bytes] = {}
    fig, ax = plt.subplots(figsize=(9, 6))
    _draw_departments(ax, cells, league, chinese)
    out["departments"] = _png(fig)
    fig, ax = plt.subplots(figsize=(9, 6))
    _draw_indicators(ax, league, chinese)
    out["indicators"] = _png(fig)
    fig, ax = plt.subplots(figsize=(9, 5))
    _draw_league(ax, league, chinese)
    out["league"] = _png(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    _draw_trend(ax, history, chinese)
    out["trend"] = _png(fig)
    return out


def summary_png(cells: pd.DataFrame, history: pd.DataFrame, *, run_id: str, computed_at: datetime) -> bytes:
    """The whole scorecard as one PNG: figures with their definitions, league, heatmaps and trend,
    drawn in one figure (not pasted images, so the text stays sharp)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chinese = _chinese_font()
    league = league_table(cells)
    fig = plt.figure(figsize=(20, 20))
    grid = fig.add_gridspec(3, 2, height_ratios=[0.35, 1, 1], hspace=0.3, wspace=0.3)
    _draw_definitions(fig.add_subplot(grid[0, :]), cells, chinese)
    _draw_league(fig.add_subplot(grid[1, 0]), league, chinese)
    _draw_indicators(fig.add_subplot(grid[1, 1]), league, chinese)
    _draw_departments(fig.add_subplot(grid[2, 0]), cells, league, chinese)
    _draw_trend(fig.add_subplot(grid[2, 1]), history, chinese)
    title = "数据质量记分卡 · " if chinese else ""
    fig.suptitle(
        f"govlake {title}data-quality scorecard (GB/T 36344-2018)\nrun {run_id}, "
        f"{computed_at:%Y-%m-%d %H:%M} UTC",
        fontsize=16,
    )
    return _png(fig)


# ---------------------------------------------------------------------------------------- page


def _fmt(value: Any, digits: int = 3) -> str:
    try:
        return "–" if value != value else f"{float(value):.{digits}f}"  # NaN -> dash
    except (TypeError, ValueError):
        return html.escape(str(value))


def _shade(value: Any) -> str:
    """A table cell's background on the charts' scale (red 0.5 or less .. green 1.0): the tables are
    heatmaps too, so every indicator of every prefecture x department cell can be read at a glance."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    try:
        share = float(value)
    except (TypeError, ValueError):
        return ""
    if share != share:  # NaN: nothing to score
        return ""
    red, green, blue, _ = colormaps["RdYlGn"](min(max((share - 0.5) / 0.5, 0.0), 1.0))
    # half-way to white, so the figure stays legible on its colour
    return f' style="background:{to_hex(((1 + red) / 2, (1 + green) / 2, (1 + blue) / 2))}"'


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def gate_rows(gates: pd.DataFrame | None) -> str:
    """Table rows: what the quality gates dropped and warned about in the versions now served."""
    if gates is None or gates.empty:
        return (
            "<tr><td colspan=5>nothing dropped or warned: the served versions met every expectation</td></tr>"
        )
    return "".join(
        f"<tr><td><code>{html.escape(r.table)}</code></td><td>{html.escape(r.severity)}</td>"
        f"<td>{html.escape(r.expectation)}</td><td class=num>{int(r.rows):,}</td>"
        f"<td>{html.escape(r.outcome)}</td></tr>"
        for r in gates.itertuples()
    )


def render(
    cells: pd.DataFrame,
    history: pd.DataFrame,
    *,
    run_id: str,
    computed_at: datetime,
    gates: pd.DataFrame | None = None,
) -> tuple[str, bytes]:
    """The page (HTML text) and the summary PNG for one run.

    ``gates``: (table, severity, expectation, rows, outcome) for the versions now served: rows the
    builds dropped to quarantine and expectations the gates only warned about.
    """
    if cells.empty:
        raise ValueError("nothing to score: the lake has no bronze or silver tables yet")
    parts = charts(cells, history)
    league = league_table(cells)
    details = cell_table(cells)
    province = (
        cells[cells["indicator"].isin(INDICATOR_KEYS)]
        .groupby("indicator")[["numerator", "denominator"]]
        .sum()
    )
    keys = [k for k in INDICATOR_KEYS if k in league.columns]
    names = {i.key: f"{i.name_zh}<br><small>{i.name_en}</small>" for i in INDICATORS}

    definitions = "".join(
        f"<tr><th>{i.name_zh} {i.name_en}</th>"
        f"<td class=num>{_fmt(province.loc[i.key, 'numerator'] / province.loc[i.key, 'denominator'])}</td>"
        f"<td class=num>{int(province.loc[i.key, 'numerator']):,}"
        f" / {int(province.loc[i.key, 'denominator']):,}</td>"
        f"<td>{html.escape(i.definition)}</td></tr>"
        for i in INDICATORS
        if i.key in province.index
    )
    league_rows = "".join(
        f"<tr><td class=num>{'' if row.get('rank') != row.get('rank') else int(row['rank'])}</td>"
        f"<td>{html.escape(_label(p, True))}</td>"
        + "".join(f"<td class=num{_shade(row.get(k))}>{_fmt(row.get(k))}</td>" for k in keys)
        + f"<td class=num{_shade(row['overall'])}><b>{_fmt(row['overall'])}</b></td></tr>"
        for p, row in league.iterrows()
    )
    detail_cols = list(details.columns)
    detail_rows = "".join(
        f"<tr><td>{html.escape(_label(p, True))}</td><td>{html.escape(DEPARTMENTS.get(d, d))}</td>"
        + "".join(
            f"<td class=num{'' if c == 'lateness_days' else _shade(row[c])}>"
            f"{_fmt(row[c], 1 if c == 'lateness_days' else 3)}</td>"
            for c in detail_cols
        )
        + "</tr>"
        for (p, d), row in details.iterrows()
    )
    detail_head = "".join(
        f"<th>{names.get(c, 'overall' if c == 'overall' else 'lateness (days)')}</th>" for c in detail_cols
    )
    league_head = "".join(f"<th>{names[k]}</th>" for k in keys)
    charts_html = "\n".join(
        _img(parts[key], alt)
        for key, alt in [
            ("league", "league table"),
            ("indicators", "indicators per prefecture"),
            ("departments", "prefecture x department"),
            ("trend", "trend over runs"),
        ]
    )
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>govlake 数据质量记分卡 data-quality scorecard</title>
<style>
body {{ font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
th {{ background: #f3f5f8; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
img {{ max-width: 100%; border: 1px solid #ddd; margin: 6px 0; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }}
small {{ color: #666; }}
</style></head><body>
<h1>数据质量记分卡 · Data-quality scorecard</h1>
<p>Indicators of GB/T 36344-2018 (plus uniqueness), per prefecture × department. Run <code>{run_id}</code>,
computed {computed_at:%Y-%m-%d %H:%M:%S} UTC; {history["run_id"].nunique()} run(s) in the history.</p>
<h2>Indicators and their definitions (province-wide figure)</h2>
<table><tr><th>indicator</th><th>figure</th><th>counts</th><th>definition</th></tr>{definitions}</table>
<h2>League table · 排名</h2>
<p><small>Each prefecture's indicators over all its departments (ratios of summed counts); overall is
the mean of the indicators it has a figure for (– : nothing to score); ranked by overall. The
province-wide bucket (省级: rows of province-wide extracts with no prefecture) is shown, not ranked.
Cell colours run from red (0.5 or less) to green (1.0).</small></p>
<table><tr><th>rank</th><th>prefecture</th>{league_head}<th>overall</th></tr>
{league_rows}</table>
<div class="charts">{charts_html}</div>
<h2>Prefecture × department</h2>
<p><small>Every indicator per prefecture × department (the department is the sending source's); lateness
is the mean days past due per file.</small></p>
<table><tr><th>prefecture</th><th>department</th>{detail_head}</tr>{detail_rows}</table>
<h2>Dropped and warned by the quality gates · 质量闸门</h2>
<p><small>For the version of each table now served: rows a build moved to quarantine under a
<b>drop</b> expectation (published without them), and <b>warn</b> expectations that broke (published
anyway, recorded). A <b>fail</b> expectation that breaks is never served: its version is not
published.</small></p>
<table><tr><th>table</th><th>severity</th><th>expectation</th><th>rows</th><th>what happened</th></tr>
{gate_rows(gates)}</table>
</body></html>
"""
    return page, summary_png(cells, history, run_id=run_id, computed_at=computed_at)
