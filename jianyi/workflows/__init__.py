"""Workflows: one SuggestionWorkflow per suggestion (digest workflows come with the scheduler)."""
