"""Image and report quality control (质控): grades with reasons, sending an exam back for a
retake, and what the quality pages count."""
