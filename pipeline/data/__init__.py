"""pipeline/data/"""
