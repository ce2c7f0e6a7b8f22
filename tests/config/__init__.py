"""Tests of the host description layer: sysctls, profiles, config, app model, inference."""
