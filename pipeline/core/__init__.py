"""pipeline/core/"""
