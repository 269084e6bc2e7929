"""What every query module uses: one query to a DataFrame, through the session's cursor."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.store_reads import reading


def q(store: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with reading(store) as con:
        return con.execute(sql, params or []).df()
