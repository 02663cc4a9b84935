"""Studies: functions returning records; the CLI and notebooks call them (being written)."""

__all__: list[str] = []
