"""tdacnn.topology"""
