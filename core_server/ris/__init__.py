"""The RIS domain: patients, visits, orders, procedures, exams, appointments, worklist, MPPS."""
