"""The web shell's pages: sign-in, password change, start page, study list, administration."""
