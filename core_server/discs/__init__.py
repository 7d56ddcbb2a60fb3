"""Disc jobs (刻录): what a patient or the desk asks to be burned, its steps as the kiosk reports
them, who may have which exam released, and the cloud-film link on the disc's label."""
