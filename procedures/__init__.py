"""dorlab.procedures"""
