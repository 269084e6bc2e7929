"""AG Grid tables: column definitions (numbers, numbers with intervals, text) and a grid with
sort, filter and a CSV export button.

Column widths are fitted here, from the text each cell will show, instead of by AG Grid's
autoSize: that measures every column in the page (one forced layout of the whole page per
column), which cost a page with four tables about half a second of its load.
"""

from __future__ import annotations

import math
import re

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import MATCH, Input, Output, html


def number_col(field: str, header: str, digits: int = 3, unit: str = "", **kw) -> dict:
    suffix = f" + ' {unit}'" if unit else ""
    return {
        "field": field,
        "headerName": header,
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "_shown": ("number", digits, unit),
        "valueFormatter": {
            "function": f"params.value == null ? '–' : d3.format(',.{digits}~f')(params.value){suffix}"
        },
        **kw,
    }


def interval_col(field: str, header: str, lo: str, hi: str, digits: int = 3, **kw) -> dict:
    f = f"d3.format('.{digits}f')"
    return {
        "field": field,
        "headerName": header,
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "_shown": ("interval", digits, lo, hi),
        "minWidth": 150,
        "valueFormatter": {
            "function": f"params.value == null ? '–' : {f}(params.value) + "
            f"(params.data.{lo} == null ? ' (no interval)' : "
            f"' [' + {f}(params.data.{lo}) + ', ' + {f}(params.data.{hi}) + ']')"
        },
        **kw,
    }


def text_col(field: str, header: str, **kw) -> dict:
    return {"field": field, "headerName": header, "filter": "agTextColumnFilter", **kw}


# px per character of AG Grid's 14 px font (digits are the widest), a cell's side padding, and
# a header's padding with its sort and filter icons: measured against AG Grid's own autoSize
CHAR_PX, CELL_PAD_PX, HEADER_PAD_PX = 7.4, 36, 52
MIN_PX, MAX_PX, WRAP_MAX_PX = 90, 560, 640  # long wrapped texts: a few lines, not a tower
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _number(v, digits: int) -> str:
    """d3.format(',.{digits}~f'): thousands separators, trailing zeros dropped."""
    text = f"{v:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def shown_text(col: dict, row: dict) -> str:
    """The text a cell of ``col`` shows for ``row`` (what its valueFormatter writes)."""
    v = row.get(col["field"])
    kind = col.get("_shown")
    if kind and kind[0] in ("number", "interval"):
        if _missing(v) or not isinstance(v, int | float):
            return "–" if _missing(v) else str(v)
        if kind[0] == "number":
            return _number(v, kind[1]) + (f" {kind[2]}" if kind[2] else "")
        lo, hi = row.get(kind[2]), row.get(kind[3])
        if _missing(lo) or not isinstance(lo, int | float):
            return f"{v:.{kind[1]}f} (no interval)"
        return f"{v:.{kind[1]}f} [{lo:.{kind[1]}f}, {hi:.{kind[1]}f}]"
    text = "" if _missing(v) else str(v)
    return _LINK.sub(r"\1", text) if col.get("cellRenderer") == "markdown" else text


def fitted(columns: list[dict], records: list[dict]) -> list[dict]:
    """Column definitions with a width fitted to their header and the longest text shown (a
    column that wraps its text keeps its minimum width; a very long one is capped and shows
    its whole text on hover; a header that wraps counts its longest word)."""
    out = []
    for col in columns:
        shown = [shown_text(col, r) for r in records]
        col = {k: v for k, v in col.items() if k != "_shown"}
        if "width" not in col:
            title = str(col.get("headerName") or col["field"])
            if col.get("wrapHeaderText"):  # a header on several lines: its longest word
                title = max(title.split(), key=len, default=title)
            header = len(title) * CHAR_PX + HEADER_PAD_PX
            cells = max((len(t) for t in shown), default=0) * CHAR_PX + CELL_PAD_PX
            low = col.get("minWidth", MIN_PX)
            if col.get("wrapText"):
                col["width"] = round(max(low, min(cells, WRAP_MAX_PX), header))
            else:
                col["width"] = round(max(low, min(max(cells, header), MAX_PX)))
                if cells > MAX_PX and "tooltipField" not in col:
                    col["tooltipField"] = col["field"]
        out.append(col)
    return out


def grid(name: str, df, columns: list[dict], height: int | None = None, **kw) -> html.Div:
    """An AG Grid with sort, filter, resizable columns (fitted to their text) and a CSV export
    button."""
    records = df.to_dict("records") if df is not None else []
    columns = fitted(columns, records)
    return html.Div(
        [
            dbc.Button(
                "Download CSV",
                id={"type": "csv", "name": name},
                size="sm",
                color="secondary",
                outline=True,
                className="mb-1",
            ),
            dag.AgGrid(
                id={"type": "grid", "name": name},
                rowData=records,
                columnDefs=columns,
                defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 90},
                dashGridOptions={
                    "domLayout": "autoHeight" if height is None else "normal",
                    "pagination": len(records) > 25,
                    "paginationPageSize": 25,
                    "paginationPageSizeSelector": [25, 50, 100],
                    "tooltipShowDelay": 200,
                },
                csvExportParams={"fileName": f"{name}.csv"},
                style={"width": "100%", **({"height": height} if height else {})},
                **kw,
            ),
        ],
        id=name,
        className="grid-wrap",
    )


@dash.callback(
    Output({"type": "grid", "name": MATCH}, "exportDataAsCsv"),
    Input({"type": "csv", "name": MATCH}, "n_clicks"),
    prevent_initial_call=True,
)
def _export_csv(n):
    return bool(n)
