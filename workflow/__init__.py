"""The coordination rules: use cases as plain functions that receive their collaborators."""
