"""AG Grid tables: column definitions (numbers, numbers with intervals, text) and a grid with
sort, filter and a CSV export button."""

from __future__ import annotations

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


def grid(name: str, df, columns: list[dict], height: int | None = None, **kw) -> html.Div:
    """An AG Grid with sort, filter, resizable columns and a CSV export button."""
    records = df.to_dict("records") if df is not None else []
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
                columnSize="autoSize",
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
