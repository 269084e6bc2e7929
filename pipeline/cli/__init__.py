"""pipeline/cli/"""
