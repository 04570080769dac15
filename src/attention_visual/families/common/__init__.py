"""What several families' folders share: checkpoint rules (no torch) and runtime parts (torch).

A family never imports another (an import-linter contract); what two of them do alike lives here, a layer
below the families and above :mod:`~attention_visual.families.interface`; families are named here only as
examples of who uses a part.
"""
