"""dorlab.calibration"""
