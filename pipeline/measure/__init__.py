"""pipeline/measure/"""
