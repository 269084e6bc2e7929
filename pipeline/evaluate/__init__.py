"""pipeline/evaluate/"""
