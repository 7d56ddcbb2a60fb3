"""The capture station's hardware drivers: video sources (``video``) and pedals (``pedal``)."""
