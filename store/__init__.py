"""The results store: schema, vocabulary and the rules for opening it.

Imports neither TensorFlow nor the pipeline nor the dashboard.
"""
