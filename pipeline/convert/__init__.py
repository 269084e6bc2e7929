"""The conversion stage (stage.py: `pipeline convert`): every model to TFLite in every
quantization mode, with inspection. The mode records (modes.py), the converters (converters.py),
one model's variants (variants.py), quantization-aware fine-tuning (qat.py), the quantization
debugger (quant_debug.py) and end-to-end sensitivity (quant_sensitivity.py).

Imports: train, data, core, settings, errors, store.
"""
