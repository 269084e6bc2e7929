"""The ids the store's rows carry, built and parsed here and nowhere else.

    model_id    <appliance>.<arch>           kettle.cnn; a baseline's: kettle.baseline
    variant_id  <model_id>.<mode>            kettle.cnn.w8_a8, kettle.cnn.keras (the float model),
                                             kettle.baseline.always_off
    dataset_id  <appliance>.<split>          kettle.train
    split       test, test_trace, test@house<N> (one test house's own estimates)

An appliance, an architecture and a mode never hold a dot, so an id splits back on its dots.
SQL that joins on ids gets its expressions from here too (``float_variant_sql``,
``HOUSE_SPLIT_LIKE``).
"""

from __future__ import annotations

from store.vocab import BASELINE_ARCH, Mode, Split

SEP = "."
_HOUSE_PREFIX = f"{Split.TEST.value}@house"
# SQL LIKE pattern of every per-house split
HOUSE_SPLIT_LIKE = _HOUSE_PREFIX + "%"


def _join(*parts) -> str:
    return SEP.join(str(getattr(p, "value", p)) for p in parts)


def model_id(appliance, arch) -> str:
    """``kettle.cnn``: one trained model (appliance and architecture, enum or text)."""
    return _join(appliance, arch)


def baseline_model_id(appliance) -> str:
    """``kettle.baseline``: the model id every baseline of an appliance shares."""
    return _join(appliance, BASELINE_ARCH)


def variant_id(model: str, mode) -> str:
    """``kettle.cnn.w8_a8``: one file (or the Keras model) of a model, or a baseline."""
    return _join(model, mode)


def float_variant_id(model: str) -> str:
    """The variant of a model that is its Keras float model: ``kettle.cnn.keras``."""
    return variant_id(model, Mode.KERAS)


def dataset_id(appliance, split) -> str:
    """``kettle.train``: one split of one appliance's data."""
    return _join(appliance, split)


def model_of(vid: str) -> str:
    """The model id of a variant id."""
    return vid.rsplit(SEP, 1)[0]


def mode_of(vid: str) -> str:
    """The mode of a variant id (a baseline's name for a baseline); '' for no text."""
    return vid.rsplit(SEP, 1)[-1] if isinstance(vid, str) else ""


def appliance_of(any_id: str) -> str:
    """The appliance of a model, variant or dataset id."""
    return any_id.split(SEP)[0]


def arch_of(vid: str) -> str | None:
    """The architecture of a variant id ('baseline' for a baseline); None when it has none."""
    parts = vid.split(SEP) if isinstance(vid, str) else []
    return parts[1] if len(parts) >= 3 else None


def is_baseline(vid: str) -> bool:
    return arch_of(vid) == BASELINE_ARCH


def float_references(vid: str) -> tuple[str | None, str | None]:
    """A model variant's float references: its Keras model and its float32 TFLite file
    (convert_only); (None, None) for a baseline or an id that is not a variant's."""
    if arch_of(vid) in (None, BASELINE_ARCH):
        return None, None
    model = model_of(vid)
    return float_variant_id(model), variant_id(model, Mode.CONVERT_ONLY)


def house_split(house: int) -> str:
    """The split of one test house's own estimates: ``test@house<N>``."""
    return f"{_HOUSE_PREFIX}{int(house)}"


def house_of_split(split: str) -> str | None:
    """The house of a per-house split (as its text), None for any other split."""
    return split.removeprefix(_HOUSE_PREFIX) if split.startswith(_HOUSE_PREFIX) else None


def float_variant_sql(model_column: str) -> str:
    """SQL of the float model's variant id of a model-id column: ``v.model_id || '.keras'``."""
    return f"{model_column} || '{SEP}{Mode.KERAS.value}'"


def profile_item(model: str, host: str) -> str:
    """The profile stage's cache item of one model's measurements on one host."""
    return f"{model}@{host}"


def evaluate_item(appliance, archs) -> str:
    """The evaluate stage's cache item: an appliance and the architectures evaluated with it."""
    return _join(appliance) + ":" + ",".join(_join(a) for a in archs)
