"""Risk and safety support: severity scale, image parts and the Azure AI Content Safety client.

Nothing heavy is imported here: :mod:`evalcli.config` imports :mod:`evalcli.safety.severity`
to validate thresholds written as severity labels.
"""
