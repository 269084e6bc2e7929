"""What breaks a quantized model: the end-to-end sensitivity ranking (quant_sensitivity) of one
variant, or of its model's w8_a8 file, and the tensor ranked first for every model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.queries.common import q
from dashboard.store_reads import cached_read


@cached_read
def sensitivity(store: Path, vid: str) -> pd.DataFrame:
    """The ranking stored for `vid`, else the one of its model's ranked file (w8_a8): the one
    its protected tensors (w8_a8_selective, w8_a8_mixed16) were chosen from."""
    return q(
        store,
        """
        SELECT s.*, v.mode AS ranked_mode
        FROM quant_sensitivity s JOIN variants v USING (variant_id)
        WHERE s.variant_id = (
            SELECT r.variant_id FROM quant_sensitivity r JOIN variants rv USING (variant_id)
            WHERE rv.model_id = (SELECT model_id FROM variants WHERE variant_id = ?)
            ORDER BY r.variant_id = ? DESC, rv.mode = 'w8_a8' DESC LIMIT 1)
        ORDER BY s.rank""",
        [vid, vid],
    )


@cached_read
def first_causes(store: Path) -> pd.DataFrame:
    """The tensor ranked first for every ranked variant, with its model's appliance and arch."""
    return q(
        store,
        """
        SELECT v.appliance, v.arch, s.variant_id, s.op_name, s.tensor_name, s.range, s.scale,
               s.p99_over_scale, s.zero_share, s.range_blowup, s.output_rmse_quant,
               s.output_rmse_kept_float, s.recovered_share, s.flip_share_quant,
               s.flip_share_kept_float,
               (SELECT count(*) FROM quant_sensitivity p
                WHERE p.variant_id = s.variant_id AND p.protected) AS protected_tensors
        FROM quant_sensitivity s JOIN variants v USING (variant_id)
        WHERE s.rank = 1 ORDER BY v.appliance, v.arch""",
    )


@cached_read
def layer_error_by_op(store: Path) -> pd.DataFrame:
    """Mean and worst rmse/scale, suspects and range blow-ups per op type of every inspected
    file (op types a file lacks have no row: blank, not zero, on the page)."""
    return q(
        store,
        """
        SELECT v.appliance, v.arch, v.mode, s.op_name, count(*) AS tensors,
               avg(s.rmse_scale) AS mean_rmse_scale, max(s.rmse_scale) AS max_rmse_scale,
               count(*) FILTER (s.suspect) AS suspects,
               count(*) FILTER (s.range_blowup) AS range_blowups
        FROM quant_layer_stats s JOIN variants v USING (variant_id)
        GROUP BY ALL ORDER BY appliance, arch, mode, op_name""",
    )
