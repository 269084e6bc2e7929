"""Budgets a user sets: presets, a TOML file and --set overrides, validated and recorded."""

import pytest

from pipeline.errors import ConfigError
from pipeline.settings.overrides import CONFIG_KEYS, resolve_config
from pipeline.settings.presets import profile_config
from store.vocab import Arch, Mode


def test_presets_are_the_same_config_with_other_values():
    smoke, demo = profile_config("smoke"), profile_config("demo")
    assert type(smoke) is type(demo) and smoke.batch != demo.batch
    assert profile_config("refit").eval_protocol == "first"  # the article's protocol
    assert profile_config("refit").schedule == "constant"  # and its schedule


def test_set_overrides_one_or_both_architectures_with_typed_values():
    cfg = resolve_config(
        "demo",
        None,
        [
            "train.epochs=7",
            "train.epochs.transformer=2",
            "train.seconds.cnn=12.5",
            "profile.threads=[1, 2]",
            'evaluate.protocol="first"',
            "profile.op_profile_modes=['w8_a8']",
            "train.windows=none",
            "train.patience.transformer=0",
            "train.hard_fraction.cnn=0.25",
            'train.keep.cnn="last"',
            "train.qat_steps=0",
            "train.qat_steps.transformer=12",
        ],
    )
    assert cfg.keep_epoch == {Arch.CNN: "last", Arch.TRANSFORMER: "last"}
    assert cfg.qat_steps == {Arch.CNN: 0, Arch.TRANSFORMER: 12}
    assert cfg.patience == {Arch.CNN: 4, Arch.TRANSFORMER: 0}
    assert cfg.hard_fraction[Arch.CNN] == 0.25
    assert cfg.epochs == {Arch.CNN: 7, Arch.TRANSFORMER: 2}
    assert cfg.train_seconds[Arch.CNN] == 12.5
    assert cfg.threads == (1, 2) and cfg.eval_protocol == "first"
    assert cfg.op_profile_modes == (Mode.W8_A8,)
    assert cfg.train_windows == {Arch.CNN: None, Arch.TRANSFORMER: None}


def test_toml_file_then_command_line(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('profile = "smoke"\n[train]\nbatch = 32\nepochs = 3\n[evaluate]\nwindows = 999\n')
    cfg = resolve_config("demo", f, ["train.batch=16"])
    assert cfg.name.value == "smoke" and cfg.eval_windows == 999
    assert cfg.batch == {Arch.CNN: 16, Arch.TRANSFORMER: 16}
    assert cfg.epochs[Arch.CNN] == 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epoch=3", "unknown setting 'train.epoch'"),
        ("train.batch=big", "train.batch: expected a non-negative integer"),
        ("train.batch=true", "train.batch: expected a non-negative integer"),
        ("evaluate.protocol=random", "evaluate.protocol: expected one of stratified"),
        ("profile.runtimes=['gpu']", "profile.runtimes: expected a list of litert"),
        ("train.on_fraction=2", "train.on_fraction: expected a number between 0 and 1"),
        ("train.epochs.rnn=3", "unknown setting 'train.epochs.rnn'"),
        ("novalue", "--set expects KEY=VALUE"),
        ("train.batch=0", "train.batch: expected a positive integer"),
        ("convert.workers=0", "convert.workers: expected a positive integer"),
        ("evaluate.min_windows=500", "must not exceed evaluate.core_windows"),
        ("evaluate.windows=100", "must not exceed evaluate.windows"),
        ("evaluate.reference_windows=300", "must not be below evaluate.core_windows"),
        ("train.hard_fraction.transformer=0.8", "are shares of one mix: together at most 1"),
        ("train.hard_fraction=-1", "train.hard_fraction: expected a non-negative number"),
        ("train.keep.transformer=first", "train.keep.transformer: expected one of best, last"),
        ("train.qat_steps=-3", "train.qat_steps: expected a non-negative integer"),
    ],
)
def test_bad_overrides_are_refused_with_what_was_expected(override, message):
    with pytest.raises(ConfigError) as exc:
        resolve_config("demo", None, [override])
    assert message in str(exc.value)


def test_unknown_key_lists_every_valid_key():
    with pytest.raises(ConfigError) as exc:
        resolve_config("demo", None, ["nope=1"])
    for key in CONFIG_KEYS:
        assert key in str(exc.value)


def test_bad_config_file_names_the_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[train\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        resolve_config("demo", f, [])
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        resolve_config("demo", tmp_path / "missing.toml", [])


def test_an_appliance_has_its_own_training_settings(tmp_path):
    """`appliance.<name>.<training key>` (TOML table or --set) changes that appliance's values
    only; every other appliance keeps the run's."""
    toml = tmp_path / "real.toml"
    toml.write_text(
        "[train]\noff_weight = 1.0\n"
        "[appliance.kettle.train]\noff_weight = 30\non_fraction = 0.03\n"
        "[appliance.kettle.train.epochs]\ncnn = 40\n"
    )
    cfg = resolve_config("demo", toml, ["appliance.microwave.train.off_weight=20"])
    assert cfg.off_weight == 1.0 and cfg.on_fraction == 0.3  # the run's values stay
    kettle = cfg.for_appliance("kettle")
    assert (kettle.off_weight, kettle.on_fraction) == (30.0, 0.03)
    assert kettle.epochs == {Arch.CNN: 40, Arch.TRANSFORMER: 15}
    assert kettle.per_appliance == ()
    assert cfg.for_appliance("microwave").off_weight == 20.0
    fridge = cfg.for_appliance("fridge")
    assert (fridge.off_weight, fridge.on_fraction, fridge.epochs) == (1.0, 0.3, cfg.epochs)
    # --set after the file wins, as for the run's own settings
    later = resolve_config("demo", toml, ["appliance.kettle.train.off_weight=5"])
    assert later.for_appliance("kettle").off_weight == 5.0
    # values are typed when read (runs.config records what is used), "none" included
    typed = resolve_config("demo", None, ["appliance.kettle.train.hard_fraction.transformer=none"])
    assert typed.per_appliance == (("kettle", "train.hard_fraction.transformer", None),)
    assert typed.for_appliance("kettle").hard_fraction[Arch.TRANSFORMER] is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("appliance.toaster.train.off_weight=1", "unknown appliance 'toaster'"),
        ("appliance.kettle.evaluate.windows=50", "only settings training reads can differ"),
        ("appliance.kettle.seed=3", "only settings training reads can differ"),
        ("appliance.kettle.train.off_weight=-1", "appliance.kettle.train.off_weight: expected"),
        ("appliance.kettle.train.off_weight.cnn=1", "unknown setting 'train.off_weight.cnn'"),
        ("appliance.kettle.train.on_fraction=0.8", "^appliance.kettle: .*together at most 1"),
        ("appliance.kettle.train.qat_steps=3", "only settings training reads can differ"),
    ],
)
def test_bad_appliance_settings_are_refused_by_name(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("demo", None, [override])
