"""pipeline/train/"""
