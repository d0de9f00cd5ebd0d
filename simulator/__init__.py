"""dorlab.simulator"""
