"""dorlab.compute"""
