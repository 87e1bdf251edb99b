"""tdacnn.view"""
