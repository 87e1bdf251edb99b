"""tdacnn.nets"""
