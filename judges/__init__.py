"""Judges: turn (question, response) pairs into harmful / safe / invalid verdicts."""
