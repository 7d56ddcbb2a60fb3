"""The index at scale (issue 16): a PostgreSQL index of millions of instances filled directly
(COPY), the common C-FIND / QIDO-RS / study list / MWL queries timed through a running core,
their plans, and the C-STORE rate as the index grows. See ``docs/index-scale.md``."""
