"""Files for other tools: the edge kit and Google AI Edge Model Explorer node data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.errors import NotReadyError
from pipeline.exchange import edge_kit_runner
from pipeline.measure import measure_child, op_profile
from store import db

# what the kit ships, by module (so a move of the source keeps the kit whole) -> its name in the kit
KIT_FILES = {
    measure_child: "measure_child.py",
    op_profile: "opprofile.py",  # the runner imports it by this name
    edge_kit_runner: "run_kit.py",
}


def export_edge_kit(store: Path, out: Path, where: str = "", params: list | None = None) -> int:
    """Copy the selected TFLite variants, the measuring code and a manifest into ``out``."""
    sql = "SELECT variant_id, file_path, sha256 FROM variants WHERE status = 'ok' AND mode <> 'keras' AND kind = 'model'"
    df = db.query_df(
        store, sql + (f" AND {where}" if where else "") + " ORDER BY variant_id", params or []
    )
    if df.empty:
        raise NotReadyError("no TFLite variants match: run `pipeline convert` first")
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    art = db.artifacts_dir(store)
    entries = []
    for r in df.itertuples():
        dest = out / "models" / f"{r.variant_id}.tflite"
        shutil.copyfile(art / r.file_path, dest)
        entries.append(
            {"variant_id": r.variant_id, "file": f"models/{dest.name}", "sha256": r.sha256}
        )
    (out / "manifest.json").write_text(json.dumps({"variants": entries}, indent=1))
    for module, name in KIT_FILES.items():
        shutil.copyfile(Path(module.__file__), out / name)
    (out / "README.txt").write_text(
        "nilm-edge edge kit\n\n  pip install ai-edge-litert numpy\n  python3 run_kit.py --threads 1 4 --out results.json\n\n"
        "Then load the results: pipeline ingest-edge-kit results.json [--host NAME]\n"
    )
    return len(entries)


def model_explorer_node_data(store: Path, variant_id: str, out_dir: Path) -> list[Path]:
    """Node-data JSON files (per-tensor rmse/scale, per-op latency) keyed by output tensor name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    stats = db.query_df(
        store,
        "SELECT tensor_name, rmse_scale FROM quant_layer_stats WHERE variant_id = ? AND rmse_scale IS NOT NULL",
        [variant_id],
    )
    ops = db.query_df(
        store,
        "SELECT node_name, median(latency_ms) AS ms FROM op_profile WHERE variant_id = ? AND latency_ms IS NOT NULL GROUP BY 1",
        [variant_id],
    )
    if stats.empty and ops.empty:
        raise NotReadyError(f"no debugger statistics or op profile for {variant_id}")
    if not stats.empty:
        data = {
            "main": {
                "results": {
                    r.tensor_name: {"value": float(r.rmse_scale)} for r in stats.itertuples()
                },
                "thresholds": [
                    {"value": 0.35, "bgColor": "#c8e6c9"},
                    {"value": 0.7, "bgColor": "#fff59d"},
                    {"value": 1e9, "bgColor": "#ef9a9a"},
                ],
            }
        }
        p = out_dir / f"{variant_id}.rmse_scale.json"
        p.write_text(json.dumps(data, indent=1))
        written.append(p)
    if not ops.empty:
        data = {
            "main": {
                "results": {r.node_name: {"value": float(r.ms)} for r in ops.itertuples()},
                "gradient": [{"stop": 0, "bgColor": "#ffffff"}, {"stop": 1, "bgColor": "#d32f2f"}],
            }
        }
        p = out_dir / f"{variant_id}.latency_ms.json"
        p.write_text(json.dumps(data, indent=1))
        written.append(p)
    return written
