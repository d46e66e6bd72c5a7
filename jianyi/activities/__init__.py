"""Activities: all I/O of a suggestion's workflow (records, calendar, notifications)."""
