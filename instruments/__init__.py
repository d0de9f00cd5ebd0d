"""dorlab.instruments"""
