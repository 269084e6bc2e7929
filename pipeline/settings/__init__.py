"""pipeline/settings/"""
