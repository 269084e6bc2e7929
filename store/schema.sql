-- nilm-edge results store. One DuckDB file; this script creates it from nothing.
-- Every table, view and column carries a COMMENT so `pipeline sql` users and the dashboard's
-- SQL page can read the schema without the source code.

CREATE TABLE meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE meta IS 'Store-level facts: schema_version, refreshed_at (UTC ISO time of the last published write), last_run_id.';
COMMENT ON COLUMN meta.key IS 'Name of the fact.';
COMMENT ON COLUMN meta.value IS 'Value of the fact, as text.';

CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    command VARCHAR NOT NULL,
    profile VARCHAR NOT NULL,
    config JSON NOT NULL,
    config_hash VARCHAR NOT NULL,
    git_commit VARCHAR,
    packages JSON,
    host VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    pid INTEGER
);
COMMENT ON TABLE runs IS 'One row per pipeline command invocation that wrote to the store.';
COMMENT ON COLUMN runs.run_id IS 'Unique id of the run (UTC time + random suffix).';
COMMENT ON COLUMN runs.command IS 'Pipeline command that ran (data, train, convert, evaluate, profile, all, ingest-*).';
COMMENT ON COLUMN runs.profile IS 'Run profile: smoke, demo or refit.';
COMMENT ON COLUMN runs.config IS 'The full resolved configuration of the run as JSON.';
COMMENT ON COLUMN runs.config_hash IS 'sha256 of the canonical JSON config (first 16 hex digits).';
COMMENT ON COLUMN runs.git_commit IS 'Commit of the project checkout, when it is a git checkout.';
COMMENT ON COLUMN runs.packages IS 'Versions of the key Python packages as JSON.';
COMMENT ON COLUMN runs.host IS 'Host name of the machine that ran the pipeline.';
COMMENT ON COLUMN runs.started_at IS 'UTC start time.';
COMMENT ON COLUMN runs.finished_at IS 'UTC end time; NULL while running or after a crash.';
COMMENT ON COLUMN runs.status IS 'running, finished, failed, interrupted, or crashed (found running with its process gone).';
COMMENT ON COLUMN runs.pid IS 'Process id of the pipeline command on its host (to tell a live run from a crashed one).';

CREATE TABLE stage_cache (
    stage VARCHAR NOT NULL,
    item VARCHAR NOT NULL,
    cache_key VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    PRIMARY KEY (stage, item)
);
COMMENT ON TABLE stage_cache IS 'What each stage produced for each item, under a key made of its config and input hashes; a matching key means the work is skipped.';
COMMENT ON COLUMN stage_cache.stage IS 'Stage name: data, train, convert, evaluate, profile.';
COMMENT ON COLUMN stage_cache.item IS 'Unit of work inside the stage (an appliance, a model id, a variant id).';
COMMENT ON COLUMN stage_cache.cache_key IS 'Hash of the item''s config and the hashes of its inputs.';
COMMENT ON COLUMN stage_cache.run_id IS 'Run that produced the item.';
COMMENT ON COLUMN stage_cache.finished_at IS 'UTC time the item finished.';

