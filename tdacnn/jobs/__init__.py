"""tdacnn.jobs"""
