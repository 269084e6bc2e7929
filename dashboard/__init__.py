"""nilm-edge dashboard: a read-only Dash app over the results store (no TensorFlow, no pipeline)."""
