"""tdacnn.training"""