CREATE TABLE stage_timings (
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    item VARCHAR NOT NULL,
    seconds DOUBLE NOT NULL,
    skipped BOOLEAN NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
COMMENT ON TABLE stage_timings IS 'Wall time of every stage item of every run, so the time budget is visible.';
COMMENT ON COLUMN stage_timings.run_id IS 'Run the timing belongs to.';
COMMENT ON COLUMN stage_timings.stage IS 'Stage name.';
COMMENT ON COLUMN stage_timings.item IS 'Item inside the stage, or * for the whole stage.';
COMMENT ON COLUMN stage_timings.seconds IS 'Wall-clock seconds spent.';
COMMENT ON COLUMN stage_timings.skipped IS 'True when the item was skipped because its cache key matched.';
COMMENT ON COLUMN stage_timings.finished_at IS 'UTC time the item finished.';

CREATE TABLE datasets (
    dataset_id VARCHAR PRIMARY KEY,
    appliance VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    houses VARCHAR NOT NULL,
    sample_period_s DOUBLE NOT NULL,
    rows BIGINT NOT NULL,
    segments INTEGER NOT NULL,
    windows BIGINT NOT NULL,
    first_time TIMESTAMP,
    last_time TIMESTAMP,
    on_fraction DOUBLE,
    input_checksum VARCHAR NOT NULL,
    agg_mean DOUBLE NOT NULL,
    agg_std DOUBLE NOT NULL,
    max_power_w DOUBLE NOT NULL,
    on_threshold_w DOUBLE NOT NULL,
    min_on_s DOUBLE NOT NULL,
    min_off_s DOUBLE NOT NULL,
    cleaning JSON,
    artifact_path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL
);
COMMENT ON TABLE datasets IS 'One row per appliance split (train, val, test) produced by the data stage.';
COMMENT ON COLUMN datasets.dataset_id IS 'appliance.split';
COMMENT ON COLUMN datasets.appliance IS 'Appliance (vocabulary value).';
COMMENT ON COLUMN datasets.split IS 'train, val or test.';
COMMENT ON COLUMN datasets.source IS 'Where the data came from: synthetic, refit or csv, with the input folder.';
COMMENT ON COLUMN datasets.houses IS 'Comma-separated house ids in the split.';
COMMENT ON COLUMN datasets.sample_period_s IS 'Detected sampling period in seconds.';
COMMENT ON COLUMN datasets.rows IS 'Samples kept after cleaning.';
COMMENT ON COLUMN datasets.segments IS 'Contiguous stretches without gaps; windows never cross a gap.';
COMMENT ON COLUMN datasets.windows IS 'Number of complete seq2point windows available.';
COMMENT ON COLUMN datasets.first_time IS 'First timestamp in the split.';
COMMENT ON COLUMN datasets.last_time IS 'Last timestamp in the split.';
COMMENT ON COLUMN datasets.on_fraction IS 'Share of samples whose status is on.';
COMMENT ON COLUMN datasets.input_checksum IS 'sha256 over the raw input files (names, sizes and contents).';
COMMENT ON COLUMN datasets.agg_mean IS 'Aggregate standardisation mean in W (the article uses 522).';
COMMENT ON COLUMN datasets.agg_std IS 'Aggregate standardisation scale in W (the article uses 814).';
COMMENT ON COLUMN datasets.max_power_w IS 'P_m: appliance power is clipped to [0, P_m] and divided by it.';
COMMENT ON COLUMN datasets.on_threshold_w IS 'On-power threshold of the status rule, W.';
COMMENT ON COLUMN datasets.min_on_s IS 'Minimum on duration of the status rule, s.';
COMMENT ON COLUMN datasets.min_off_s IS 'Minimum off duration of the status rule, s.';
COMMENT ON COLUMN datasets.cleaning IS 'JSON list of the cleaning steps applied and how many rows each touched.';
COMMENT ON COLUMN datasets.artifact_path IS 'Parquet file of the split, relative to the artifacts folder.';
COMMENT ON COLUMN datasets.sha256 IS 'sha256 of that Parquet file.';

CREATE TABLE models (
    model_id VARCHAR PRIMARY KEY,
    appliance VARCHAR NOT NULL,
    arch VARCHAR NOT NULL,
    profile VARCHAR NOT NULL,
    parameters BIGINT NOT NULL,
    train_config JSON NOT NULL,
    loss_variant VARCHAR NOT NULL,
    strategy VARCHAR NOT NULL,
    replicas INTEGER NOT NULL,
    epochs_run INTEGER NOT NULL,
    best_epoch INTEGER NOT NULL,
    best_val_loss DOUBLE,
    train_seconds DOUBLE NOT NULL,
    artifact_path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    steps BIGINT,
    windows_seen BIGINT,
    schedule VARCHAR,
    stop_reason VARCHAR,
    still_improving BOOLEAN,
    under_trained BOOLEAN
);
COMMENT ON TABLE models IS 'One trained Keras model per appliance and architecture.';
COMMENT ON COLUMN models.model_id IS 'appliance.arch';
COMMENT ON COLUMN models.appliance IS 'Appliance (vocabulary value).';
COMMENT ON COLUMN models.arch IS 'cnn or transformer.';
COMMENT ON COLUMN models.profile IS 'Profile the model was trained under (smoke models are scaled down).';
COMMENT ON COLUMN models.parameters IS 'Trainable plus non-trainable parameter count.';
COMMENT ON COLUMN models.train_config IS 'Training settings as JSON (batch, learning rate, epochs, windows per epoch, seed, width scale).';
COMMENT ON COLUMN models.loss_variant IS 'soft_bce (differentiable status term) or article_hard_bce (the article''s zero-gradient term).';
COMMENT ON COLUMN models.strategy IS 'tf.distribute strategy used: default, mirrored or multi_worker.';
COMMENT ON COLUMN models.replicas IS 'Number of replicas in sync during training.';
COMMENT ON COLUMN models.epochs_run IS 'Epochs actually run (early stopping may end sooner).';
COMMENT ON COLUMN models.best_epoch IS 'Epoch (1-based) whose weights were kept.';
COMMENT ON COLUMN models.best_val_loss IS 'Validation loss of the kept weights.';
COMMENT ON COLUMN models.train_seconds IS 'Wall time of training.';
COMMENT ON COLUMN models.artifact_path IS '.keras file, relative to the artifacts folder.';
COMMENT ON COLUMN models.sha256 IS 'sha256 of the .keras file.';
COMMENT ON COLUMN models.created_at IS 'UTC time the model was saved.';
COMMENT ON COLUMN models.steps IS 'Optimiser steps taken.';
COMMENT ON COLUMN models.windows_seen IS 'Training windows seen (steps x batch, repeats counted).';
COMMENT ON COLUMN models.schedule IS 'Learning-rate schedule, e.g. constant (the article''s) or warmup_cosine(peak=1e-3, warmup=0.1).';
COMMENT ON COLUMN models.stop_reason IS 'Why training stopped: epochs (all epochs ran), early_stopping, or time_budget.';
COMMENT ON COLUMN models.still_improving IS 'Validation loss of the last epoch was the best so far: more training would likely help.';
COMMENT ON COLUMN models.under_trained IS 'Flagged under-trained: validation loss still falling by more than 2 % in the last epoch, or no better than predicting 0 W. Never recommended.';

CREATE TABLE training_history (
    model_id VARCHAR NOT NULL,
    epoch INTEGER NOT NULL,
    loss DOUBLE,
    val_loss DOUBLE,
    mae DOUBLE,
    val_mae DOUBLE,
    seconds DOUBLE,
    PRIMARY KEY (model_id, epoch)
);
COMMENT ON TABLE training_history IS 'Per-epoch training curve of each model.';
COMMENT ON COLUMN training_history.model_id IS 'Model (appliance.arch).';
COMMENT ON COLUMN training_history.epoch IS 'Epoch number, 1-based.';
COMMENT ON COLUMN training_history.loss IS 'Training loss (MSE + status BCE + lambda * L1).';
COMMENT ON COLUMN training_history.val_loss IS 'Validation loss, same definition.';
COMMENT ON COLUMN training_history.mae IS 'Training MAE on the normalised target (0..1 of P_m).';
COMMENT ON COLUMN training_history.val_mae IS 'Validation MAE on the normalised target.';
COMMENT ON COLUMN training_history.seconds IS 'Wall time of the epoch.';

CREATE TABLE variants (
    variant_id VARCHAR PRIMARY KEY,
    model_id VARCHAR NOT NULL,
    appliance VARCHAR NOT NULL,
    arch VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    converter_settings JSON,
    file_path VARCHAR,
    file_bytes BIGINT,
    sha256 VARCHAR,
    xnnpack_partitions INTEGER,
    n_ops INTEGER,
    float_compute_ops INTEGER,
    convert_seconds DOUBLE,
    debug_rmse DOUBLE,
    debug_max_abs DOUBLE,
    kind VARCHAR NOT NULL DEFAULT 'model'
);
COMMENT ON TABLE variants IS 'Every model variant: the Keras float model (mode keras), each TFLite conversion mode (including modes that failed), and the non-learned baselines (kind baseline, arch baseline).';
COMMENT ON COLUMN variants.variant_id IS 'appliance.arch.mode';
COMMENT ON COLUMN variants.model_id IS 'Model it was made from.';
COMMENT ON COLUMN variants.appliance IS 'Appliance.';
COMMENT ON COLUMN variants.arch IS 'Architecture.';
COMMENT ON COLUMN variants.mode IS 'keras, convert_only, w8, w8_a8_fallback, w8_a8, w8_a16, f16, w8_a8_selective, w8_a8_xnnpack (int8 with the ops XNNPACK runs only in float kept float) w8_a8_mixed16 (the protected tensors in int16) or qat_w8_a8 (full int8 of the model after a short quantization-aware fine-tune); always_off, mean_power or aggregate_threshold for baselines.';
COMMENT ON COLUMN variants.status IS 'ok, or failed when the converter (or a first invoke) refused the mode.';
COMMENT ON COLUMN variants.error IS 'The converter''s or runtime''s reason when status = failed.';
COMMENT ON COLUMN variants.converter_settings IS 'The converter settings of the mode, verbatim, as JSON.';
COMMENT ON COLUMN variants.file_path IS 'Model file relative to the artifacts folder.';
COMMENT ON COLUMN variants.file_bytes IS 'Size on disk in bytes.';
COMMENT ON COLUMN variants.sha256 IS 'sha256 of the file; the evaluated and the profiled file are this one.';
COMMENT ON COLUMN variants.xnnpack_partitions IS 'DELEGATE nodes after allocate_tensors in LiteRT with XNNPACK on (0 = not delegated).';
COMMENT ON COLUMN variants.n_ops IS 'Operators in the TFLite graph.';
COMMENT ON COLUMN variants.float_compute_ops IS 'Operators computing in float (excluding QUANTIZE/DEQUANTIZE and pure data movement): non-zero in a "full int8" model means float islands.';
COMMENT ON COLUMN variants.convert_seconds IS 'Conversion wall time including calibration.';
COMMENT ON COLUMN variants.debug_rmse IS 'Model-level error: RMSE (normalised units) between this variant''s and the float model''s outputs on the debug set.';
COMMENT ON COLUMN variants.debug_max_abs IS 'Model-level error: max absolute difference on the debug set.';
COMMENT ON COLUMN variants.kind IS 'model (a trained network or its conversion) or baseline (always_off, mean_power, aggregate_threshold: no file, scored on the same windows).';

CREATE TABLE op_census (
    variant_id VARCHAR NOT NULL,
    op_type VARCHAR NOT NULL,
    input_dtypes VARCHAR NOT NULL,
    output_dtypes VARCHAR NOT NULL,
    count INTEGER NOT NULL
);
COMMENT ON TABLE op_census IS 'Op types of each TFLite variant with their input and output tensor dtypes.';
COMMENT ON COLUMN op_census.variant_id IS 'Variant.';
COMMENT ON COLUMN op_census.op_type IS 'TFLite builtin op name, e.g. FULLY_CONNECTED.';
COMMENT ON COLUMN op_census.input_dtypes IS 'Comma-separated dtypes of the op''s non-constant and constant inputs.';
COMMENT ON COLUMN op_census.output_dtypes IS 'Comma-separated output dtypes.';
COMMENT ON COLUMN op_census.count IS 'Number of ops with this type and dtype signature.';

CREATE TABLE quant_layer_stats (
    variant_id VARCHAR NOT NULL,
    layer_index INTEGER NOT NULL,
    op_name VARCHAR NOT NULL,
    tensor_idx INTEGER,
    tensor_name VARCHAR,
    num_elements BIGINT,
    stddev DOUBLE,
    mean_error DOUBLE,
    max_abs_error DOUBLE,
    mean_squared_error DOUBLE,
    scale DOUBLE,
    zero_point BIGINT,
    range DOUBLE,
    rmse_scale DOUBLE,
    sqnr_db DOUBLE,
    suspect BOOLEAN NOT NULL,
    p99_abs DOUBLE,
    p99_over_scale DOUBLE,
    zero_share DOUBLE,
    range_blowup BOOLEAN,
    suspect_reason VARCHAR
);
COMMENT ON TABLE quant_layer_stats IS 'Per-tensor quantization error from the TFLite QuantizationDebugger for every variant with integer activations.';
COMMENT ON COLUMN quant_layer_stats.variant_id IS 'Variant.';
COMMENT ON COLUMN quant_layer_stats.layer_index IS 'Row order of the debugger output (graph order).';
COMMENT ON COLUMN quant_layer_stats.op_name IS 'TFLite op that produced the tensor.';
COMMENT ON COLUMN quant_layer_stats.tensor_idx IS 'Tensor index in the quantized model.';
COMMENT ON COLUMN quant_layer_stats.tensor_name IS 'Tensor name (used for selective quantization deny lists).';
COMMENT ON COLUMN quant_layer_stats.num_elements IS 'Elements in the tensor.';
COMMENT ON COLUMN quant_layer_stats.stddev IS 'Standard deviation of the error (dequantized - float).';
COMMENT ON COLUMN quant_layer_stats.mean_error IS 'Mean error.';
COMMENT ON COLUMN quant_layer_stats.max_abs_error IS 'Maximum absolute error.';
COMMENT ON COLUMN quant_layer_stats.mean_squared_error IS 'Mean squared error.';
COMMENT ON COLUMN quant_layer_stats.scale IS 'Quantization scale of the tensor.';
COMMENT ON COLUMN quant_layer_stats.zero_point IS 'Quantization zero point.';
COMMENT ON COLUMN quant_layer_stats.range IS '255 * scale: the float range the int8 grid covers.';
COMMENT ON COLUMN quant_layer_stats.rmse_scale IS 'RMS error / scale, the error over the finite float values; about 0.289 (1/sqrt 12) for a well-quantized tensor.';
COMMENT ON COLUMN quant_layer_stats.sqnr_db IS 'Signal-to-quantization-noise ratio in dB: 10 log10(mean(f^2) / mean((f - q)^2)) of the float tensor f (the op run in float on its dequantized inputs) and its dequantized int8 counterpart q on the debug set, over the finite values of f. Never NULL: +inf (shown as exact) when q equals f, -inf when f is all zero and q is not.';
COMMENT ON COLUMN quant_layer_stats.suspect IS 'rmse_scale above the configured threshold (the article used 0.7), or a range blow-up.';
COMMENT ON COLUMN quant_layer_stats.p99_abs IS '99th percentile of |f| on a debug window (finite values), averaged over the debug windows: the typical magnitude.';
COMMENT ON COLUMN quant_layer_stats.p99_over_scale IS 'p99_abs / scale: how many quantization steps the typical magnitude spans (of 255).';
COMMENT ON COLUMN quant_layer_stats.zero_share IS 'Share of the non-zero float values that round to the zero point (|f| < scale / 2).';
COMMENT ON COLUMN quant_layer_stats.range_blowup IS 'The range is blown up against the values: p99_over_scale below 1 or zero_share at least 0.9 (a rare outlier set the range and the typical values collapse to the zero point), whatever the local error.';
COMMENT ON COLUMN quant_layer_stats.suspect_reason IS 'Why the tensor is suspect (range blow-up, local error), in words; NULL when it is not.';

CREATE TABLE quant_sensitivity (
    variant_id VARCHAR NOT NULL,
    rank INTEGER NOT NULL,
    tensor_name VARCHAR NOT NULL,
    op_name VARCHAR,
    layer_index INTEGER,
    range DOUBLE,
    scale DOUBLE,
    p99_over_scale DOUBLE,
    zero_share DOUBLE,
    range_blowup BOOLEAN,
    rmse_scale DOUBLE,
    output_rmse_quant DOUBLE,
    output_rmse_kept_float DOUBLE,
    recovered_share DOUBLE,
    flip_share_quant DOUBLE,
    flip_share_kept_float DOUBLE,
    protected BOOLEAN NOT NULL,
    island VARCHAR,
    why VARCHAR,
    PRIMARY KEY (variant_id, rank)
);
COMMENT ON TABLE quant_sensitivity IS 'What breaks a quantized model end to end: the range blow-ups and the tensors worst by local error, each kept alone in float (re-quantized from the debugger''s calibrated model, no new calibration) and ranked by the model output error left; w8_a8_selective keeps the protected ones in float, w8_a8_mixed16 gives them int16.';
COMMENT ON COLUMN quant_sensitivity.variant_id IS 'Variant whose tensors are ranked (w8_a8).';
COMMENT ON COLUMN quant_sensitivity.rank IS '1 = keeping this tensor alone in float leaves the smallest output error.';
COMMENT ON COLUMN quant_sensitivity.tensor_name IS 'Tensor name (as in quant_layer_stats and the deny lists).';
COMMENT ON COLUMN quant_sensitivity.op_name IS 'TFLite op that produces the tensor.';
COMMENT ON COLUMN quant_sensitivity.layer_index IS 'quant_layer_stats.layer_index of the tensor.';
COMMENT ON COLUMN quant_sensitivity.range IS '255 * scale: the float range the int8 grid covers.';
COMMENT ON COLUMN quant_sensitivity.scale IS 'Quantization step of the tensor.';
COMMENT ON COLUMN quant_sensitivity.p99_over_scale IS 'p99 |f| / scale (see quant_layer_stats).';
COMMENT ON COLUMN quant_sensitivity.zero_share IS 'Share of non-zero float values that round to the zero point.';
COMMENT ON COLUMN quant_sensitivity.range_blowup IS 'Flagged as a range blow-up by the range check.';
COMMENT ON COLUMN quant_sensitivity.rmse_scale IS 'Local error of the tensor (RMS error / scale).';
COMMENT ON COLUMN quant_sensitivity.output_rmse_quant IS 'RMSE of the int8 model output against the float model (normalised power units, 1 = the appliance''s maximum power) on the sensitivity windows.';
COMMENT ON COLUMN quant_sensitivity.output_rmse_kept_float IS 'The same with only this tensor kept in float.';
COMMENT ON COLUMN quant_sensitivity.recovered_share IS '(output_rmse_quant - output_rmse_kept_float) / output_rmse_quant: the share of the output error keeping it float recovers (negative: it gets worse).';
COMMENT ON COLUMN quant_sensitivity.flip_share_quant IS 'Share of sensitivity windows whose on/off decision (output >= the appliance''s on threshold) the int8 model flips against the float model.';
COMMENT ON COLUMN quant_sensitivity.flip_share_kept_float IS 'The same with only this tensor kept in float.';
COMMENT ON COLUMN quant_sensitivity.protected IS 'Chosen for the protected set of w8_a8_selective (kept float) and w8_a8_mixed16 (int16).';
COMMENT ON COLUMN quant_sensitivity.island IS 'The nodes denylisted to keep the tensor in float: the tensor and the outputs of the ops that read it (denylisting only its producer re-quantizes it onto the same grid).';
COMMENT ON COLUMN quant_sensitivity.why IS 'Why it was or was not protected, in words.';

CREATE TABLE metrics (
    variant_id VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE,
    reason VARCHAR,
    ci_low DOUBLE,
    ci_high DOUBLE,
    n_windows BIGINT,
    PRIMARY KEY (variant_id, split, metric)
);
COMMENT ON TABLE metrics IS 'Accuracy metrics in long format: one row per variant, split and metric. Split test: estimates for the whole test span from the evaluation sample (see eval_windows); split test_trace: the article''s protocol on the contiguous trace stretch.';
COMMENT ON COLUMN metrics.variant_id IS 'Variant.';
COMMENT ON COLUMN metrics.split IS 'test (whole-span estimates from the evaluation sample), test@house<N> (the same estimates for test house N alone, when the test span holds several houses) or test_trace (the article''s protocol on the contiguous trace stretch).';
COMMENT ON COLUMN metrics.metric IS 'mae, sae, nde (plain), mae_masked, sae_masked, nde_masked (the article''s), epd_true_wh, epd_pred_wh, epd_error_pct (unbiased energy per day), epd_article_true_wh, epd_article_pred_wh, epd_article_error_pct (the article''s hourly-chunk rule, contiguous data only), acc, precision, recall, f1, mcc, tp, tn, fp, fn (weighted estimates of whole-span counts on split test).';
COMMENT ON COLUMN metrics.ci_low IS 'Lower end of the 95 % interval (stratified bootstrap over the evaluation sample); NULL without one.';
COMMENT ON COLUMN metrics.ci_high IS 'Upper end of the 95 % interval.';
COMMENT ON COLUMN metrics.n_windows IS 'Evaluation windows this value was computed on.';

CREATE TABLE metric_deltas (
    variant_id VARCHAR NOT NULL,
    reference_id VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    delta DOUBLE,
    ci_low DOUBLE,
    ci_high DOUBLE,
    n_windows BIGINT,
    distinguishable BOOLEAN,
    PRIMARY KEY (variant_id, split, metric)
);
COMMENT ON TABLE metric_deltas IS 'Paired difference of each quantized variant from its float Keras model, on the windows both saw, with a paired bootstrap interval.';
COMMENT ON COLUMN metric_deltas.variant_id IS 'Quantized (TFLite) variant.';
COMMENT ON COLUMN metric_deltas.reference_id IS 'Float Keras variant of the same model.';
COMMENT ON COLUMN metric_deltas.split IS 'Split (test).';
COMMENT ON COLUMN metric_deltas.metric IS 'Metric name (as in metrics).';
COMMENT ON COLUMN metric_deltas.delta IS 'variant value minus reference value.';
COMMENT ON COLUMN metric_deltas.ci_low IS 'Lower end of the paired 95 % interval of the difference.';
COMMENT ON COLUMN metric_deltas.ci_high IS 'Upper end of the paired 95 % interval.';
COMMENT ON COLUMN metric_deltas.n_windows IS 'Windows both variants were evaluated on.';
COMMENT ON COLUMN metric_deltas.distinguishable IS 'The interval excludes 0: the quantized variant differs from float beyond sampling noise.';

CREATE TABLE evaluations (
    variant_id VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    runtime VARCHAR NOT NULL,
    xnnpack BOOLEAN NOT NULL,
    file_sha256 VARCHAR,
    subset VARCHAR NOT NULL,
    n_windows BIGINT NOT NULL,
    seconds DOUBLE NOT NULL,
    on_windows BIGINT,
    PRIMARY KEY (variant_id, split)
);
COMMENT ON TABLE evaluations IS 'How each variant was evaluated: interpreter, delegate, the file it ran and which part of the sample it saw.';
COMMENT ON COLUMN evaluations.variant_id IS 'Variant.';
COMMENT ON COLUMN evaluations.split IS 'Split (test).';
COMMENT ON COLUMN evaluations.runtime IS 'keras, litert or tf_lite: chosen by a fixed rule (LiteRT with XNNPACK when XNNPACK takes the whole graph, else TensorFlow''s interpreter, whose builtin integer kernels are faster), never by timing.';
COMMENT ON COLUMN evaluations.xnnpack IS 'XNNPACK delegate on during evaluation.';
COMMENT ON COLUMN evaluations.file_sha256 IS 'sha256 of the evaluated file (compare with variants.sha256 and latency.file_sha256).';
COMMENT ON COLUMN evaluations.subset IS 'Nested part of the evaluation sample it saw, by cost per window: full (the whole sample), reference (the transformer''s Keras model), core (the transformer''s files), min (its 16x8 file); none for baselines. Two variants are compared on the smaller.';
COMMENT ON COLUMN evaluations.n_windows IS 'Windows evaluated.';
COMMENT ON COLUMN evaluations.seconds IS 'Wall time of the evaluation work.';
COMMENT ON COLUMN evaluations.on_windows IS 'Sampled windows of its level whose ground truth is on (threshold status): what its F1 rests on.';

CREATE TABLE paired_deltas (
    variant_id VARCHAR NOT NULL,
    other_id VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    delta DOUBLE,
    ci_low DOUBLE,
    ci_high DOUBLE,
    n_windows BIGINT,
    on_windows BIGINT,
    PRIMARY KEY (variant_id, other_id, split, metric)
);
COMMENT ON TABLE paired_deltas IS 'Paired difference between any two entries of an appliance (model variants and baselines), on the windows both saw (the smaller of their nested levels), with the same bootstrap resamples for both: what the recommendation compares.';
COMMENT ON COLUMN paired_deltas.variant_id IS 'Entry (variant or baseline).';
COMMENT ON COLUMN paired_deltas.other_id IS 'Entry it is compared with.';
COMMENT ON COLUMN paired_deltas.split IS 'Split (test).';
COMMENT ON COLUMN paired_deltas.metric IS 'f1, mae (W) or abs_epd_error_pct (absolute energy-per-day error, percentage points).';
COMMENT ON COLUMN paired_deltas.delta IS 'variant value minus other value.';
COMMENT ON COLUMN paired_deltas.ci_low IS 'Lower end of the paired 95 % interval; NULL without one.';
COMMENT ON COLUMN paired_deltas.ci_high IS 'Upper end of the paired 95 % interval.';
COMMENT ON COLUMN paired_deltas.n_windows IS 'Windows both were scored on.';
COMMENT ON COLUMN paired_deltas.on_windows IS 'Of those, windows whose ground truth is on.';
COMMENT ON COLUMN metrics.value IS 'Value; NULL when undefined.';
COMMENT ON COLUMN metrics.reason IS 'Why the value is NULL (e.g. no activations in ground truth).';

CREATE TABLE eval_windows (
    appliance VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    first_time TIMESTAMP,
    last_time TIMESTAMP,
    n_windows BIGINT NOT NULL,
    windows_hash VARCHAR NOT NULL,
    postprocess VARCHAR NOT NULL,
    protocol VARCHAR NOT NULL,
    population_windows BIGINT,
    core_windows BIGINT,
    strata JSON,
    sample_path VARCHAR,
    test_houses VARCHAR,
    trace_first_time TIMESTAMP,
    trace_last_time TIMESTAMP,
    seed BIGINT,
    PRIMARY KEY (appliance, split)
);
COMMENT ON TABLE eval_windows IS 'The windows every variant of an appliance was evaluated on, so numbers are comparable.';
COMMENT ON COLUMN eval_windows.appliance IS 'Appliance.';
COMMENT ON COLUMN eval_windows.split IS 'Split.';
COMMENT ON COLUMN eval_windows.first_time IS 'Timestamp of the first window midpoint.';
COMMENT ON COLUMN eval_windows.last_time IS 'Timestamp of the last window midpoint.';
COMMENT ON COLUMN eval_windows.n_windows IS 'Number of windows.';
COMMENT ON COLUMN eval_windows.windows_hash IS 'Hash of the window start indices.';
COMMENT ON COLUMN eval_windows.postprocess IS 'Prediction post-processing: clip_negative (<=0 -> 0) or article_threshold (< on threshold -> 0).';
COMMENT ON COLUMN eval_windows.protocol IS 'stratified (a random sample across the whole test span, strata by ground-truth status, weighted) or first (the first N windows in time order, the article''s protocol).';
COMMENT ON COLUMN eval_windows.population_windows IS 'Complete windows in the test span: what the weighted estimates stand for.';
COMMENT ON COLUMN eval_windows.core_windows IS 'Size of the stratified sub-sample that slow variants are evaluated on.';
COMMENT ON COLUMN eval_windows.strata IS 'Per stratum: population size, sample size, core size and inclusion weight; levels: each nested level''s requested size; windows: what each level holds (raised so every stratum keeps its floor: 20 on windows, 2 of each other); as JSON.';
COMMENT ON COLUMN eval_windows.sample_path IS 'Parquet of the sampled windows (start index, midpoint time, stratum, weight, core flag), relative to the artifacts folder: anyone can recompute.';
COMMENT ON COLUMN eval_windows.test_houses IS 'House(s) of the test split.';
COMMENT ON COLUMN eval_windows.trace_first_time IS 'First midpoint of the contiguous stretch kept as traces (split test_trace).';
COMMENT ON COLUMN eval_windows.trace_last_time IS 'Last midpoint of that stretch.';
COMMENT ON COLUMN eval_windows.seed IS 'Seed of the sample.';

CREATE TABLE traces (
    variant_id VARCHAR PRIMARY KEY,
    appliance VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    file_sha256 VARCHAR
);
COMMENT ON TABLE traces IS 'Where each variant''s predicted trace lives: Parquet (columns time, aggregate_w, truth_w, pred_w, truth_on, pred_on) sorted by time.';
COMMENT ON COLUMN traces.variant_id IS 'Variant.';
COMMENT ON COLUMN traces.appliance IS 'Appliance.';
COMMENT ON COLUMN traces.split IS 'Split.';
COMMENT ON COLUMN traces.path IS 'Parquet file relative to the artifacts folder; read it with read_parquet().';
COMMENT ON COLUMN traces.rows IS 'Samples in the trace.';
COMMENT ON COLUMN traces.file_sha256 IS 'sha256 of the model file that produced the trace.';

CREATE TABLE hosts (
    host VARCHAR PRIMARY KEY,
    cpu_model VARCHAR,
    cores INTEGER,
    machine VARCHAR,
    runtime_versions JSON,
    source VARCHAR NOT NULL
);
COMMENT ON TABLE hosts IS 'Machines that produced latency, memory or op-profile numbers.';
COMMENT ON COLUMN hosts.host IS 'Host name (or the name given at ingest).';
COMMENT ON COLUMN hosts.cpu_model IS 'CPU model string.';
COMMENT ON COLUMN hosts.cores IS 'Logical cores.';
COMMENT ON COLUMN hosts.machine IS 'Machine architecture, e.g. x86_64 or aarch64.';
COMMENT ON COLUMN hosts.runtime_versions IS 'Runtime versions as JSON.';
COMMENT ON COLUMN hosts.source IS 'local (measured by pipeline profile), edge_kit or benchmark_model (ingested).';

CREATE TABLE latency (
    variant_id VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    runtime VARCHAR NOT NULL,
    threads INTEGER NOT NULL,
    xnnpack BOOLEAN NOT NULL,
    batch INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    mean_ms DOUBLE,
    median_ms DOUBLE,
    p90_ms DOUBLE,
    std_ms DOUBLE,
    min_ms DOUBLE,
    error VARCHAR,
    measured_at TIMESTAMP NOT NULL,
    file_sha256 VARCHAR,
    PRIMARY KEY (variant_id, host, runtime, threads, xnnpack, batch)
);
COMMENT ON TABLE latency IS 'Inference latency per variant, host, runtime, thread count and delegate; batch 1 is latency, larger batches give throughput.';
COMMENT ON COLUMN latency.variant_id IS 'Variant.';
COMMENT ON COLUMN latency.host IS 'Host (see hosts).';
COMMENT ON COLUMN latency.runtime IS 'litert, tf_lite, keras, benchmark_model or edge_kit.';
COMMENT ON COLUMN latency.threads IS 'Interpreter threads.';
COMMENT ON COLUMN latency.xnnpack IS 'XNNPACK delegate enabled.';
COMMENT ON COLUMN latency.batch IS 'Windows per invoke.';
COMMENT ON COLUMN latency.runs IS 'Timed invokes after warm-up.';
COMMENT ON COLUMN latency.mean_ms IS 'Mean ms per invoke.';
COMMENT ON COLUMN latency.median_ms IS 'Median ms per invoke.';
COMMENT ON COLUMN latency.p90_ms IS '90th percentile ms.';
COMMENT ON COLUMN latency.std_ms IS 'Standard deviation ms.';
COMMENT ON COLUMN latency.min_ms IS 'Fastest invoke ms.';
COMMENT ON COLUMN latency.error IS 'Why no number could be measured (e.g. the runtime refused the model).';
COMMENT ON COLUMN latency.measured_at IS 'UTC time of the measurement.';
COMMENT ON COLUMN latency.file_sha256 IS 'sha256 of the measured file (NULL for ingested numbers whose file is not known).';

CREATE TABLE throughput_runs (
    variant_id VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    runtime VARCHAR NOT NULL,
    interpreters INTEGER NOT NULL,
    windows_per_s DOUBLE NOT NULL,
    measured_at TIMESTAMP NOT NULL,
    PRIMARY KEY (variant_id, host, runtime, interpreters)
);
COMMENT ON TABLE throughput_runs IS 'Offline disaggregation throughput: windows per second with N single-threaded interpreters of the batch-1 model running side by side (the files are static batch 1, so parallel interpreters, not bigger batches, use the cores).';
COMMENT ON COLUMN throughput_runs.variant_id IS 'Variant.';
COMMENT ON COLUMN throughput_runs.host IS 'Host.';
COMMENT ON COLUMN throughput_runs.runtime IS 'Runtime.';
COMMENT ON COLUMN throughput_runs.interpreters IS 'Interpreters running concurrently, one thread each.';
COMMENT ON COLUMN throughput_runs.windows_per_s IS 'Windows disaggregated per second in total.';
COMMENT ON COLUMN throughput_runs.measured_at IS 'UTC time of the measurement.';

CREATE TABLE op_profile (
    variant_id VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    runtime VARCHAR NOT NULL,
    threads INTEGER NOT NULL,
    node_index INTEGER NOT NULL,
    node_name VARCHAR,
    op_type VARCHAR NOT NULL,
    latency_ms DOUBLE,
    share DOUBLE,
    xnnpack BOOLEAN,
    times_called INTEGER NOT NULL,
    source VARCHAR NOT NULL
);
COMMENT ON TABLE op_profile IS 'Per-node latency. Local numbers are isolated per-op latencies (each op cut into its own model and fed real intermediate values); ingested numbers come from the benchmark tool.';
COMMENT ON COLUMN op_profile.variant_id IS 'Variant.';
COMMENT ON COLUMN op_profile.host IS 'Host.';
COMMENT ON COLUMN op_profile.runtime IS 'Runtime.';
COMMENT ON COLUMN op_profile.threads IS 'Threads.';
COMMENT ON COLUMN op_profile.node_index IS 'Operator index in the graph.';
COMMENT ON COLUMN op_profile.node_name IS 'Name of the op''s first output tensor (or the tool''s node name).';
COMMENT ON COLUMN op_profile.op_type IS 'Op type; XNNPACK kernels keep the TFLite op type here, see xnnpack.';
COMMENT ON COLUMN op_profile.latency_ms IS 'Median ms of the op.';
COMMENT ON COLUMN op_profile.share IS 'latency_ms / sum over the variant''s ops.';
COMMENT ON COLUMN op_profile.xnnpack IS 'XNNPACK took the op (NULL when unknown).';
COMMENT ON COLUMN op_profile.times_called IS 'Invocations per inference.';
COMMENT ON COLUMN op_profile.source IS 'isolated_op (local) or benchmark_model / edge_kit (ingested).';

CREATE TABLE op_profile_totals (
    variant_id VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    runtime VARCHAR NOT NULL,
    threads INTEGER NOT NULL,
    sum_ops_ms DOUBLE,
    whole_model_ms DOUBLE,
    ratio DOUBLE,
    tolerance DOUBLE,
    PRIMARY KEY (variant_id, host, runtime, threads)
);
COMMENT ON TABLE op_profile_totals IS 'How faithful an op profile is: the sum of per-op times beside the whole-model time.';
COMMENT ON COLUMN op_profile_totals.variant_id IS 'Variant.';
COMMENT ON COLUMN op_profile_totals.host IS 'Host.';
COMMENT ON COLUMN op_profile_totals.runtime IS 'Runtime.';
COMMENT ON COLUMN op_profile_totals.threads IS 'Threads.';
COMMENT ON COLUMN op_profile_totals.sum_ops_ms IS 'Sum of per-op medians.';
COMMENT ON COLUMN op_profile_totals.whole_model_ms IS 'Median of whole-model invokes measured in the same process.';
COMMENT ON COLUMN op_profile_totals.ratio IS 'sum_ops_ms / whole_model_ms.';
COMMENT ON COLUMN op_profile_totals.tolerance IS 'The relative tolerance this machine allows for that ratio (recorded, not a guarantee).';

CREATE TABLE memory (
    variant_id VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    runtime VARCHAR NOT NULL,
    xnnpack BOOLEAN NOT NULL,
    phase VARCHAR NOT NULL,
    rss_mb DOUBLE,
    delta_mb DOUBLE,
    PRIMARY KEY (variant_id, host, runtime, xnnpack, phase)
);
COMMENT ON TABLE memory IS 'Resident memory by phase in a fresh child process importing only the runtime.';
COMMENT ON COLUMN memory.variant_id IS 'Variant.';
COMMENT ON COLUMN memory.host IS 'Host.';
COMMENT ON COLUMN memory.runtime IS 'Runtime.';
COMMENT ON COLUMN memory.xnnpack IS 'XNNPACK on (it keeps a repacked copy of float weights, roughly doubling them in RAM).';
COMMENT ON COLUMN memory.phase IS 'baseline (after import), create, allocate, first_invoke, steady, peak.';
COMMENT ON COLUMN memory.rss_mb IS 'VmRSS after the phase (VmHWM for peak), MiB.';
COMMENT ON COLUMN memory.delta_mb IS 'rss_mb minus the post-import baseline, MiB.';

CREATE TABLE reference_results (
    source VARCHAR NOT NULL,
    table_ref VARCHAR NOT NULL,
    appliance VARCHAR,
    arch VARCHAR,
    mode VARCHAR,
    host VARCHAR,
    metric VARCHAR NOT NULL,
    value DOUBLE,
    unit VARCHAR,
    conditions VARCHAR,
    note VARCHAR
);
COMMENT ON TABLE reference_results IS 'Numbers published with the article (goruck/nilm README), loaded from the data file the project ships, for comparison.';
COMMENT ON COLUMN reference_results.source IS 'Publication the number comes from.';
COMMENT ON COLUMN reference_results.table_ref IS 'Table of the publication (section of the reference notes).';
COMMENT ON COLUMN reference_results.appliance IS 'Appliance.';
COMMENT ON COLUMN reference_results.arch IS 'Architecture.';
COMMENT ON COLUMN reference_results.mode IS 'Quantization mode (keras for the float tables).';
COMMENT ON COLUMN reference_results.host IS 'x86, rpi4 or edgetpu for latencies; NULL for accuracy.';
COMMENT ON COLUMN reference_results.metric IS 'Metric name in the project''s vocabulary, or latency_ms, disk_mb, ram_mb.';
COMMENT ON COLUMN reference_results.value IS 'Published value.';
COMMENT ON COLUMN reference_results.unit IS 'Unit of the value.';
COMMENT ON COLUMN reference_results.conditions IS 'Conditions: data, protocol, threads.';
COMMENT ON COLUMN reference_results.note IS 'Known erratum of the published value (e.g. a row copied from another table); NULL when none. Values with a note are not plotted.';

CREATE VIEW metrics_wide AS
SELECT
    v.variant_id, v.appliance, v.arch, v.mode, v.kind, m.split,
    max(CASE WHEN m.metric = 'f1' THEN m.value END) AS f1,
    max(CASE WHEN m.metric = 'f1' THEN m.ci_low END) AS f1_lo,
    max(CASE WHEN m.metric = 'f1' THEN m.ci_high END) AS f1_hi,
    max(CASE WHEN m.metric = 'mcc' THEN m.value END) AS mcc,
    max(CASE WHEN m.metric = 'mcc' THEN m.ci_low END) AS mcc_lo,
    max(CASE WHEN m.metric = 'mcc' THEN m.ci_high END) AS mcc_hi,
    max(CASE WHEN m.metric = 'acc' THEN m.value END) AS acc,
    max(CASE WHEN m.metric = 'precision' THEN m.value END) AS precision,
    max(CASE WHEN m.metric = 'precision' THEN m.ci_low END) AS precision_lo,
    max(CASE WHEN m.metric = 'precision' THEN m.ci_high END) AS precision_hi,
    max(CASE WHEN m.metric = 'recall' THEN m.value END) AS recall,
    max(CASE WHEN m.metric = 'recall' THEN m.ci_low END) AS recall_lo,
    max(CASE WHEN m.metric = 'recall' THEN m.ci_high END) AS recall_hi,
    max(CASE WHEN m.metric = 'mae' THEN m.value END) AS mae,
    max(CASE WHEN m.metric = 'mae' THEN m.ci_low END) AS mae_lo,
    max(CASE WHEN m.metric = 'mae' THEN m.ci_high END) AS mae_hi,
    max(CASE WHEN m.metric = 'sae' THEN m.value END) AS sae,
    max(CASE WHEN m.metric = 'sae' THEN m.ci_low END) AS sae_lo,
    max(CASE WHEN m.metric = 'sae' THEN m.ci_high END) AS sae_hi,
    max(CASE WHEN m.metric = 'nde' THEN m.value END) AS nde,
    max(CASE WHEN m.metric = 'nde' THEN m.ci_low END) AS nde_lo,
    max(CASE WHEN m.metric = 'nde' THEN m.ci_high END) AS nde_hi,
    max(CASE WHEN m.metric = 'mae_masked' THEN m.value END) AS mae_masked,
    max(CASE WHEN m.metric = 'mae_masked' THEN m.ci_low END) AS mae_masked_lo,
    max(CASE WHEN m.metric = 'mae_masked' THEN m.ci_high END) AS mae_masked_hi,
    max(CASE WHEN m.metric = 'sae_masked' THEN m.value END) AS sae_masked,
    max(CASE WHEN m.metric = 'sae_masked' THEN m.ci_low END) AS sae_masked_lo,
    max(CASE WHEN m.metric = 'sae_masked' THEN m.ci_high END) AS sae_masked_hi,
    max(CASE WHEN m.metric = 'nde_masked' THEN m.value END) AS nde_masked,
    max(CASE WHEN m.metric = 'nde_masked' THEN m.ci_low END) AS nde_masked_lo,
    max(CASE WHEN m.metric = 'nde_masked' THEN m.ci_high END) AS nde_masked_hi,
    max(CASE WHEN m.metric = 'epd_error_pct' THEN m.value END) AS epd_error_pct,
    max(CASE WHEN m.metric = 'epd_error_pct' THEN m.ci_low END) AS epd_error_pct_lo,
    max(CASE WHEN m.metric = 'epd_error_pct' THEN m.ci_high END) AS epd_error_pct_hi,
    max(CASE WHEN m.metric = 'epd_article_error_pct' THEN m.value END) AS epd_article_error_pct,
    max(m.n_windows) AS n_windows
FROM variants v JOIN metrics m USING (variant_id)
GROUP BY ALL;
COMMENT ON VIEW metrics_wide IS 'One row per variant and split with the main metrics as columns; <metric>_lo and <metric>_hi bound its 95 % interval. mae/sae/nde are plain, *_masked the article''s definitions; MAE in W, SAE, NDE and F1 unitless, EpD error in %.';

CREATE VIEW memory_peak AS
SELECT variant_id, host, runtime, xnnpack, max(delta_mb) AS peak_delta_mb
FROM memory WHERE phase = 'peak' GROUP BY ALL;
COMMENT ON VIEW memory_peak IS 'Peak resident memory over the post-import baseline per variant, host, runtime and delegate.';

CREATE VIEW throughput AS
SELECT variant_id, host, runtime, 1 AS interpreters, threads AS threads_each,
       1000.0 * batch / median_ms AS windows_per_s
FROM latency WHERE error IS NULL AND median_ms > 0 AND xnnpack
UNION ALL
SELECT variant_id, host, runtime, interpreters, 1 AS threads_each, windows_per_s FROM throughput_runs;
COMMENT ON VIEW throughput IS 'Offline disaggregation throughput in windows per second: one interpreter (from batch-1 latency, per thread count) and several single-threaded interpreters side by side. best_throughput picks the best per variant and host.';

CREATE VIEW best_throughput AS
SELECT variant_id, host, runtime, arg_max(interpreters, windows_per_s) AS interpreters,
       arg_max(threads_each, windows_per_s) AS threads_each, max(windows_per_s) AS windows_per_s
FROM throughput GROUP BY ALL;
COMMENT ON VIEW best_throughput IS 'The best offline throughput of each variant on each host and runtime, with the setting that reached it.';

CREATE VIEW tradeoff AS
SELECT
    v.variant_id, v.appliance, v.arch, v.mode,
    l.host, l.runtime, l.threads,
    w.f1, w.f1_lo, w.f1_hi, w.mcc, w.mcc_lo, w.mcc_hi, w.acc,
    w.mae AS mae_w, w.mae_lo AS mae_lo_w, w.mae_hi AS mae_hi_w, w.sae, w.nde,
    w.mae_masked AS mae_masked_w, w.epd_error_pct, w.epd_error_pct_lo, w.epd_error_pct_hi,
    l.median_ms AS latency_ms, l.p90_ms AS latency_p90_ms,
    mp.peak_delta_mb AS ram_mb,
    v.file_bytes / 1e6 AS disk_mb,
    v.xnnpack_partitions, v.float_compute_ops,
    bt.windows_per_s AS throughput_wps,
    m.under_trained,
    w.n_windows, e.subset AS sample_level, e.on_windows
FROM variants v
JOIN latency l ON l.variant_id = v.variant_id AND l.batch = 1 AND l.xnnpack AND l.error IS NULL
LEFT JOIN metrics_wide w ON w.variant_id = v.variant_id AND w.split = 'test'
LEFT JOIN evaluations e ON e.variant_id = v.variant_id AND e.split = 'test'
LEFT JOIN memory_peak mp ON mp.variant_id = v.variant_id AND mp.host = l.host
    AND mp.runtime = l.runtime AND mp.xnnpack
LEFT JOIN best_throughput bt ON bt.variant_id = v.variant_id AND bt.host = l.host AND bt.runtime = l.runtime
LEFT JOIN models m ON m.model_id = v.model_id
WHERE v.status = 'ok' AND v.kind = 'model';
COMMENT ON VIEW tradeoff IS 'One row per variant x host x runtime x threads (batch 1, XNNPACK on): accuracy on the test split (with 95 % intervals) beside latency (ms), RAM (MB, peak over the post-import baseline) and disk (decimal MB, 1e6 bytes, as the article). The dashboard plots this.';

CREATE VIEW op_type_summary AS
SELECT variant_id, host, runtime, threads, op_type, xnnpack,
       count(*) AS nodes, sum(latency_ms) AS total_ms, sum(share) AS share,
       sum(times_called) AS times_called
FROM op_profile GROUP BY ALL;
COMMENT ON VIEW op_type_summary IS 'Per-op profile summarised by op type (the benchmark tool''s "summary by node type").';


-- Column comments of the views (so the SQL page and `DESCRIBE` explain them too).
COMMENT ON COLUMN best_throughput.variant_id IS 'Variant (appliance.arch.mode).';
COMMENT ON COLUMN best_throughput.host IS 'Host the number was measured on (see hosts).';
COMMENT ON COLUMN best_throughput.runtime IS 'litert, tf_lite, benchmark_model or edge_kit.';
COMMENT ON COLUMN best_throughput.interpreters IS 'Interpreters run side by side (offline throughput).';
COMMENT ON COLUMN best_throughput.threads_each IS 'Threads of each interpreter.';
COMMENT ON COLUMN best_throughput.windows_per_s IS 'Windows disaggregated per second.';
COMMENT ON COLUMN memory_peak.variant_id IS 'Variant (appliance.arch.mode).';
COMMENT ON COLUMN memory_peak.host IS 'Host the number was measured on (see hosts).';
COMMENT ON COLUMN memory_peak.runtime IS 'litert or tf_lite.';
COMMENT ON COLUMN memory_peak.xnnpack IS 'XNNPACK delegate enabled.';
COMMENT ON COLUMN memory_peak.peak_delta_mb IS 'Peak resident memory over the post-import baseline, MB (10^6 bytes).';
COMMENT ON COLUMN metrics_wide.variant_id IS 'Variant (appliance.arch.mode).';
COMMENT ON COLUMN metrics_wide.appliance IS 'Appliance.';
COMMENT ON COLUMN metrics_wide.arch IS 'cnn, transformer or baseline.';
COMMENT ON COLUMN metrics_wide.mode IS 'Quantization mode (or baseline name).';
COMMENT ON COLUMN metrics_wide.kind IS 'model or baseline.';
COMMENT ON COLUMN metrics_wide.split IS 'test (whole-span estimates from the evaluation sample) or test_trace (the article''s protocol on the contiguous trace stretch).';
COMMENT ON COLUMN metrics_wide.f1 IS 'F1 score, unitless.';
COMMENT ON COLUMN metrics_wide.f1_lo IS 'Lower end of the 95 % interval of f1.';
COMMENT ON COLUMN metrics_wide.f1_hi IS 'Upper end of the 95 % interval of f1.';
COMMENT ON COLUMN metrics_wide.mcc IS 'Matthews correlation coefficient, unitless.';
COMMENT ON COLUMN metrics_wide.mcc_lo IS 'Lower end of the 95 % interval of mcc.';
COMMENT ON COLUMN metrics_wide.mcc_hi IS 'Upper end of the 95 % interval of mcc.';
COMMENT ON COLUMN metrics_wide.acc IS 'Accuracy (TP + TN) / N, unitless.';
COMMENT ON COLUMN metrics_wide.precision IS 'Precision, unitless.';
COMMENT ON COLUMN metrics_wide.precision_lo IS 'Lower end of the 95 % interval of precision.';
COMMENT ON COLUMN metrics_wide.precision_hi IS 'Upper end of the 95 % interval of precision.';
COMMENT ON COLUMN metrics_wide.recall IS 'Recall, unitless.';
COMMENT ON COLUMN metrics_wide.recall_lo IS 'Lower end of the 95 % interval of recall.';
COMMENT ON COLUMN metrics_wide.recall_hi IS 'Upper end of the 95 % interval of recall.';
COMMENT ON COLUMN metrics_wide.mae IS 'Mean absolute error, plain powers, W.';
COMMENT ON COLUMN metrics_wide.mae_lo IS 'Lower end of the 95 % interval of mae.';
COMMENT ON COLUMN metrics_wide.mae_hi IS 'Upper end of the 95 % interval of mae.';
COMMENT ON COLUMN metrics_wide.sae IS 'Signal aggregate error, plain powers, unitless.';
COMMENT ON COLUMN metrics_wide.sae_lo IS 'Lower end of the 95 % interval of sae.';
COMMENT ON COLUMN metrics_wide.sae_hi IS 'Upper end of the 95 % interval of sae.';
COMMENT ON COLUMN metrics_wide.nde IS 'Normalised disaggregation error, plain powers, unitless.';
COMMENT ON COLUMN metrics_wide.nde_lo IS 'Lower end of the 95 % interval of nde.';
COMMENT ON COLUMN metrics_wide.nde_hi IS 'Upper end of the 95 % interval of nde.';
COMMENT ON COLUMN metrics_wide.mae_masked IS 'MAE of status-masked powers (the article''s code), W.';
COMMENT ON COLUMN metrics_wide.mae_masked_lo IS 'Lower end of the 95 % interval of mae_masked.';
COMMENT ON COLUMN metrics_wide.mae_masked_hi IS 'Upper end of the 95 % interval of mae_masked.';
COMMENT ON COLUMN metrics_wide.sae_masked IS 'SAE of status-masked powers (the article''s code), unitless.';
COMMENT ON COLUMN metrics_wide.sae_masked_lo IS 'Lower end of the 95 % interval of sae_masked.';
COMMENT ON COLUMN metrics_wide.sae_masked_hi IS 'Upper end of the 95 % interval of sae_masked.';
COMMENT ON COLUMN metrics_wide.nde_masked IS 'NDE of status-masked powers (the article''s code), unitless.';
COMMENT ON COLUMN metrics_wide.nde_masked_lo IS 'Lower end of the 95 % interval of nde_masked.';
COMMENT ON COLUMN metrics_wide.nde_masked_hi IS 'Upper end of the 95 % interval of nde_masked.';
COMMENT ON COLUMN metrics_wide.epd_error_pct IS 'Energy-per-day error (unbiased, mean power x 24 h), %.';
COMMENT ON COLUMN metrics_wide.epd_error_pct_lo IS 'Lower end of the 95 % interval of epd_error_pct.';
COMMENT ON COLUMN metrics_wide.epd_error_pct_hi IS 'Upper end of the 95 % interval of epd_error_pct.';
COMMENT ON COLUMN metrics_wide.epd_article_error_pct IS 'Energy-per-day error by the article''s hourly-chunk rule, % (split test_trace only).';
COMMENT ON COLUMN metrics_wide.n_windows IS 'Evaluation windows behind the values (the largest of the metrics shown).';
COMMENT ON COLUMN op_type_summary.variant_id IS 'Variant (appliance.arch.mode).';
COMMENT ON COLUMN op_type_summary.host IS 'Host the number was measured on (see hosts).';
COMMENT ON COLUMN op_type_summary.runtime IS 'litert, tf_lite, benchmark_model or edge_kit.';
COMMENT ON COLUMN op_type_summary.threads IS 'Interpreter threads.';
COMMENT ON COLUMN op_type_summary.op_type IS 'TFLite op type.';
COMMENT ON COLUMN op_type_summary.xnnpack IS 'XNNPACK delegate enabled.';
COMMENT ON COLUMN op_type_summary.nodes IS 'Graph nodes of this op type.';
COMMENT ON COLUMN op_type_summary.total_ms IS 'Summed isolated latency of these nodes, ms.';
COMMENT ON COLUMN op_type_summary.share IS 'Share of the summed per-op latency.';
COMMENT ON COLUMN op_type_summary.times_called IS 'Invocations of these nodes per inference.';
COMMENT ON COLUMN throughput.variant_id IS 'Variant (appliance.arch.mode).';
COMMENT ON COLUMN throughput.host IS 'Host the number was measured on (see hosts).';
COMMENT ON COLUMN throughput.runtime IS 'litert, tf_lite, benchmark_model or edge_kit.';
COMMENT ON COLUMN throughput.interpreters IS 'Interpreters run side by side (offline throughput).';
COMMENT ON COLUMN throughput.threads_each IS 'Threads of each interpreter.';
COMMENT ON COLUMN throughput.windows_per_s IS 'Windows disaggregated per second.';
COMMENT ON COLUMN tradeoff.variant_id IS 'Variant (appliance.arch.mode).';
COMMENT ON COLUMN tradeoff.appliance IS 'Appliance.';
COMMENT ON COLUMN tradeoff.arch IS 'cnn, transformer or baseline.';
COMMENT ON COLUMN tradeoff.mode IS 'Quantization mode (or baseline name).';
COMMENT ON COLUMN tradeoff.host IS 'Host the number was measured on (see hosts).';
COMMENT ON COLUMN tradeoff.runtime IS 'litert, tf_lite, benchmark_model or edge_kit.';
COMMENT ON COLUMN tradeoff.threads IS 'Interpreter threads.';
COMMENT ON COLUMN tradeoff.f1 IS 'F1 score, unitless.';
COMMENT ON COLUMN tradeoff.f1_lo IS 'Lower end of the 95 % interval of f1.';
COMMENT ON COLUMN tradeoff.f1_hi IS 'Upper end of the 95 % interval of f1.';
COMMENT ON COLUMN tradeoff.mcc IS 'Matthews correlation coefficient, unitless.';
COMMENT ON COLUMN tradeoff.mcc_lo IS 'Lower end of the 95 % interval of mcc.';
COMMENT ON COLUMN tradeoff.mcc_hi IS 'Upper end of the 95 % interval of mcc.';
COMMENT ON COLUMN tradeoff.acc IS 'Accuracy (TP + TN) / N, unitless.';
COMMENT ON COLUMN tradeoff.mae_w IS 'Mean absolute error, plain powers, W.';
COMMENT ON COLUMN tradeoff.mae_lo_w IS 'Lower end of the MAE 95 % interval, W.';
COMMENT ON COLUMN tradeoff.mae_hi_w IS 'Upper end of the MAE 95 % interval, W.';
COMMENT ON COLUMN tradeoff.sae IS 'Signal aggregate error, plain powers, unitless.';
COMMENT ON COLUMN tradeoff.nde IS 'Normalised disaggregation error, plain powers, unitless.';
COMMENT ON COLUMN tradeoff.mae_masked_w IS 'MAE of status-masked powers (the article''s code), W.';
COMMENT ON COLUMN tradeoff.epd_error_pct IS 'Energy-per-day error (unbiased, mean power x 24 h), %.';
COMMENT ON COLUMN tradeoff.epd_error_pct_lo IS 'Lower end of the 95 % interval of epd_error_pct.';
COMMENT ON COLUMN tradeoff.epd_error_pct_hi IS 'Upper end of the 95 % interval of epd_error_pct.';
COMMENT ON COLUMN tradeoff.latency_ms IS 'Median batch-1 latency, ms.';
COMMENT ON COLUMN tradeoff.n_windows IS 'Sampled windows its accuracy was estimated on.';
COMMENT ON COLUMN tradeoff.sample_level IS 'Nested sample level it was scored on (full, reference, core, min).';
COMMENT ON COLUMN tradeoff.on_windows IS 'Of its sampled windows, those whose ground truth is on.';
COMMENT ON COLUMN tradeoff.latency_p90_ms IS '90th-percentile batch-1 latency, ms.';
COMMENT ON COLUMN tradeoff.ram_mb IS 'Peak resident memory over the post-import baseline, MB (10^6 bytes).';
COMMENT ON COLUMN tradeoff.disk_mb IS 'File size, MB (10^6 bytes, as the article).';
COMMENT ON COLUMN tradeoff.xnnpack_partitions IS 'DELEGATE nodes after allocation in LiteRT with XNNPACK (1 = whole graph in one partition).';
COMMENT ON COLUMN tradeoff.float_compute_ops IS 'Ops computing in float (non-zero in an int8 file means float islands).';
COMMENT ON COLUMN tradeoff.throughput_wps IS 'Best offline throughput on this host and runtime, windows/s.';
COMMENT ON COLUMN tradeoff.under_trained IS 'The model is flagged under-trained (never recommended).';

INSERT INTO meta VALUES ('schema_version', '4');
