"""nilm-edge batch pipeline: data -> train -> convert -> evaluate -> profile, into one DuckDB store."""
