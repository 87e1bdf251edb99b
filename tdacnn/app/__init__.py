"""tdacnn.app"""
