"""The reporting domain: reports, versions, sign-off, templates, critical values, follow-up."""
