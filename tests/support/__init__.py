"""Helpers the test modules share; a test module imports from here, never from another test
module (tests/test_house.py checks it). Shared fixtures live in tests/conftest.py."""
