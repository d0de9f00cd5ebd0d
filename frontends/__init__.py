"""dorlab.frontends"""
