"""tdacnn.data"""
