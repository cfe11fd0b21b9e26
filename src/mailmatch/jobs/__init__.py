"""Running due imports without a person: the schedule lives in the database."""
