"""pipeline/exchange/"""
