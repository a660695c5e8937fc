"""bcb2b_async"""
