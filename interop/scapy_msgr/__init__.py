"""Messenger Scapy layers, field conversion, strict validator and bearer helpers."""
from .layers import *  # noqa: F401,F403
from .fields import to_fields, from_fields, dissect  # noqa: F401
from .validate import validate, validate_caphdr, check_name, check_pattern, pattern_match  # noqa: F401
from . import serial  # noqa: F401
