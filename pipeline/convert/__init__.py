"""pipeline/convert/"""
