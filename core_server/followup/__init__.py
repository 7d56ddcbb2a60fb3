"""Follow-up and pathology tracking (随访): exams marked for follow-up, the clinical and
pathology outcome, and whether imaging and pathology agree."""
